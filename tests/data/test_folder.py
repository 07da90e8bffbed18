"""load_folder on tiny folders of solid-colour PNGs, whose resized pixels are exact."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
import torch
from PIL import Image

from ganlab.data.folder import load_folder

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def _png(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (40, 40)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


def _luma(colour: tuple[int, int, int]) -> int:
    return Image.new("RGB", (1, 1), colour).convert("L").getpixel((0, 0))


def _solid(colour: tuple[int, ...], n: int = 1, res: int = 16) -> torch.Tensor:
    return torch.tensor(colour, dtype=torch.uint8).view(1, -1, 1, 1).expand(n, -1, res, res)


def test_imagefolder_layout_labels_by_sorted_folder(tmp_path):
    _png(tmp_path / "dog" / "a.png", BLUE)
    _png(tmp_path / "cat" / "b.png", RED, (50, 30))
    _png(tmp_path / "cat" / "nested" / "c.PNG", GREEN)  # searched recursively, suffix case-insensitive
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    d = load_folder(str(tmp_path), resolution=16, channels=3)
    assert d.x.dtype == torch.uint8 and d.x.shape == (3, 3, 16, 16)
    assert d.y.tolist() == [0, 0, 1]  # cat/b.png, cat/nested/c.PNG, dog/a.png
    assert torch.equal(d.x, torch.cat([_solid(RED), _solid(GREEN), _solid(BLUE)]))


def test_flat_folder_unlabelled_and_gray(tmp_path):
    for i, c in enumerate((RED, GREEN, BLUE)):
        _png(tmp_path / f"{i}.png", c, (24, 24))
    d = load_folder(str(tmp_path), resolution=8, channels=1)
    assert d.y is None and d.x.shape == (3, 1, 8, 8)
    assert torch.equal(d.x, torch.cat([_solid((_luma(c),), res=8) for c in (RED, GREEN, BLUE)]))


def test_gray_png_to_three_channels(tmp_path):
    Image.new("L", (20, 20), 77).save(tmp_path / "g.png")
    d = load_folder(str(tmp_path), resolution=10, channels=3)
    assert torch.equal(d.x, _solid((77, 77, 77), res=10))


@pytest.mark.parametrize("wide", [True, False])
def test_non_square_is_centre_cropped(tmp_path, wide):
    # three 20-pixel bands across the long side; the square crop keeps exactly the middle (green) band
    im = Image.new("RGB", (60, 20) if wide else (20, 60), RED)
    im.paste(GREEN, (20, 0, 40, 20) if wide else (0, 20, 20, 40))
    im.paste(BLUE, (40, 0, 60, 20) if wide else (0, 40, 20, 60))
    im.save(tmp_path / "bands.png")
    d = load_folder(str(tmp_path), resolution=20, channels=3)
    assert torch.equal(d.x, _solid(GREEN, res=20))
    # with a resize too (60x20 -> 30x10): the band edges blend, the crop's centre stays pure green
    small = load_folder(str(tmp_path), resolution=10, channels=3).x
    assert small.shape == (1, 3, 10, 10)
    assert torch.equal(small[:, :, 4:6, 4:6], _solid(GREEN, res=2))


def _corrupt(tmp_path: Path) -> None:
    _png(tmp_path / "a.png", RED)
    (tmp_path / "b_garbage.png").write_bytes(b"this is not a png" * 10)
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), GREEN).save(buf, format="PNG", compress_level=0)
    (tmp_path / "c_truncated.png").write_bytes(buf.getvalue()[:200])  # valid header, data cut short
    _png(tmp_path / "d.png", BLUE)


def test_corrupt_skipped_with_one_warning(tmp_path, caplog):
    _corrupt(tmp_path)
    with caplog.at_level(logging.WARNING, logger="ganlab.data.folder"):
        d = load_folder(str(tmp_path), resolution=16, channels=3, on_error="skip")
    assert torch.equal(d.x, torch.cat([_solid(RED), _solid(BLUE)]))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    msg = warnings[0].getMessage()
    assert "skipped 2 unreadable" in msg and "b_garbage.png" in msg and "c_truncated.png" in msg


def test_corrupt_raises_naming_file(tmp_path):
    _corrupt(tmp_path)
    with pytest.raises(ValueError, match="b_garbage.png") as err:
        load_folder(str(tmp_path), resolution=16, channels=3, on_error="raise")
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="valid: skip, raise"):
        load_folder(str(tmp_path), resolution=16, channels=3, on_error="ignore")


def test_all_corrupt_is_an_error(tmp_path):
    (tmp_path / "x.png").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="none of the 1 images"):
        load_folder(str(tmp_path), resolution=16, channels=3)


def test_missing_and_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="dataset.source.path") as err:
        load_folder(str(tmp_path / "nope"), resolution=16, channels=3)
    assert "nope" in str(err.value)
    (tmp_path / "readme.txt").write_text("no images here")
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(ValueError, match=r"holds no images with extensions .png, .jpg") as err:
        load_folder(str(tmp_path), resolution=16, channels=3)
    assert str(tmp_path) in str(err.value)


def test_mixed_layout_and_bad_channels(tmp_path):
    _png(tmp_path / "cls" / "a.png", RED)
    _png(tmp_path / "loose.png", RED)
    with pytest.raises(ValueError, match="mixes class sub-folders"):
        load_folder(str(tmp_path), resolution=16, channels=3)
    with pytest.raises(ValueError, match="valid: 1 or 3"):
        load_folder(str(tmp_path / "cls"), resolution=16, channels=4)


def test_max_images_spreads_over_classes(tmp_path):
    for cls, c in (("a", RED), ("b", BLUE)):
        for i in range(5):
            _png(tmp_path / cls / f"{i}.png", c, (16, 16))
    d = load_folder(str(tmp_path), resolution=16, channels=3, max_images=4)
    assert len(d) == 4 and d.y.tolist() == [0, 0, 1, 1]


# a 16-bit gradient and its 8-bit values by hand: round(v / 257), since 65535 / 255 = 257
GRADIENT_16 = [0, 257, 514, 1000, 32768, 65535]
GRADIENT_8 = [0, 1, 2, 4, 128, 255]  # 1000 / 257 = 3.89 -> 4; 32768 / 257 = 127.502 -> 128


@pytest.mark.parametrize(("mode", "scale", "suffix"), [("I;16", 1, ".png"), ("I", 1, ".tif"), ("F", 1 / 65535, ".tif")])
@pytest.mark.parametrize("channels", [1, 3])
def test_high_bit_depth_images_are_scaled_not_clipped(tmp_path, mode, scale, suffix, channels):
    import numpy as np

    dtype = {"I;16": np.uint16, "I": np.int32, "F": np.float32}[mode]
    columns = np.array(GRADIENT_16, dtype=np.float64) * scale
    im = Image.fromarray(np.tile(columns, (6, 1)).astype(dtype))  # 6x6, each column one value
    assert im.mode == mode
    im.save(tmp_path / f"g{suffix}")
    assert Image.open(tmp_path / f"g{suffix}").mode == mode  # PIL reads it back at its bit depth
    d = load_folder(str(tmp_path), resolution=6, channels=channels)
    expected = torch.tensor(GRADIENT_8, dtype=torch.uint8).view(1, 1, 1, 6).expand(1, channels, 6, 6)
    assert torch.equal(d.x, expected)  # before the fix: 0 then 255 everywhere (PIL clips to 8 bits)
