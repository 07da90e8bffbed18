"""DCGAN generator and discriminator (Radford et al. 2016), for any power-of-two resolution >= 16."""

from __future__ import annotations

import math

from torch import Tensor, nn

from ganlab.nets.base import ConditionalHead, Discriminator, spectral_norm_all
from ganlab.nets.layers import LabelConcat


def _check_resolution(resolution: int, who: str) -> int:
    """Number of 2x up/down-sampling stages between 4x4 and the resolution."""
    stages = math.log2(resolution) - 2 if resolution > 0 else -1
    if resolution < 16 or not stages.is_integer():
        raise ValueError(
            f"{who}.resolution={resolution}: DCGAN needs a power of two >= 16 (16, 32, 64, ...); "
            f"set dataset.resolution accordingly"
        )
    return int(stages)


def dcgan_init(module: nn.Module) -> None:
    """Weights N(0, 0.02); BatchNorm scale N(1, 0.02), shift 0 (Radford et al. 2016, Sec. 4)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    """z -> 4x4 by a transposed conv, then stride-2 transposed convs with BatchNorm+ReLU; tanh out.

    Args:
        z_dim: latent size.
        resolution: output height = width, a power of two >= 16.
        channels: output channels.
        width: channels of the last hidden stage; stage i from the output has width * 2**i
            (width=64 at 64x64 gives the paper's 512-256-128-64).
        num_classes: K > 0 makes G class-conditional: a learned embedding of y [N] is concatenated
            to z (Mirza & Osindero 2014); 0 = unconditional.
        embed_dim: size of that label embedding.
        spectral_norm: spectral norm on every conv but not the label embedding (as SAGAN does in G).
    """

    def __init__(self, z_dim: int = 100, resolution: int = 32, channels: int = 3, width: int = 64,
                 num_classes: int = 0, embed_dim: int = 32, spectral_norm: bool = False) -> None:
        super().__init__()
        stages = _check_resolution(resolution, "generator")
        self.z_dim, self.num_classes = z_dim, num_classes
        self.condition = LabelConcat(num_classes, embed_dim)
        c = width * 2 ** (stages - 1)
        z_in = z_dim + self.condition.extra_dim
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_in, c, 4, 1, 0, bias=False), nn.BatchNorm2d(c), nn.ReLU(True),  # [N, c, 4, 4]
        ]
        for _ in range(stages - 1):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU(True)]
            c //= 2
        layers += [nn.ConvTranspose2d(c, channels, 4, 2, 1), nn.Tanh()]  # [N, channels, R, R]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)  # the label embedding keeps N(0, 1), the scale of z
        if spectral_norm:
            spectral_norm_all(self.net)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        zy = self.condition(z, y)  # [N, z_dim (+ embed_dim)]
        return self.net(zy.view(zy.shape[0], -1, 1, 1))  # [N, channels, R, R]


class DCGANDiscriminator(Discriminator):
    """Stride-2 convs with LeakyReLU(0.2), BatchNorm on all but the first; a linear head on the 4x4 map.

    The paper's last layer, a 4x4 valid conv to one channel, is exactly a linear map of the
    flattened 4x4 feature map; so features h = that map flattened [N, 16 c] and the head is linear
    (plus a class projection or an auxiliary classifier when conditional).

    Args:
        resolution: input height = width, a power of two >= 16.
        channels: input channels.
        width: channels of the first stage, doubled at each following stage.
        batchnorm: BatchNorm after convs 2..n (off for critics with a gradient penalty, which
            Gulrajani et al. 2017 advise against combining with batch norm).
        num_classes: K > 0 makes D class-conditional (labels y [N]); 0 = unconditional.
        conditioning: how labels enter when num_classes > 0: "projection" or "acgan" (see ConditionalHead).
        spectral_norm: spectral norm on every layer (Miyato et al. 2018 use it in this very architecture).
    """

    def __init__(self, resolution: int = 32, channels: int = 3, width: int = 64, batchnorm: bool = True,
                 num_classes: int = 0, conditioning: str = "projection", spectral_norm: bool = False) -> None:
        super().__init__()
        stages = _check_resolution(resolution, "discriminator")
        c = width
        layers: list[nn.Module] = [nn.Conv2d(channels, c, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for _ in range(stages - 1):
            layers += [nn.Conv2d(c, c * 2, 4, 2, 1, bias=not batchnorm)]
            layers += [nn.BatchNorm2d(c * 2)] if batchnorm else []
            layers += [nn.LeakyReLU(0.2, True)]
            c *= 2
        self.net = nn.Sequential(*layers)  # -> [N, c, 4, 4]
        self.feature_dim, self.num_classes = c * 16, num_classes
        self.out = ConditionalHead(c * 16, num_classes, conditioning)
        self.apply(dcgan_init)  # N(0, 0.02) reaches the head's linear layers too
        if spectral_norm:
            spectral_norm_all(self)

    def features(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(x).flatten(1)  # [N, 16 c]

    def block_list(self) -> list[nn.Module]:
        """FreezeD's blocks (ganlab.nets.freeze): each stride-2 stage (conv, [BatchNorm], LeakyReLU), from the input."""
        starts = [i for i, m in enumerate(self.net) if isinstance(m, nn.Conv2d)] + [len(self.net)]
        return [self.net[a:b] for a, b in zip(starts, starts[1:], strict=False)]

    def head(self, h: Tensor, y: Tensor | None = None) -> Tensor:
        return self.out(h, y)  # [N]
