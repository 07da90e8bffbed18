"""A trained generator as one file other programs load: safetensors, TorchScript or ONNX, with its metadata.

- ``torchscript``: ``torch.jit.load(path)`` in any program with torch (no ganlab): ``G(z)`` or ``G(z, y)``.
- ``onnx``: any ONNX runtime (onnxruntime, TensorRT, ...): inputs ``z`` (float32 [N, z_dim]) and, for
  conditional generators, ``y`` (int64 [N]); output ``images``.
- ``safetensors``: the generator's weights (no code); ganlab rebuilds the network from the config in the
  file's metadata (``load_safetensors``).

Every file carries the same metadata (``METADATA_KEYS``): ``ganlab`` (which weights, EMA or trained; input and
output shapes; step; source checkpoint), ``config`` (the run's resolved config) and ``evaluation`` (the
latest ganlab-eval record of this checkpoint, its card and metrics, or null), each a JSON string.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ganlab import safe

FORMATS = {"safetensors": ".safetensors", "torchscript": ".torchscript.pt", "onnx": ".onnx"}
METADATA_KEYS = ("ganlab", "config", "evaluation")
FILE_VERSION = 1  # bump when the metadata layout changes


class ExportError(ValueError):
    """A request that cannot be exported (reported in one line)."""


class Sampler(nn.Module):
    """G with the call signature of the exported file: ``forward(z)``, or ``forward(z, y)`` when conditional.

    Args:
        generator: a ganlab generator in eval mode.
        conditional: whether ``y`` (class labels) is an input.
    """

    def __init__(self, generator: nn.Module, conditional: bool) -> None:
        super().__init__()
        self.generator, self.conditional = generator, conditional

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """z [N, z_dim] (and y [N] int64) -> samples [N, C, H, W] (or [N, D]) in the generator's output range."""
        return self.generator(z, y if self.conditional else None)


def frozen_copy(generator: nn.Module) -> nn.Module:
    """A copy of G for tracing: eval mode, no gradients, parametrizations (spectral norm) baked into the weights.

    torch's spectral-norm parametrization computes W / sigma from stored vectors in eval mode; baking it in
    gives the same weights without ``vdot`` in the graph (which the TorchScript-based ONNX exporter lacks).
    Written here rather than with ``parametrize.remove_parametrizations``: on a deep copy that deletes the
    property from the class the copy shares with the original, which then loses its weights.
    """
    from torch.nn.utils import parametrize

    g = copy.deepcopy(generator).eval().requires_grad_(False)
    for module in g.modules():
        if parametrize.is_parametrized(module):
            baked = {name: getattr(module, name).detach().clone() for name in module.parametrizations}
            del module._modules["parametrizations"]
            module.__class__ = module.__class__.__bases__[0]  # parametrize subclassed the layer's own class
            for name, value in baked.items():
                module.register_parameter(name, nn.Parameter(value, requires_grad=False))
    return g


def example_inputs(z_dim: int, num_classes: int, n: int = 64, seed: int = 0) -> tuple[Tensor, ...]:
    """Fixed inputs: z [n, z_dim] ~ N(0, 1) from ``seed``, and labels [n] = 0, 1, ..., K-1, 0, ... when conditional."""
    z = torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed))
    return (z, torch.arange(n) % num_classes) if num_classes else (z,)


def latest_evaluation(checkpoint: Path, global_step: int) -> dict[str, Any] | None:
    """The newest ganlab-eval record of this checkpoint in the ``metrics.json`` beside it (same file name and
    step: best.ckpt is rewritten during training), as {metrics, card}; None when there is none."""
    path = checkpoint.parent / "metrics.json"
    try:
        records = json.loads(path.read_text())["evaluations"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    for record in reversed(records if isinstance(records, list) else []):
        card = record.get("card") if isinstance(record, dict) else None
        if (isinstance(card, dict) and Path(str(card.get("checkpoint"))).name == checkpoint.name
                and card.get("global_step") == global_step):
            return {"metrics": record.get("metrics"), "card": card}
    return None


def metadata(loaded: Any, sample_shape: list[int]) -> dict[str, str]:
    """The metadata every exported file carries: key -> JSON string (``METADATA_KEYS``).

    Args:
        loaded: a ``ganlab.checkpoint.LoadedGenerator``.
        sample_shape: one sample's shape, e.g. [1, 32, 32].
    """
    from omegaconf import OmegaConf

    conditional = loaded.num_classes > 0
    info = {
        "file_version": FILE_VERSION,
        "weights": "ema" if loaded.ema else "trained",
        "z_dim": int(loaded.generator.z_dim),
        "num_classes": loaded.num_classes,
        "inputs": {"z": "float32 [N, z_dim], N(0, 1)", **({"y": "int64 [N], class labels"} if conditional else {})},
        "output": {"name": "images", "shape": ["N", *sample_shape], "range": [-1, 1]},
        "global_step": loaded.global_step,
        "checkpoint": str(loaded.path),
        "versions": {name: version(name) for name in ("ganlab", "torch")},
    }
    config = OmegaConf.to_container(loaded.config, resolve=False)
    evaluation = latest_evaluation(Path(loaded.path), loaded.global_step)
    return {"ganlab": json.dumps(info), "config": json.dumps(config), "evaluation": json.dumps(evaluation)}


def write_safetensors(generator: nn.Module, path: Path, meta: dict[str, str], inputs: tuple[Tensor, ...]) -> None:
    """G's state dict (as ganlab builds G from the config: parametrizations kept) and the metadata."""
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
    path.write_bytes(save(state, metadata=meta))  # written here: the usual file permissions (save_file: 0600)


def write_torchscript(generator: nn.Module, path: Path, meta: dict[str, str], inputs: tuple[Tensor, ...]) -> None:
    """``torch.jit.trace`` of the Sampler on ``inputs``; the metadata as the archive's extra files."""
    sampler = Sampler(frozen_copy(generator), len(inputs) > 1).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=torch.jit.TracerWarning)  # python ints from shapes: same N
        warnings.simplefilter("ignore", category=FutureWarning)  # torch.jit is deprecated in favour of torch.export
        traced = torch.jit.trace(sampler, inputs, check_trace=False)
        torch.jit.save(traced, str(path), _extra_files=dict(meta))


def write_onnx(generator: nn.Module, path: Path, meta: dict[str, str], inputs: tuple[Tensor, ...],
               dynamo: bool = True, opset: int | None = None) -> None:
    """``torch.onnx.export`` of the Sampler (batch size dynamic), weights inside the file; the metadata as
    the model's ``metadata_props``."""
    import onnx

    sampler = Sampler(frozen_copy(generator), len(inputs) > 1).eval()
    names = ["z", "y"][: len(inputs)]
    options: dict[str, Any] = {"input_names": names, "output_names": ["images"], "dynamo": dynamo,
                               "external_data": False, "opset_version": opset, "verbose": False}
    if dynamo:
        batch = torch.export.Dim("batch", min=1)
        options["dynamic_shapes"] = tuple({0: batch} for _ in inputs)
    else:
        options["dynamic_axes"] = {name: {0: "batch"} for name in [*names, "images"]}
    quiet = [logging.getLogger(name) for name in ("onnxscript", "onnx_ir")]  # graph-optimizer notes at INFO
    levels = [lg.level for lg in quiet]
    try:
        for lg in quiet:
            lg.setLevel(logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=DeprecationWarning)  # dynamo=false: the older exporter
            torch.onnx.export(sampler, inputs, str(path), **options)
    finally:
        for lg, level in zip(quiet, levels, strict=True):
            lg.setLevel(level)
    model = onnx.load(str(path))
    onnx.helper.set_model_props(model, dict(meta))
    onnx.save(model, str(path))


WRITERS = {"safetensors": write_safetensors, "torchscript": write_torchscript, "onnx": write_onnx}
# format -> (module, the extra that installs it)
NEEDS = {"safetensors": (("safetensors",), "export"), "onnx": (("onnx", "onnxscript"), "export")}


def check_format(fmt: str) -> None:
    """One-line errors for an unknown format or one whose package is missing."""
    import importlib.util

    if fmt not in FORMATS:
        raise ExportError(f"format={fmt}; valid: {', '.join(FORMATS)}")
    modules, extra = NEEDS.get(fmt, ((), ""))
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ExportError(f"format={fmt} needs {', '.join(missing)}, not installed; pip install -e '.[{extra}]'")


def export(loaded: Any, fmt: str, path: str | Path, **options: Any) -> Path:
    """Write ``loaded``'s generator to ``path`` in ``fmt``, atomically (a failed export leaves no file).

    Args:
        loaded: a ``ganlab.checkpoint.LoadedGenerator`` (its EMA weights when the checkpoint kept them).
        fmt: one of ``FORMATS``.
        path: the file to write.
        options: format options (onnx: ``dynamo``, ``opset``).

    Returns:
        the path written.
    """
    check_format(fmt)
    path = Path(path)
    generator = loaded.generator.cpu().eval()
    inputs = example_inputs(generator.z_dim, loaded.num_classes, n=2)
    with torch.no_grad():
        shape = list(Sampler(generator, loaded.num_classes > 0)(*inputs).shape[1:])
    meta = metadata(loaded, shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        WRITERS[fmt](generator, tmp, meta, inputs, **options)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata of an exported file of any format, JSON values decoded: {ganlab, config, evaluation}."""
    path = Path(path)
    if path.name.endswith(FORMATS["onnx"]):
        import onnx

        props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    elif path.name.endswith(FORMATS["torchscript"]):
        props = dict.fromkeys(METADATA_KEYS, "")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=FutureWarning)  # torch.jit is deprecated in favour of torch.export
            torch.jit.load(str(path), map_location="cpu", _extra_files=props)
    else:
        from safetensors import safe_open

        with safe_open(str(path), "pt") as f:
            props = f.metadata() or {}
    if not all(props.get(k) for k in METADATA_KEYS):
        raise safe.BadFileError(f"{path} is not a file written by ganlab-export (no {', '.join(METADATA_KEYS)} "
                                f"metadata)")
    return {k: json.loads(props[k]) for k in METADATA_KEYS}


def load_safetensors(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """The generator of a ``.safetensors`` file written by ganlab-export, rebuilt from its metadata's config
    (only ganlab/torch components are built: ``ganlab.safe``), in eval mode; and the decoded metadata."""
    from safetensors.torch import load_file

    meta = read_metadata(path)
    generator = safe.build_stored(meta["config"]["generator"], path=path, where="generator")
    generator.load_state_dict(load_file(str(path), device="cpu"))
    return generator.to(device).eval(), meta
