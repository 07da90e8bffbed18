"""The configuration, by job: ``errors`` (ConfigError; ``build``, instantiate with one-line errors), ``checks``
(cross-key ``validate``, moved keys), ``resolvers`` (``${ganlab.*:}``), ``compose`` (the config tree; composing
it as ganlab-train does). This face hands their public names on; building the run is ``ganlab.assembly``.
"""

from ganlab.config.checks import RENAMED, check_overrides, validate
from ganlab.config.compose import CONFIG_DIR, compose
from ganlab.config.errors import ConfigError, build
from ganlab.config.resolvers import every, register_resolvers, task_overrides

__all__ = ["CONFIG_DIR", "RENAMED", "ConfigError", "build", "check_overrides", "compose", "every",
           "register_resolvers", "task_overrides", "validate"]
