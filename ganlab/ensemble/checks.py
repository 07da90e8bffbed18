"""What a seed ensemble can express: on the first member as built (its seeds, ``member_seeds``, are checked with
the config), the components' ``batches_members`` capability and the settings not batched yet.

Every refusal is one line naming the key and what is valid with ``ensemble.size > 1``.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from ganlab.config import ConfigError

# Capability of a component class (or game instance): ``batches_members = True`` says that on a member-major batch
# of K members (every member's rows stacked along the batch dimension) it gives each member exactly what its
# separate run gets: networks that ganlab.ensemble.nets.Stacked runs member by member (MLP G and D), losses and
# penalties that are means of per-sample terms drawing no random numbers (K times the value is the members'
# sum, so each member's weights get their own gradient), and schedules without a look-ahead. A user's own
# component declares it the same way. torch's optimizers cannot carry the attribute: the elementwise ones
# (one state per weight entry, so one optimizer over stacked weights [K, ...] keeps the members apart) are
# listed here; an optimizer class of the user's may set ``batches_members = True`` too.
CAPABILITY = "batches_members"
ELEMENTWISE_OPTIMIZERS = ("Adam", "AdamW", "RMSprop", "SGD")  # of torch.optim
WHY = "with ensemble.size > 1"


def _select(cfg: DictConfig, key: str, default: Any = None) -> Any:
    return OmegaConf.select(cfg, key, default=default)


def _batches_members(obj: Any) -> bool:
    return bool(getattr(obj, CAPABILITY, False))


def _examples(base: type) -> str:
    """Names of the loaded subclasses of ``base`` that declare the capability (for the error's "valid:")."""
    found, todo = [], list(base.__subclasses__())
    while todo:
        cls = todo.pop(0)
        todo.extend(cls.__subclasses__())
        if _batches_members(cls) and cls.__name__ not in found:
            found.append(cls.__name__)
    return ", ".join(sorted(found))


def _name(obj: Any) -> str:
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def check_members(cfg: DictConfig, member: Any) -> None:
    """Raise ``ConfigError`` (one line naming the key) for anything K batched members of ``cfg`` cannot train.

    ``member``: the first member's module, as its separate run builds it; its components are asked for the
    ``batches_members`` capability, the config for the settings a batched ensemble does not express yet.
    """
    if _select(cfg, "pack", default=1) != 1:  # the D wrappers first: they are what D is then
        raise ConfigError(f"pack={_select(cfg, 'pack')} {WHY}; valid: pack=1")
    if _select(cfg, "minibatch"):
        raise ConfigError(f"minibatch={_select(cfg, 'minibatch._target_')} {WHY}; valid: minibatch=null")
    for who in ("generator", "discriminator"):
        net = getattr(member, who)
        if not _batches_members(net):
            raise ConfigError(f"{who}={_select(cfg, f'{who}._target_')} {WHY}; valid: a network class with "
                              f"{CAPABILITY} = True ({who}=mlp); other families are not batched over members yet")
    flags = [("generator.batchnorm", False), ("generator.spectral_norm", False), ("discriminator.spectral_norm", False),
             ("generator.num_classes", 0), ("discriminator.num_classes", 0), ("datamodule.holdout", 0),
             ("trainer.devices", 1), ("trainer.num_nodes", 1), ("freeze.d_blocks", 0), ("init_from", None),
             ("optim.accumulate", 1)]
    hints = {"generator.num_classes": "conditional=null", "discriminator.num_classes": "conditional=null",
             "trainer.devices": "trainer.devices=1 (no DDP)"}
    for key, valid in flags:
        value = _select(cfg, key, default=valid)
        if value != valid:
            raise ConfigError(f"{key}={value} {WHY}; valid: {hints.get(key, f'{key}={valid}')}")
    if _select(cfg, "health"):
        raise ConfigError(f"health: the health monitor does not watch ensemble members {WHY}; valid: health=none")
    for key in ("augment", "g_terms", "schedules"):
        if _select(cfg, key):
            raise ConfigError(f"{key}={{{', '.join(_select(cfg, key))}}} {WHY}; valid: {key}={{}} (not per member yet)")
    if _select(cfg, "ema.half_life_images") is not None:
        raise ConfigError(f"ema.half_life_images {WHY}; valid: ema.decay (the same average, given per step)")
    from ganlab.losses.adversarial import AdversarialLoss
    from ganlab.losses.regularizers import Regularizer

    if not _batches_members(member.loss):
        raise ConfigError(f"loss={_name(member.loss)} {WHY}; valid: a loss with {CAPABILITY} = True, a mean of "
                          f"per-sample terms ({_examples(AdversarialLoss)})")
    for name, reg in member.regularizers.items():
        if not _batches_members(reg):
            raise ConfigError(f"regularizers.{name}={type(reg).__name__} {WHY}; valid: regularizers with "
                              f"{CAPABILITY} = True ({_examples(Regularizer)})")
    import torch

    elementwise = {getattr(torch.optim, name) for name in ELEMENTWISE_OPTIMIZERS}
    for who, factory in (("g", member.g_optimizer), ("d", member.d_optimizer)):
        cls = getattr(factory, "func", factory)  # a partial of the optimizer class
        if cls not in elementwise and not _batches_members(cls):
            raise ConfigError(f"optim.{who}._target_={_select(cfg, f'optim.{who}._target_')} {WHY}; valid: "
                              f"{', '.join(f'torch.optim.{n}' for n in ELEMENTWISE_OPTIMIZERS)} (elementwise), or "
                              f"an optimizer class with {CAPABILITY} = True")
    if not _batches_members(member.game):
        unroll = " with unroll" if getattr(member.game, "unroll", None) is not None else ""
        raise ConfigError(f"game={_name(member.game)}{unroll} {WHY}; valid: a game with {CAPABILITY} = True "
                          f"(game=alternating or game=simultaneous without unroll)")
