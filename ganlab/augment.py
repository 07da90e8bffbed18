"""Augmentations of D's inputs: DiffAugment (Zhao et al. 2020), instance noise (Sønderby et al. 2017) and
adaptive augmentation (ADA, Karras et al. 2020).

Contract: the module applies every entry of ``augment: {name: aug}`` in order, as ``x = aug(x, step)``
(``step`` = global training step), to *every* input of D: real and fake, in the D step and in the G step.
The same objects transform real and fake, so D never sees an augmentation family only one side has
(augmenting reals alone would teach G to generate the augmentations), and every op is differentiable
w.r.t. ``x`` so G's gradient flows through the augmentation. Random parameters are drawn independently
per sample and per call: real and fake, and D and G steps, get fresh draws.

Hooks (``Augmentation``, the base class): after D's logits of a D step are computed, the module calls
``aug.observe(real_logits)`` with D's logits [N] of that step's augmented reals (no graph); ``aug.stats()``
adds ``train/*`` scalars to the step's log; ``state_dict()`` / ``load_state_dict()`` carry running state
through checkpoints (``checkpoint["ganlab"]["augment"][name]``). The defaults do nothing, so stateless
augmentations (and plain callables, which the module also accepts) are unaffected.

The deterministic ops (``brightness``, ``saturation``, ``contrast``, ``translate``, ``cutout``, ``hflip``)
take the per-sample parameters explicitly; the classes draw those parameters and call them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def brightness(x: Tensor, shift: Tensor) -> Tensor:
    """x + b: add b[n] to every pixel of sample n. x [N, C, H, W], shift [N] -> [N, C, H, W]."""
    return x + shift.view(-1, 1, 1, 1)


def saturation(x: Tensor, factor: Tensor) -> Tensor:
    """(x - m) * s + m, m = mean over channels of each pixel [N, 1, H, W]; factor [N]."""
    m = x.mean(dim=1, keepdim=True)
    return (x - m) * factor.view(-1, 1, 1, 1) + m


def contrast(x: Tensor, factor: Tensor) -> Tensor:
    """(x - m) * c + m, m = mean of each whole image over C, H, W [N, 1, 1, 1]; factor [N]."""
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - m) * factor.view(-1, 1, 1, 1) + m


def translate(x: Tensor, shift: Tensor) -> Tensor:
    """Move the content of sample n by shift[n] = (dy, dx) pixels (+ = down/right), zero fill.

    out[n, :, i, j] = x[n, :, i - dy, j - dx], or 0 where that source lies outside the image.
    Args: x [N, C, H, W]; shift [N, 2] integer. Returns [N, C, H, W].
    """
    n, c, h, w = x.shape
    rows = torch.arange(h, device=x.device) - shift[:, :1] + 1  # [N, H] source rows in the padded image
    cols = torch.arange(w, device=x.device) - shift[:, 1:] + 1  # [N, W]
    # sources off the image clamp onto the zero border of the padded image
    rows, cols = rows.clamp(0, h + 1), cols.clamp(0, w + 1)
    padded = F.pad(x, (1, 1, 1, 1))  # [N, C, H + 2, W + 2]
    out = padded.gather(2, rows.view(n, 1, h, 1).expand(n, c, h, w + 2))  # [N, C, H, W + 2]
    return out.gather(3, cols.view(n, 1, 1, w).expand(n, c, h, w))  # [N, C, H, W]


def cutout(x: Tensor, centre: Tensor, size: tuple[int, int]) -> Tensor:
    """Zero an (sh, sw) rectangle of sample n whose centre is centre[n] = (cy, cx), clipped at the border.

    Rows cy - sh // 2 ... cy - sh // 2 + sh - 1 (columns likewise) are zeroed, in every channel.
    Args: x [N, C, H, W]; centre [N, 2] integer; size (sh, sw). Returns [N, C, H, W].
    """
    _, _, h, w = x.shape
    top, left = centre[:, :1] - size[0] // 2, centre[:, 1:] - size[1] // 2  # [N, 1] each
    r, c = torch.arange(h, device=x.device), torch.arange(w, device=x.device)
    in_rows = (r >= top) & (r < top + size[0])  # [N, H]
    in_cols = (c >= left) & (c < left + size[1])  # [N, W]
    keep = ~(in_rows[:, :, None] & in_cols[:, None, :])  # [N, H, W]
    return x * keep.unsqueeze(1).to(x.dtype)


def hflip(x: Tensor, mask: Tensor) -> Tensor:
    """Mirror left-right the samples where mask [N] (bool) is True. x [N, C, H, W] -> [N, C, H, W]."""
    return torch.where(mask.view(-1, 1, 1, 1), x.flip(-1), x)


class Augmentation:
    """Base of ganlab's augmentations: ``aug(x, step) -> x`` plus no-op hooks (see the module docstring)."""

    def __call__(self, x: Tensor, step: int = 0) -> Tensor:
        raise NotImplementedError

    def observe(self, real_logits: Tensor) -> None:
        """D's logits [N] of the current D step's augmented reals (detached); ignored by default."""

    def stats(self) -> dict[str, float]:
        """Scalars to log with the training step (tag -> value); none by default."""
        return {}

    def state_dict(self) -> dict:
        """Running state to keep in checkpoints (plain numbers); empty for stateless augmentations."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned; nothing to restore by default."""


class DiffAugment(Augmentation):
    """Zhao et al. 2020 (Differentiable Augmentation for Data-Efficient GAN Training): random, differentiable ops.

    Policies (comma-separated, applied in the order given), each with per-sample parameters:
      color:       brightness x + b, b ~ U(-0.5, 0.5); then saturation, s ~ U(0, 2); then contrast, c ~ U(0.5, 1.5)
      translation: shift (dy, dx), each uniform in {-t, ..., t}, t = int(size * translation_ratio + 0.5), zero fill
      cutout:      zero one square of side int(size * cutout_ratio + 0.5), centre uniform over the image
                   (clipped at the border; H + 1 possible centres for even sides, as in the reference code)
      flip:        mirror left-right with probability 1/2 (not in the paper; the bCR augmentation uses it)
    An empty policy is the identity. Formulas follow the authors' DiffAugment_pytorch.py.
    """

    OPS = ("color", "translation", "cutout", "flip")

    def __init__(self, policy: str = "color,translation,cutout", translation_ratio: float = 0.125,
                 cutout_ratio: float = 0.5) -> None:
        self.ops = [p.strip() for p in policy.split(",") if p.strip()]
        unknown = [p for p in self.ops if p not in self.OPS]
        if unknown:
            raise ValueError(f"augment.diffaugment.policy: unknown {unknown}; valid: comma-separated names "
                             f"from {', '.join(self.OPS)}")
        for key, ratio in (("translation_ratio", translation_ratio), ("cutout_ratio", cutout_ratio)):
            if not 0 <= ratio <= 1:
                raise ValueError(f"augment.diffaugment.{key}={ratio}; valid: a number in [0, 1]")
        self.policy, self.translation_ratio, self.cutout_ratio = ",".join(self.ops), translation_ratio, cutout_ratio

    def __call__(self, x: Tensor, step: int = 0) -> Tensor:
        """Augment a batch. x [N, C, H, W] -> [N, C, H, W]; step is unused (no schedule)."""
        if x.dim() != 4:
            raise ValueError(f"augment.diffaugment needs images [N, C, H, W], got shape {tuple(x.shape)}; "
                             "for flat data use augment.instance_noise")
        for op in self.ops:
            x = getattr(self, f"_{op}")(x)
        return x

    def _rand(self, x: Tensor) -> Tensor:
        return torch.rand(x.shape[0], dtype=x.dtype, device=x.device)  # [N], one draw per sample

    def _color(self, x: Tensor) -> Tensor:
        x = brightness(x, self._rand(x) - 0.5)
        x = saturation(x, self._rand(x) * 2)
        return contrast(x, self._rand(x) + 0.5)

    def _translation(self, x: Tensor) -> Tensor:
        n, _, h, w = x.shape
        ty, tx = int(h * self.translation_ratio + 0.5), int(w * self.translation_ratio + 0.5)
        dy = torch.randint(-ty, ty + 1, (n,), device=x.device)
        dx = torch.randint(-tx, tx + 1, (n,), device=x.device)
        return translate(x, torch.stack([dy, dx], dim=1))

    def _cutout(self, x: Tensor) -> Tensor:
        n, _, h, w = x.shape
        sh, sw = int(h * self.cutout_ratio + 0.5), int(w * self.cutout_ratio + 0.5)
        # one extra centre position for even sides: the square then covers each row equally often
        cy = torch.randint(0, h + (1 - sh % 2), (n,), device=x.device)
        cx = torch.randint(0, w + (1 - sw % 2), (n,), device=x.device)
        return cutout(x, torch.stack([cy, cx], dim=1), (sh, sw))

    def _flip(self, x: Tensor) -> Tensor:
        return hflip(x, torch.rand(x.shape[0], device=x.device) < 0.5)

    def __repr__(self) -> str:
        return (f"DiffAugment(policy={self.policy!r}, translation_ratio={self.translation_ratio}, "
                f"cutout_ratio={self.cutout_ratio})")


class InstanceNoise(Augmentation):
    """Sønderby et al. 2017 (Amortised MAP Inference), Arjovsky & Bottou 2017: x + N(0, sigma(step)^2) noise.

    sigma(step) = sigma * max(0, 1 - step / anneal_steps), or sigma throughout when anneal_steps = 0.
    Works on images [N, C, H, W] and flat data [N, D] alike; once sigma reaches 0 the input is returned as is.
    """

    def __init__(self, sigma: float = 0.1, anneal_steps: int = 0) -> None:
        if sigma < 0:
            raise ValueError(f"augment.instance_noise.sigma={sigma}; valid: a number >= 0")
        if anneal_steps < 0:
            raise ValueError(f"augment.instance_noise.anneal_steps={anneal_steps}; valid: an integer >= 0 "
                             "(0 = constant sigma)")
        self.sigma, self.anneal_steps = float(sigma), int(anneal_steps)

    def sigma_at(self, step: int) -> float:
        """The noise standard deviation at a training step (linear decay to 0 at anneal_steps)."""
        if self.anneal_steps == 0:
            return self.sigma
        return self.sigma * max(0.0, 1.0 - step / self.anneal_steps)

    def __call__(self, x: Tensor, step: int = 0) -> Tensor:
        """x [N, ...] -> x + sigma(step) * eps, eps ~ N(0, I) of x's shape."""
        sigma = self.sigma_at(step)
        return x if sigma == 0 else x + sigma * torch.randn_like(x)

    def __repr__(self) -> str:
        return f"InstanceNoise(sigma={self.sigma}, anneal_steps={self.anneal_steps})"


class AdaptiveAugment(Augmentation):
    """Karras et al. 2020 (ADA, Training GANs with Limited Data): ops applied with probability p, p tuned from r_t.

    Each op (in the order given) is applied to each sample with probability p, decided by its own draw,
    with DiffAugment's parameter ranges: flip (mirror left-right), translation (integer shift up to
    ``translation_ratio`` of the size, zero fill), cutout (a square of side ``cutout_ratio`` of the size),
    brightness b ~ U(-0.5, 0.5), saturation s ~ U(0, 2), contrast c ~ U(0.5, 1.5). At p = 0 the input is
    returned as is, without drawing random numbers.

    The overfitting heuristic r_t = E[sign(D(x_real))] is the mean sign of D's logits on the augmented reals
    of the last ``interval`` D steps (``observe``); after every ``interval`` D steps (StyleGAN2-ADA's
    training loop: ``adjust = sign(r_t - ada_target) * batch_size * ada_interval / (ada_kimg * 1000)``)

        p <- min(max(p + sign(r_t - target) * batch_size * interval / speed_img, 0), 1)

    so p can move by 1 in ``speed_img`` real images. StyleGAN2-ADA clamps only at 0 (a p above 1 acts as
    1); here p also stops at 1, so it never winds up past 1 and then needs many intervals to come back.
    Under DDP the signs are summed over the processes and ``batch_size`` counts per process, so every
    process keeps the same p (batch_size * world_size images per D step, as StyleGAN2-ADA's global batch).

    Args:
        ops: comma-separated op names from ``OPS``.
        target: the r_t to hold (0.6 in the paper); None: p stays at its initial value, or follows a schedule
            (ganlab.schedules), and r_t is still measured.
        interval: D steps between adjustments (4 in the paper).
        speed_img: real images over which p can move by 1 (500,000 in the paper).
        batch_size: real images per D step and process (dataset.batch_size).
        p: initial probability, in [0, 1].
        translation_ratio, cutout_ratio: as in ``DiffAugment``.
    """

    OPS = ("flip", "translation", "cutout", "brightness", "saturation", "contrast")

    def __init__(self, ops: str = "translation,cutout,brightness,saturation,contrast", target: float | None = 0.6,
                 interval: int = 4, speed_img: int = 500_000, batch_size: int = 64, p: float = 0.0,
                 translation_ratio: float = 0.125, cutout_ratio: float = 0.5) -> None:
        self.ops = [o.strip() for o in ops.split(",") if o.strip()]
        unknown = [o for o in self.ops if o not in self.OPS]
        if unknown or not self.ops:
            raise ValueError(f"augment.ada.ops={ops!r}: unknown {unknown or 'empty'}; valid: comma-separated "
                             f"names from {', '.join(self.OPS)}")
        checks = [("target", target, target is None or 0 < target < 1, "null or a number in (0, 1)"),
                  ("interval", interval, isinstance(interval, int) and interval >= 1, "an integer >= 1"),
                  ("speed_img", speed_img, speed_img > 0, "a number of images > 0"),
                  ("batch_size", batch_size, isinstance(batch_size, int) and batch_size >= 1, "an integer >= 1"),
                  ("p", p, 0 <= p <= 1, "a number in [0, 1]"),
                  ("translation_ratio", translation_ratio, 0 <= translation_ratio <= 1, "a number in [0, 1]"),
                  ("cutout_ratio", cutout_ratio, 0 <= cutout_ratio <= 1, "a number in [0, 1]")]
        for key, value, ok, valid in checks:
            if not ok:
                raise ValueError(f"augment.ada.{key}={value}; valid: {valid}")
        self.target, self.interval, self.speed_img, self.batch_size = target, interval, speed_img, batch_size
        self.translation_ratio, self.cutout_ratio = translation_ratio, cutout_ratio
        self.p = float(p)
        # what a schedule may not also set (ganlab.schedules): p while it follows r_t, and the setting that stops that
        self.adapted = {"p": "target=null"} if target is not None else {}
        self.rt: float | None = None  # r_t of the last completed interval
        self._signs: Tensor | None = None  # sum of sign(logit) over this interval, on D's device (no sync per step)
        self._count = 0  # logits summed into _signs
        self._observed = 0  # D steps observed in this interval

    # ------------------------------------------------------------- augmenting
    def __call__(self, x: Tensor, step: int = 0) -> Tensor:
        """Augment a batch x [N, C, H, W] -> [N, C, H, W]; ``step`` is unused (p follows r_t, not the step)."""
        if x.dim() != 4:
            raise ValueError(f"augment.ada needs images [N, C, H, W], got shape {tuple(x.shape)}; "
                             "for flat data use augment.instance_noise")
        if self.p == 0:
            return x
        for op in self.ops:
            gate = torch.rand(x.shape[0], device=x.device) < self.p  # [N]: which samples get this op
            x = torch.where(gate.view(-1, 1, 1, 1), getattr(self, f"_{op}")(x), x)
        return x

    def _rand(self, x: Tensor) -> Tensor:
        return torch.rand(x.shape[0], dtype=x.dtype, device=x.device)  # [N], one draw per sample

    def _flip(self, x: Tensor) -> Tensor:
        return x.flip(-1)

    # the same random translation and cutout as DiffAugment (they read translation_ratio / cutout_ratio)
    _translation = DiffAugment._translation
    _cutout = DiffAugment._cutout

    def _brightness(self, x: Tensor) -> Tensor:
        return brightness(x, self._rand(x) - 0.5)

    def _saturation(self, x: Tensor) -> Tensor:
        return saturation(x, self._rand(x) * 2)

    def _contrast(self, x: Tensor) -> Tensor:
        return contrast(x, self._rand(x) + 0.5)

    # ------------------------------------------------------------- adapting p
    def observe(self, real_logits: Tensor) -> None:
        """Add one D step's logits [N] of augmented reals to r_t; adjust p after every ``interval`` steps."""
        signs = real_logits.detach().sign().sum()
        self._signs = signs if self._signs is None else signs + self._signs.to(signs.device)
        self._count += real_logits.numel()
        self._observed += 1
        if self._observed >= self.interval:
            self._adjust()

    def _adjust(self) -> None:
        """r_t of the interval, then p one notch towards holding it at the target (module docstring)."""
        total = torch.stack([self._signs.float(), self._signs.new_tensor(float(self._count))])
        world = 1
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(total)  # the same r_t, hence the same p, on every process
            world = torch.distributed.get_world_size()
        signs, count = total.tolist()
        self.rt = signs / count
        if self.target is not None:
            step = self.batch_size * world * self.interval / self.speed_img
            direction = (self.rt > self.target) - (self.rt < self.target)  # sign(r_t - target)
            self.p = min(max(self.p + direction * step, 0.0), 1.0)
        self._signs, self._count, self._observed = None, 0, 0

    def stats(self) -> dict[str, float]:
        """``train/ada_p`` and (after the first interval) ``train/ada_rt``."""
        return {"train/ada_p": self.p, **({"train/ada_rt": self.rt} if self.rt is not None else {})}

    def state_dict(self) -> dict:
        """p, the last r_t and the current interval's accumulator, as plain numbers."""
        state = {"p": self.p, "signs": float(self._signs) if self._signs is not None else 0.0,
                 "count": self._count, "observed": self._observed}
        return {**state, "rt": self.rt} if self.rt is not None else state

    def load_state_dict(self, state: dict) -> None:
        self.p, self._count, self._observed = float(state["p"]), int(state["count"]), int(state["observed"])
        self._signs = torch.tensor(float(state["signs"])) if self._observed else None
        self.rt = float(state["rt"]) if "rt" in state else None

    def __repr__(self) -> str:
        return (f"AdaptiveAugment(ops={','.join(self.ops)!r}, target={self.target}, interval={self.interval}, "
                f"speed_img={self.speed_img}, batch_size={self.batch_size}, p={self.p})")
