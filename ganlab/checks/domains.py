"""What each config value may be: one ``Domain`` per key (glob patterns), checked before any work starts.

A domain is the documentation of a key's valid values and the check of them in one place: the error
names the key and says what is valid (``seed=abc; valid: an integer in [0, 4294967295]``), and the config
fuzz (``ganlab.checks.fuzz``) takes its "past the documented range" values from it. Written as a table
because these are facts about the configuration (Hydra has no schema for ``_target_`` nodes), checked
before torch is imported; the components keep their own checks of what only they know.
"""

from __future__ import annotations

import fnmatch
import functools
import math
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MISSING = "???"


@dataclass(frozen=True)
class Domain:
    """The valid values of one key.

    Args:
        kind: what the fuzz varies: int, number, bool, text, choice, path, list.
        valid: what is valid, as the error message says it.
        test: value -> True when valid.
        past: values just past the documented range (for the fuzz).
    """

    kind: str
    valid: str
    test: Callable[[Any], bool] = field(repr=False)
    past: tuple = ()

    def ok(self, value: Any) -> bool:
        return bool(self.test(value))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


def _or_null(text: str, null: bool | str) -> str:
    if not null:
        return text
    return f"{text}, or null" + (f" ({null})" if isinstance(null, str) else "")


def integer(lo: int | None = None, hi: int | None = None, *, null: bool | str = False, also: Sequence[Any] = (),
            note: str = "") -> Domain:
    """An integer in [lo, hi] (either bound open-ended when None)."""
    if lo is not None and hi is not None:
        text = f"an integer in [{lo}, {hi}]"
    elif lo is not None:
        text = f"an integer >= {lo}"
    else:
        text = "an integer" if hi is None else f"an integer <= {hi}"
    text += "".join(f", or {a}" for a in also) + (f" ({note})" if note else "")

    def test(v: Any) -> bool:
        if v is None:
            return bool(null)
        if any(v == a and type(v) is type(a) for a in also):
            return True
        return _is_int(v) and (lo is None or v >= lo) and (hi is None or v <= hi)

    return Domain("int", _or_null(text, null), test, (hi + 1,) if hi is not None else ())


def number(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False,
           null: bool | str = False, note: str = "") -> Domain:
    """A finite number in [lo, hi] (``lo_open`` / ``hi_open``: the bound itself excluded)."""
    if lo is not None and hi is not None:
        text = f"a number in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    elif lo is not None:
        text = f"a number {'>' if lo_open else '>='} {lo:g}"
    elif hi is not None:
        text = f"a number {'<' if hi_open else '<='} {hi:g}"
    else:
        text = "a number"
    text += f" ({note})" if note else ""

    def test(v: Any) -> bool:
        if v is None:
            return bool(null)
        if not _is_num(v):
            return False
        above = lo is None or (v > lo if lo_open else v >= lo)
        below = hi is None or (v < hi if hi_open else v <= hi)
        return above and below

    return Domain("number", _or_null(text, null), test, (hi + 1,) if hi is not None else ())


def flag(*, null: bool | str = False, also: Sequence[Any] = ()) -> Domain:
    """true or false."""
    text = "true or false" + "".join(f" or {a}" for a in also)

    def test(v: Any) -> bool:
        return (v is None and bool(null)) or isinstance(v, bool) or any(v == a and type(v) is type(a) for a in also)

    return Domain("bool", _or_null(text, null), test)


def choice(*options: Any, null: bool | str = False) -> Domain:
    """One of ``options``."""
    about = str(options[0]) if len(options) == 1 else f"one of {', '.join(map(str, options))}"
    return Domain("choice", _or_null(about, null),
                  lambda v: (v is None and bool(null)) or (isinstance(v, (str, int)) and v in options),
                  ("not_an_option",))


def text(*, null: bool | str = False, empty: bool = False, note: str = "") -> Domain:
    """A string (non-empty unless ``empty``)."""
    about = ("any text" if empty else "a non-empty text") + (f" ({note})" if note else "")
    return Domain("text", _or_null(about, null),
                  lambda v: (v is None and bool(null)) or (isinstance(v, str) and (empty or v.strip() != "")))


def ints(lo: int = 1, *, null: bool | str = False, empty: bool = False, note: str = "") -> Domain:
    """A list of integers >= ``lo`` (non-empty unless ``empty``)."""
    about = f"a {'' if empty else 'non-empty '}list of integers >= {lo}" + (f" ({note})" if note else "")
    return Domain("list", _or_null(about, null),
                  lambda v: (v is None and bool(null)) or (isinstance(v, (list, tuple)) and (empty or len(v) > 0)
                                                          and all(_is_int(x) and x >= lo for x in v)))


def names(options: Sequence[str] | None = None, *, empty: bool = False, note: str = "") -> Domain:
    """A list of strings (each one of ``options`` when given)."""
    about = f"a {'' if empty else 'non-empty '}list of " + (f"names among {', '.join(options)}" if options
                                                            else "non-empty texts")
    about += f" ({note})" if note else ""
    return Domain("list", about,
                  lambda v: isinstance(v, (list, tuple)) and (empty or len(v) > 0) and all(
                      isinstance(x, str) and x != "" and (options is None or x in options) for x in v))


def existing_file(what: str) -> Domain:
    """null, or the path of an existing file."""
    return Domain("path", f"null or the path of an existing file ({what})",
                  lambda v: v is None or (isinstance(v, str) and v != "" and Path(v).expanduser().is_file()))


def folder(note: str) -> Domain:
    """A folder path (it need not exist yet: ``note`` says who creates or needs it)."""
    return Domain("path", f"a folder path ({note})", lambda v: isinstance(v, str) and v.strip() != "")


def either(*domains: Domain, kind: str | None = None) -> Domain:
    """Valid when any of ``domains`` is."""
    return Domain(kind or domains[0].kind, " or ".join(d.valid for d in domains),
                  lambda v: any(d.ok(v) for d in domains), tuple(p for d in domains for p in d.past
                                                             if not any(e.ok(p) for e in domains)))


PROBABILITY = number(0, 1)
FRACTION = number(0, 1, lo_open=True)
POSITIVE = number(0, lo_open=True)
NON_NEGATIVE = number(0)
STEPS = integer(1)
START_STEP = integer(0, note="0: from the start")
PATIENCE = integer(1)
LIST_OF_TAGS = names(empty=True, note="logged tags such as val/fid, train/d_loss")
SIGNALS = tuple(s.name for s in signal.Signals)
PRECISIONS = ("transformer-engine", "transformer-engine-float16", "16-true", "16-mixed", "bf16-true", "bf16-mixed",
              "32-true", "64-true", "64", "32", "16", "bf16", 64, 32, 16)

# first matching pattern wins; ``*`` matches across dots
DOMAINS: list[tuple[str, Domain]] = [
    # run
    ("task_name", text(note="Hydra's job name")),
    ("seed", integer(0, 2**32 - 1)),
    ("threads", either(choice("auto"), integer(1), kind="int")),
    ("verbose", flag()),
    ("ensemble.size", integer(1, note="1: a normal run")),
    ("ensemble.seeds", ints(0, null="size seeds from seed")),
    ("ckpt_path", existing_file("a checkpoint written by ganlab-train, e.g. <run>/checkpoints/last.ckpt")),
    ("init_from", existing_file("a checkpoint written by ganlab-train whose G, D and EMA start this run")),
    ("init_partial", flag()),
    ("freeze.d_blocks", integer(0, note="0: nothing frozen")),
    ("resume", choice("auto", null="start a new run")),
    ("perf.*", flag()),
    ("pack", integer(1, note="1: no packing")),
    # data
    ("datamodule.holdout", integer(0, note="0: no held-out split")),
    ("datamodule.subset", integer(1, null="all samples")),
    ("dataset.name", text()),
    ("dataset.resolution", integer(1, null="flat data such as the 2-D toy sets")),
    ("dataset.channels", integer(1)),
    ("dataset.num_classes", integer(0, note="0: no labels")),
    ("dataset.batch_size", integer(1)),
    ("dataset.feature.weights", existing_file("digit classifier weights; null: the packaged file")),
    ("dataset.feature.version", choice("v1", "v2")),
    ("*.feature.resize", choice("tf1", "clean", "torch")),
    ("dataset.source.n", integer(1)),
    ("dataset.source.seed", integer(0)),
    ("dataset.source.modes", integer(1)),
    ("dataset.source.side", integer(1)),
    ("dataset.source.radius", POSITIVE),
    ("dataset.source.spacing", POSITIVE),
    ("dataset.source.std", POSITIVE),
    ("dataset.*.split", choice("train", "test", "heldout", "all")),
    ("dataset.*.classes", ints(0, null="all classes", note="distinct labels of the dataset")),
    ("dataset.*.subset", integer(1, null="every image of the classes")),
    ("dataset.source.download", flag()),
    ("dataset.source.on_error", choice("skip", "raise")),
    ("dataset.source.max_images", integer(1, null="all images")),
    ("dataset.source.path", folder("a folder of images; it must exist")),
    ("dataset.*.resolution", integer(1, null="flat data")),
    ("dataset.*.channels", choice(1, 3)),
    # networks
    ("*.z_dim", integer(1)),
    ("*.hidden", ints(1)),
    ("*.widths", ints(1)),
    ("*.width", integer(1)),
    ("*.blocks", either(integer(1), ints(1), kind="int")),
    ("*.expansion", integer(1)),
    ("*.group_size", integer(1)),
    ("*.kernel_size", integer(1, note="odd: 1, 3, 5, ...")),
    ("*.attention", ints(1, empty=True, note="block output resolutions; []: none")),
    ("generator.num_classes", integer(0, note="0: unconditional")),
    ("discriminator.num_classes", integer(0, note="0: unconditional")),
    ("generator.embed_dim", integer(1)),
    ("discriminator.embed_dim", integer(1, null="the network's own size")),
    ("*.batchnorm", flag()),
    ("*.spectral_norm", flag()),
    ("*.tanh", flag()),
    ("*.activation", choice("leaky_relu", "relu", "tanh")),
    ("generator.out_activation", choice("tanh", "none")),
    ("discriminator.conditioning", choice("projection", "acgan")),
    ("*.init", choice("default", "orthogonal", "xavier", "normal")),
    ("*.init_gain", POSITIVE),
    ("*.init_std", POSITIVE),
    ("*.pieces", integer(1)),
    ("minibatch.group_size", integer(1)),
    ("minibatch.num_kernels", integer(1)),
    ("minibatch.kernel_dim", integer(1)),
    # the game
    ("loss.real_target", number(0, 1, lo_open=True, note="1: no label smoothing")),
    ("optim.beta1", number(0, 1, hi_open=True)),
    ("optim.beta2", number(0, 1, hi_open=True)),
    ("optim.*.lr", POSITIVE),
    ("optim.*.betas", Domain("list", "a list of two numbers in [0, 1)", lambda v: isinstance(v, (list, tuple))
                             and len(v) == 2 and all(_is_num(b) and 0 <= b < 1 for b in v))),
    ("optim.*.eps", POSITIVE),
    ("optim.*.weight_decay", NON_NEGATIVE),
    ("optim.*.momentum", number(0, 1, hi_open=True)),
    ("optim.*.alpha", number(0, 1, hi_open=True)),
    ("optim.*_factor", NON_NEGATIVE),
    ("optim.accumulate", integer(1, note="1: no accumulation; a divisor of dataset.batch_size")),
    ("game.n_critic", integer(1)),
    ("game.n_gen", integer(1)),
    ("game.fake_labels", choice("random", "real")),
    ("game.unroll.steps", integer(1)),
    ("game.unroll.second_order", flag()),
    ("game.unroll.objective", choice("fake", "saddle")),
    ("ema.decay", number(0, 1, hi_open=True, null="no EMA")),
    ("ema.start", START_STEP),
    ("ema.rampup", number(0, lo_open=True, null="no ramp-up")),
    ("ema.half_life_images", number(0, null="use ema.decay")),
    ("ema.batch_size", integer(1)),
    ("*.batch_size", integer(1)),
    ("regularizers.*.gamma", NON_NEGATIVE),
    ("regularizers.*.weight", NON_NEGATIVE),
    ("regularizers.*.every", integer(1, note="lazy regularization: every k-th D step")),
    ("regularizers.*.clip", POSITIVE),
    ("regularizers.*.scale", POSITIVE),
    ("regularizers.*.target", NON_NEGATIVE),
    ("regularizers.*.decay", number(0, 1, hi_open=True)),
    ("regularizers.*.one_sided", flag()),
    ("regularizers.*.lambda_*", NON_NEGATIVE),
    ("g_terms.*.weight", NON_NEGATIVE),
    ("g_terms.*.replaces_adversarial", flag()),
    ("*.translation_ratio", number(0, 1)),
    ("*.cutout_ratio", number(0, 1)),
    ("*.policy", text(note="comma-separated op names")),
    ("augment.ada.ops", text(note="comma-separated op names")),
    ("augment.ada.target", number(0, 1, null="p stays fixed")),
    ("augment.ada.interval", integer(1)),
    ("augment.ada.speed_img", POSITIVE),
    ("augment.ada.p", PROBABILITY),
    ("augment.instance_noise.sigma", NON_NEGATIVE),
    ("schedules.*.shape", choice("constant", "linear", "cosine")),
    ("schedules.*.unit", choice("steps", "images")),
    ("schedules.*.length", integer(1)),
    ("schedules.*.target", either(text(note="a hyperparameter's key, e.g. optim.d.lr"), names(), kind="text")),
    ("schedules.*.warmup", integer(0)),
    ("schedules.*.warmup_from", number()),
    ("schedules.*.start", number()),
    ("schedules.*.end", number()),
    # trainer and logger
    ("trainer.accelerator", choice("auto", "cpu", "gpu", "cuda", "mps", "tpu")),
    ("trainer.devices", either(choice("auto"), integer(1, also=(-1,), note="-1: all"), ints(0), kind="int")),
    ("trainer.num_nodes", integer(1)),
    ("trainer.precision", choice(*PRECISIONS)),
    ("trainer.max_steps", integer(1)),
    ("trainer.max_epochs", integer(1, also=(-1,), note="-1: no limit; ganlab runs count steps")),
    ("trainer.check_val_every_n_epoch", integer(1, null="evaluation every metrics.every_n_steps")),
    ("trainer.num_sanity_val_steps", integer(0, also=(-1,), note="-1: all")),
    ("trainer.deterministic", flag(also=("warn",))),
    ("trainer.benchmark", flag(null="the accelerator's default")),
    ("trainer.sync_batchnorm", flag()),
    ("trainer.strategy.broadcast_buffers", flag()),
    ("logger.*name", text(note="the folder of the logger's files")),
    ("logger.*version", either(text(empty=True, note="'': no version folder"), integer(0))),
    ("logger.*default_hp_metric", flag()),
    ("logger.*purge_step", integer(0, null="set by resume")),
    ("logger.*.flush_logs_every_n_steps", integer(1)),
    ("logger.*.experiment_name", text()),
    ("logger.*.project", text()),
    ("logger.*.entity", text(null="the account's default")),
    ("logger.*.tracking_uri", text(null="file:<output root>/mlruns")),
    ("logger.*.offline", flag()),
    ("logger.*.log_model", flag(also=("all",))),
    # callbacks
    ("callbacks.model_checkpoint.mode", choice("min", "max")),
    ("callbacks.model_checkpoint.every_n_steps", integer(0, null="off", note="0: off")),
    ("callbacks.model_checkpoint.every_minutes", number(0, null="off", note="0: off")),
    ("callbacks.model_checkpoint.snapshot_every_n_steps", integer(1, null="no snapshots")),
    ("callbacks.model_checkpoint.keep", integer(1)),
    ("callbacks.model_checkpoint.signals", names(SIGNALS, empty=True, note="[]: none")),
    ("callbacks.samples.every_n_steps", STEPS),
    ("callbacks.samples.nrow", integer(1)),
    ("callbacks.run_info.metrics", LIST_OF_TAGS),
    ("callbacks.progress_bar.metrics", LIST_OF_TAGS),
    ("callbacks.progress_bar.refresh_per_second", POSITIVE),
    ("callbacks.progress_bar.log_lines", integer(1)),
    # evaluation
    ("metrics.every_n_steps", STEPS),
    ("metrics.num_samples", integer(2, also=(0,), note="FID needs a covariance; 0: metrics=none")),
    ("metrics.batch_size", integer(1)),
    ("metrics.limit_val_batches", either(number(0, 1, lo_open=True), integer(0, note="0: metrics=none"),
                                         kind="number")),
    ("metrics.monitor", text(null="none")),
    ("metrics.callbacks.*.metrics", names(("fid", "kid", "is", "prdc", "fid_inf", "cmmd"))),
    ("metrics.callbacks.*.max_real", integer(2, null="the whole training set")),
    ("metrics.callbacks.*.min_share", FRACTION),
    ("metrics.callbacks.*.speckle.threshold", number(-1, 1, hi_open=True, note="on the [-1, 1] pixel scale")),
    ("metrics.callbacks.*.threshold", POSITIVE),
    ("metrics.callbacks.*.plot", flag()),
    ("metrics.callbacks.*.cmmd_estimator", choice("unbiased", "biased")),
    ("metrics.callbacks.*.memorization.space", choice("pixels", "features")),
    ("metrics.callbacks.*.memorization.max_shift", integer(0, note="pixels")),
    ("metrics.callbacks.*.memorization.rate", number(0, 1, lo_open=True, hi_open=True)),
    ("metrics.callbacks.*.memorization.max_samples", integer(2, null="all samples")),
    ("metrics.callbacks.*.cmmd_sigma", POSITIVE),
    ("metrics.callbacks.*.cmmd_scale", POSITIVE),
    ("metrics.callbacks.*.feature.input_size", integer(14)),
    ("metrics.callbacks.*.feature.expected_sha256", text(null="any file; its hash is recorded")),
    ("metrics.callbacks.*.classifier.version", choice("v1", "v2")),
    ("metrics.callbacks.*.classifier.weights", existing_file("digit classifier weights; null: the packaged file")),
    # health monitor
    ("health.every_n_steps", STEPS),
    ("health.num_samples", integer(2, note="pairwise distances")),
    ("health.power_iterations", integer(1)),
    ("health.grad_window", integer(1)),
    ("health.generator", choice("trained", "ema")),
    ("health.rollback.max_rollbacks", integer(0)),
    ("health.rollback.lr_factor", POSITIVE),
    ("health.detectors.*.action", choice("warn", "stop", "rollback")),
    ("health.detectors.*.patience", PATIENCE),
    ("health.detectors.*.min_step", START_STEP),
    ("health.detectors.*_frac", PROBABILITY),
    ("health.detectors.*.diversity_min", PROBABILITY),
    ("health.detectors.*.recovery_gain", NON_NEGATIVE),
    ("health.detectors.*.factor", number(1, lo_open=True)),
    ("health.detectors.*.window", integer(1)),
    ("health.detectors.*.min_history", integer(1)),
    ("health.detectors.*.warmup", START_STEP),
    ("health.detectors.*.floor", NON_NEGATIVE),
    ("health.detectors.*.loss_max", POSITIVE),
    ("health.detectors.*.acc_min", PROBABILITY),
    ("health.detectors.*.gap_min", NON_NEGATIVE),
    ("health.detectors.*.slope_max", NON_NEGATIVE),
    ("health.detectors.*.g_grad_rel_max", NON_NEGATIVE),
    ("health.detectors.*.rt_max", number(-1, 1)),
    ("health.detectors.*.heldout_gap_max", NON_NEGATIVE),
    ("health.detectors.*.min_improvement", NON_NEGATIVE),
    ("health.detectors.*.mode", choice("min", "max")),
    ("health.detectors.*.share_max", PROBABILITY),
    # paths
    ("paths.data_dir", folder("torchvision datasets read or download there")),
    ("paths.output_dir", folder("the run directory")),
    ("paths.*_weights", existing_file("a local copy of the network's weights")),
    # a preset's published numbers (read by ganlab-reproduce)
    ("published.source", text()),
    ("published.protocol", text()),
    ("published.*", number(0, null="not stated")),
    # your own keys: +user.NAME=VALUE (no check)
    ("user.*", Domain("any", "anything (your own keys)", lambda v: True)),
]


@functools.lru_cache(maxsize=4096)
def domain_of(key: str) -> Domain | None:
    """The domain of ``key`` (a dotted path, list indices as ``[i]``), or None when the table has none."""
    for pattern, domain in DOMAINS:
        if fnmatch.fnmatchcase(key, pattern):
            return domain
    return None


def show(value: Any) -> str:
    """A value as it is typed on the command line: ``abc``, ``''``, ``[1, 2]``, ``null``, ``true``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return value if value.strip() else repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return str(value)


def leaves(node: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted key, raw value) of every leaf of a plain container, without Hydra's ``_underscored_`` keys.

    A list of plain values is one leaf; a list holding mappings is walked (``key[i].sub``).
    """
    out: list[tuple[str, Any]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(k, str) and k.startswith("_") and k.endswith("_"):
                continue
            out += leaves(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(node, list) and any(isinstance(v, (dict, list)) for v in node):
        for i, v in enumerate(node):
            out += leaves(v, f"{prefix}[{i}]")
    else:
        out.append((prefix, node))
    return out


def is_interpolation(value: Any) -> bool:
    """A raw value that is (or holds) an interpolation ``${...}``: checked where it points, not here."""
    if isinstance(value, str):
        return "${" in value
    return isinstance(value, (list, tuple)) and any(is_interpolation(v) for v in value)
