"""Minibatch layers: wrappers that let D see statistics of the whole batch, against mode collapse.

``Wrapper(discriminator, ...)`` is itself a ``Discriminator``: its features are the inner D's
features h [N, F] with batch statistics o [N, B] appended, ``[h, o]`` [N, F + B], and its head is
``inner.head(h, y) + linear(o)``. The new linear starts at zero, so a wrapped D starts as exactly
the inner D (same logits) and learns how much to use the batch statistics; its weight still gets
gradient from the first step (d logit / d w = o). Both wrappers act on D's feature vector, which
every family has, not inside the convolutional trunk.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ganlab.nets.base import Discriminator


class _MinibatchWrapper(Discriminator):
    """Shared plumbing: inner D, ``extra`` batch features appended to h, a zero-initialized linear on them."""

    def __init__(self, discriminator: nn.Module, extra: int, who: str) -> None:
        super().__init__()
        if not (hasattr(discriminator, "feature_dim") and callable(getattr(discriminator, "features", None))):
            raise ValueError(f"{who} wraps a discriminator with features(x, y) and feature_dim "
                             f"(a ganlab.nets.base.Discriminator); got {type(discriminator).__name__}")
        self.inner = discriminator
        self.inner_dim = discriminator.feature_dim
        self.feature_dim = self.inner_dim + extra
        self.num_classes = getattr(discriminator, "num_classes", 0)
        self.extra_head = nn.Linear(extra, 1)
        nn.init.zeros_(self.extra_head.weight)
        nn.init.zeros_(self.extra_head.bias)

    def batch_features(self, h: Tensor) -> Tensor:
        """h [N, F] -> batch statistics [N, extra]."""
        raise NotImplementedError

    def features(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.inner.features(x, y)  # [N, F]
        return torch.cat([h, self.batch_features(h)], 1)  # [N, F + extra]

    def head(self, h: Tensor, y: Tensor | None = None) -> Tensor:
        f = self.inner_dim
        return self.inner.head(h[:, :f], y) + self.extra_head(h[:, f:]).squeeze(1)  # [N]

    def classify(self, h: Tensor) -> Tensor:
        """The inner ACGAN head's class logits [N, K], from the inner features only."""
        if not callable(getattr(self.inner, "classify", None)):
            raise ValueError("classify() needs discriminator.conditioning=acgan (an inner D with a ConditionalHead)")
        return self.inner.classify(h[:, : self.inner_dim])


class MinibatchDiscrimination(_MinibatchWrapper):
    """Salimans et al. 2016, Sec. 3.2: o(x_i)_b = sum_{j != i} exp(-||M_i,b - M_j,b||_L1), M = h T [N, B, C].

    As in the authors' code (openai/improved-gan ``MinibatchLayer``), the sum leaves out j = i
    (the paper's sum over all j only adds the constant exp(0) = 1), so two identical samples in a
    batch of two give o = 1 per kernel. T starts as N(0, 0.05^2) like that code's theta; its weight
    normalization, data-dependent init and per-kernel bias are left out (the head's bias plays b's role).
    Defaults B = 100, C = 5 as in its CIFAR-10 model.

    Args:
        discriminator: the inner D (``features``, ``head``, ``feature_dim``).
        num_kernels: B, the number of batch-similarity features appended.
        kernel_dim: C, the size of each kernel's projection.
    """

    def __init__(self, discriminator: nn.Module, num_kernels: int = 100, kernel_dim: int = 5) -> None:
        if num_kernels < 1 or kernel_dim < 1:
            raise ValueError(f"minibatch.num_kernels={num_kernels}, minibatch.kernel_dim={kernel_dim}; "
                             "valid: integers >= 1")
        super().__init__(discriminator, num_kernels, "minibatch=discrimination")
        self.num_kernels, self.kernel_dim = num_kernels, kernel_dim
        self.T = nn.Parameter(0.05 * torch.randn(self.inner_dim, num_kernels * kernel_dim))

    def batch_features(self, h: Tensor) -> Tensor:
        m = (h @ self.T).view(h.shape[0], self.num_kernels, self.kernel_dim)  # [N, B, C]
        l1 = (m.unsqueeze(1) - m.unsqueeze(0)).abs().sum(3)  # [N, N, B]: ||M_i,b - M_j,b||_L1
        return torch.exp(-l1).sum(1) - 1  # [N, B]; - 1 drops j = i, where the distance is exactly 0


class MinibatchStddev(_MinibatchWrapper):
    """Karras et al. 2018 (ProGAN), Sec. 3: the std of each feature over a group of samples, averaged
    into one number per group, appended to every sample of that group: features [N, F + 1].

    As in the authors' code (tkarras/progressive_growing_of_gans, ``minibatch_stddev_layer``):
    std = sqrt(population variance + 1e-8), and the batch is reshaped to [G, M, F], so group m holds
    samples m, m + M, m + 2M, ... (M = N / G). G is the largest divisor of N that is <= group_size
    (the reference requires N divisible by G; an odd last batch then uses smaller groups instead of failing).

    Args:
        discriminator: the inner D (``features``, ``head``, ``feature_dim``).
        group_size: samples per group (4 in ProGAN and StyleGAN).
    """

    def __init__(self, discriminator: nn.Module, group_size: int = 4, eps: float = 1e-8) -> None:
        if group_size < 1:
            raise ValueError(f"minibatch.group_size={group_size}; valid: an integer >= 1")
        super().__init__(discriminator, 1, "minibatch=stddev")
        self.group_size, self.eps = group_size, eps

    def effective_group_size(self, n: int) -> int:
        """G for a batch of n: the largest divisor of n that is <= group_size."""
        return max(g for g in range(1, min(self.group_size, n) + 1) if n % g == 0)

    def batch_features(self, h: Tensor) -> Tensor:
        n, f = h.shape
        g = self.effective_group_size(n)
        y = h.reshape(g, n // g, f)  # [G, M, F]
        std = (y.var(0, correction=0) + self.eps).sqrt()  # [M, F]
        return std.mean(1).repeat(g).unsqueeze(1)  # [N, 1]; sample i gets group i % M
