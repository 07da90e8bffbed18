"""load_torchvision on tiny fake datasets written in torchvision's own on-disk formats (no network)."""

from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch
import torchvision.datasets.cifar as tv_cifar
import torchvision.datasets.mnist as tv_mnist

from ganlab.data.base import fit_images
from ganlab.data.torchvision_sets import load_torchvision


def _write_idx(path: Path, a: np.ndarray) -> None:
    """IDX file: big-endian magic 0x0000 08 <ndim> (08 = uint8), the dims as big-endian int32, raw bytes."""
    header = struct.pack(">I", 0x0800 | a.ndim) + struct.pack(f">{a.ndim}I", *a.shape)
    path.write_bytes(header + a.astype(np.uint8).tobytes())


def _fake_mnist(root: Path, folder: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """All four raw idx files (torchvision needs every one whichever split is read): 20 train, 10 test."""
    rng = np.random.default_rng(0)
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    out = {}
    for prefix, split, n in (("train", "train", 20), ("t10k", "test", 10)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, n, dtype=np.uint8)
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", x)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", y)
        out[split] = (x, y)
    return out


@pytest.mark.parametrize(("name", "folder"), [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
@pytest.mark.parametrize("split", ["train", "test"])
def test_mnist_family_reads_written_pixels(tmp_path, name, folder, split):
    x_np, y_np = _fake_mnist(tmp_path, folder)[split]
    x = torch.from_numpy(x_np).unsqueeze(1)  # [N, 1, 28, 28]
    d = load_torchvision(name, str(tmp_path), resolution=28, channels=1, split=split)
    assert d.x.dtype == torch.uint8 and d.x.shape == (len(x_np), 1, 28, 28)
    assert torch.equal(d.x, x)
    assert d.y.dtype == torch.int64 and d.y.tolist() == y_np.tolist()
    # 28 -> 32 pads by 2 and keeps every pixel; 3 channels are copies
    d32 = load_torchvision(name, str(tmp_path), resolution=32, channels=3, split=split)
    assert d32.x.shape == (len(x_np), 3, 32, 32)
    assert torch.equal(d32.x, fit_images(x, 32, 3))
    assert torch.equal(d32.x[:, :, 2:30, 2:30], x.expand(-1, 3, -1, -1))


def _fake_cifar(root: Path, per_batch: int = 3) -> dict[str, tuple[np.ndarray, list[int]]]:
    """data_batch_1..5 and test_batch (pickled dicts of uint8 [n, 3072] rows in CHW order) + batches.meta."""
    rng = np.random.default_rng(1)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    xs, ys = {"train": [], "test": []}, {"train": [], "test": []}
    for fname in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3 * 32 * 32), dtype=np.uint8)
        labels = rng.integers(0, 10, per_batch).tolist()
        with open(folder / fname, "wb") as f:
            pickle.dump({"data": data, "labels": labels}, f)
        split = "test" if fname == "test_batch" else "train"
        xs[split].append(data)
        ys[split] += labels
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)]}, f)
    return {s: (np.concatenate(xs[s]).reshape(-1, 3, 32, 32), ys[s]) for s in xs}


@pytest.mark.parametrize("split", ["train", "test"])
def test_cifar10_reads_written_pixels(tmp_path, monkeypatch, split):
    # torchvision checks every CIFAR file's md5, which fake files cannot match: keep only its
    # existence part (check_integrity(path, None) is a plain is-file test)
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda fpath, md5=None: os.path.isfile(fpath))
    x_np, y = _fake_cifar(tmp_path)[split]
    x = torch.from_numpy(x_np)  # [N, 3, 32, 32]
    d = load_torchvision("cifar10", str(tmp_path), resolution=32, channels=3, split=split)
    assert d.x.dtype == torch.uint8 and d.x.shape == (len(x_np), 3, 32, 32)
    assert torch.equal(d.x, x)
    assert d.y.tolist() == y
    gray = load_torchvision("cifar10", str(tmp_path), resolution=16, channels=1, split=split)
    assert gray.x.shape == (len(x_np), 1, 16, 16)
    assert torch.equal(gray.x, fit_images(x, 16, 1))


@pytest.mark.parametrize(("name", "folder"), [
    ("mnist", os.path.join("MNIST", "raw")),
    ("fashion_mnist", os.path.join("FashionMNIST", "raw")),
    ("cifar10", "cifar-10-batches-py"),
])
def test_missing_files_name_folder_and_config_keys(tmp_path, name, folder):
    with pytest.raises(FileNotFoundError) as err:
        load_torchvision(name, str(tmp_path), resolution=32, channels=1)
    msg = str(err.value)
    assert "\n" not in msg and repr(name) in msg
    assert str(tmp_path / folder) in msg
    assert "dataset.source.root" in msg and "dataset.source.download=true" in msg
    assert isinstance(err.value.__cause__, RuntimeError)


def test_corrupt_cifar_file_fails_md5(tmp_path):
    _fake_cifar(tmp_path)  # real md5 check: fake batches count as corrupt
    with pytest.raises(FileNotFoundError, match="dataset.source.root"):
        load_torchvision("cifar10", str(tmp_path), resolution=32, channels=3)


def test_download_without_network(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise URLError("network unreachable")

    # MNIST turns each mirror's URLError into one RuntimeError; CIFAR lets the URLError through
    monkeypatch.setattr(tv_mnist, "download_and_extract_archive", offline)
    monkeypatch.setattr(tv_cifar, "download_and_extract_archive", offline)
    for name, cause in (("mnist", RuntimeError), ("cifar10", URLError)):
        with pytest.raises(FileNotFoundError, match="download failed.*dataset.source.root") as err:
            load_torchvision(name, str(tmp_path), resolution=32, channels=1, download=True)
        assert "\n" not in str(err.value) and isinstance(err.value.__cause__, cause)


def test_unknown_name_and_split(tmp_path):
    with pytest.raises(ValueError, match="valid: cifar10, fashion_mnist, mnist"):
        load_torchvision("svhn", str(tmp_path), resolution=32, channels=3)
    with pytest.raises(ValueError, match="valid: train, test"):
        load_torchvision("mnist", str(tmp_path), resolution=32, channels=1, split="val")
