"""The standard FID Inception (pt_inception-2015-12-05) as a feature extractor, loaded offline."""

from __future__ import annotations

import functools
import hashlib
import math
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab import safe

# torch-fidelity's PyTorch port of the 2015-12-05 TF Inception used by every FID implementation
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
# torch.hub convention: the file name carries the first hex digits of the file's SHA-256
EXPECTED_SHA256_PREFIX = "6726825d"
# where torch-fidelity publishes it (fetched into torch.hub's checkpoint folder when no local copy is set)
URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{INCEPTION_FILE}"

SIZE = 299  # the network's input

# feature.resize -> how 8-bit images reach 299 x 299 (recorded on the evaluation card and in the reference-cache
# key, so statistics are never shared between resizes). FIDs differ by resize (Parmar et al. 2022, clean-fid).
RESIZES = {
    # TF 1.x's bilinear, as the original TF FID code and torch-fidelity compute it
    "tf1": "tf1: uint8 RGB, TF 1.x bilinear (torch-fidelity's interpolate_bilinear_2d_like_tensorflow1x) to "
           "299x299, 1-channel repeated to RGB",
    # clean-fid's "clean" mode: PIL bicubic on float32 pixels, no rounding to 8 bits
    "clean": "clean: uint8 RGB, PIL bicubic (antialiased, a=-0.5) on float32 pixels to 299x299, width then height, "
             "clipped to [0, 255] (clean-fid mode clean), 1-channel repeated to RGB",
    # pytorch-fid's resize (clean-fid's legacy_pytorch mode)
    "torch": "torch: uint8 RGB, torch bilinear (align_corners=False, no antialias) on float32 pixels to 299x299, "
             "clipped to [0, 255] (pytorch-fid; clean-fid mode legacy_pytorch), 1-channel repeated to RGB",
    # torchmetrics' FID (its NoTrainInceptionV3 default, antialias=True); ganlab's Inception resize before
    # feature.resize existed (its cards called it TF 1.x)
    "torchmetrics": "torchmetrics: uint8 RGB, torch bilinear with antialias (align_corners=False) on float32 "
                    "pixels to 299x299 (torchmetrics' FID), 1-channel repeated to RGB",
}


def resize_tf1(x: Tensor) -> Tensor:
    """8-bit values as float [N, 3, H, W] -> [N, 3, 299, 299], TF 1.x's bilinear (torch-fidelity's port)."""
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    return interpolate_bilinear_2d_like_tensorflow1x(x, size=(SIZE, SIZE), align_corners=False)


def _bicubic(x: float) -> float:
    """Pillow's BICUBIC kernel (a = -0.5), in its operation order."""
    x = abs(x)
    if x < 1.0:
        return ((-0.5 + 2.0) * x - (-0.5 + 3.0)) * x * x + 1
    if x < 2.0:
        return (((x - 5) * x + 8) * x - 4) * -0.5
    return 0.0


@functools.lru_cache(maxsize=16)
def _pil_taps(in_size: int, out_size: int) -> tuple[Tensor, Tensor]:
    """Pillow's resampling taps along one axis: (input index [out, K] long, weight [out, K] float64).

    Pillow's ``precompute_coeffs``: an antialiased kernel (support widened by the reduction factor), weights
    normalised to sum 1, each in float64 in Pillow's own operation order; taps past the kernel weigh 0.
    """
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support, inverse = 2.0 * filterscale, 1.0 / filterscale
    k = math.ceil(support) * 2 + 1
    index, weight = torch.zeros(out_size, k, dtype=torch.long), torch.zeros(out_size, k, dtype=torch.float64)
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        w = [_bicubic((x + xmin - center + 0.5) * inverse) for x in range(xmax)]
        total = 0.0
        for v in w:
            total += v
        index[xx, :xmax] = torch.arange(xmin, xmin + xmax)
        weight[xx, :xmax] = torch.tensor([v / total if total != 0.0 else v for v in w], dtype=torch.float64)
    return index, weight


def _pil_pass(x: Tensor, out_size: int) -> Tensor:
    """One Pillow resampling pass along the last axis: float32 [..., W] -> float32 [..., out_size], each output
    the float64 sum of its taps in order (Pillow's ``ss += pixel * k[x]``), stored as float32."""
    index, weight = _pil_taps(x.shape[-1], out_size)
    x = x.double()
    acc = torch.zeros(*x.shape[:-1], out_size, dtype=torch.float64, device=x.device)
    for t in range(index.shape[1]):  # in tap order: the same float64 rounding as Pillow's loop
        acc = acc + x[..., index[:, t].to(x.device)] * weight[:, t].to(x.device)
    return acc.float()


def resize_clean(x: Tensor) -> Tensor:
    """8-bit values as float [N, 3, H, W] -> [N, 3, 299, 299] as clean-fid's ``clean`` resizer: each channel a
    float32 PIL image resized with ``Image.BICUBIC``, clipped to [0, 255].

    Written by hand after Pillow's ``Resample.c`` (width pass, a float32 image, height pass) because torch's
    antialiased bicubic, the same kernel, differs from Pillow by a float32 rounding on some pixels. Equal to
    clean-fid on upsampled images (every GAN resolution below 299) and square ones; recent Pillow versions run the
    height pass first for some tall images larger than 299, which then differ by one float32 rounding (<= 3e-5).
    """
    h = _pil_pass(x.float(), SIZE)  # [N, 3, H, 299]: the width pass
    h = _pil_pass(h.transpose(-1, -2), SIZE).transpose(-1, -2)  # [N, 3, 299, 299]: the height pass
    return h.clamp(0, 255).contiguous()


def resize_torch(x: Tensor) -> Tensor:
    """8-bit values as float [N, 3, H, W] -> [N, 3, 299, 299], torch's bilinear as pytorch-fid resizes."""
    # clipped: float32 interpolation between 0 and 255 can land a rounding outside (clean-fid clips too)
    return F.interpolate(x.float(), size=(SIZE, SIZE), mode="bilinear", align_corners=False).clamp(0, 255)


def resize_torchmetrics(x: Tensor) -> Tensor:
    """8-bit values as float [N, 3, H, W] -> [N, 3, 299, 299], torch's antialiased bilinear as torchmetrics' FID."""
    return F.interpolate(x.float(), size=(SIZE, SIZE), mode="bilinear", align_corners=False, antialias=True)


RESIZERS = {"tf1": resize_tf1, "clean": resize_clean, "torch": resize_torch, "torchmetrics": resize_torchmetrics}
# torch-fidelity's forward after its resize: the layers of the TF Inception up to the pool features
_LAYERS = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "MaxPool_1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
           "MaxPool_2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
           "Mixed_7a", "Mixed_7b", "Mixed_7c", "AvgPool")


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def locate(weights: str | None) -> Path:
    """The weights file to read: ``weights``, or torch.hub's cached copy (downloaded there when absent).

    Either way the file is then read by the same safe path (``InceptionFeatures``); the download only writes
    the published bytes into torch.hub's checkpoint folder and loads nothing.
    """
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"Inception weights not found at {weights}; set paths.inception_weights (or "
                                    f"feature.weights) to a local copy of {INCEPTION_FILE}")
        return path
    cached = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
    if not cached.is_file():
        cached.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(URL, str(cached), hash_prefix=EXPECTED_SHA256_PREFIX, progress=False)
        except (OSError, RuntimeError) as e:  # URLError is an OSError; a wrong hash a RuntimeError
            raise FileNotFoundError(
                f"could not download the Inception weights {INCEPTION_FILE} ({type(e).__name__}); put a local "
                f"copy on disk and set paths.inception_weights=/path/to/{INCEPTION_FILE}"
            ) from e
    return cached


class InceptionFeatures(nn.Module):
    """2048-d pool features of the TF-ported Inception-v3 (as pytorch-fid, torch-fidelity, torchmetrics).

    Args:
        weights: path to a local copy of ``weights-inception-2015-12-05-6726825d.pth``; None: torch.hub's
            cached copy, downloaded there first when absent (fails offline with a message naming the config key).
        expected_sha256: a prefix the file's SHA-256 must start with (None: any file; its hash is recorded).
        resize: how images reach 299 x 299 (``RESIZES``): ``tf1`` (TF 1.x as torch-fidelity, the default),
            ``clean`` (clean-fid), ``torch`` (pytorch-fid) or ``torchmetrics``.

    Whatever the source, the file's bytes are read once, loaded as data only, hashed (``sha256``, on the
    evaluation card), and the network is built from exactly those tensors.
    """

    num_features = 2048
    name = "inception-v3-compat"

    def __init__(self, weights: str | None = None, expected_sha256: str | None = EXPECTED_SHA256_PREFIX,
                 resize: str = "tf1") -> None:
        super().__init__()
        from torchmetrics.image.fid import NoTrainInceptionV3

        path = locate(weights)
        data = path.read_bytes()
        # data only (a crafted file cannot run code) and a state dict of tensors
        state = safe.load(path, safe.Tensors, data=data, what=f"Inception weights (a state dict like {INCEPTION_FILE})")
        self.sha256 = hashlib.sha256(data).hexdigest()
        if expected_sha256 and not self.sha256.startswith(expected_sha256):
            raise ValueError(
                f"{path} has SHA-256 {self.sha256[:16]}..., expected {expected_sha256}...: not the standard "
                f"FID Inception, so its FIDs are not comparable; to use it anyway set feature.expected_sha256=null"
            )
        if resize not in RESIZES:
            raise ValueError(f"feature.resize={resize}; valid: {', '.join(RESIZES)}")
        self.resize_mode, self.resize = resize, RESIZES[resize]
        with tempfile.TemporaryDirectory() as tmp:
            # torch-fidelity reads a weights file itself (torch.load with weights_only=False): it gets a private
            # file that ganlab writes from the tensors checked above, read with weights-only loading forced
            own = Path(tmp) / INCEPTION_FILE
            torch.save(state, own)
            with safe.weights_only_loads():
                self.net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048", "logits_unbiased"],
                                              feature_extractor_weights_path=str(own))

    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Images in [-1, 1] [N, C, H, W] (C = 1 or 3) -> (pool features [N, 2048], logits [N, 1008])."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = ((x.clamp(-1, 1) + 1) * 127.5).round()  # [N, 3, H, W]: the 8-bit values of a saved PNG
        # torch-fidelity's forward (uint8 in, its TF 1.x resize inside), with the resize chosen here
        h = (RESIZERS[self.resize_mode](x) - 128) / 128  # [N, 3, 299, 299]
        for name in _LAYERS:
            h = getattr(self.net, name)(h)
        pool = torch.flatten(h, 1)  # [N, 2048]
        logits = pool.mm(self.net.fc.weight.T)  # [N, 1008], "logits_unbiased" (torch-fidelity's IS input)
        return pool.float(), logits.float()

    def forward(self, x: Tensor) -> Tensor:
        """Images in [-1, 1] [N, C, H, W] (C = 1 or 3) -> features [N, 2048]."""
        return self.features_and_logits(x)[0]
