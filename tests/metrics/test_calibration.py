"""Calibration of the digit feature spaces: v2 ranks distortions as a researcher would; v1 still gives old numbers."""

from __future__ import annotations

import pytest
import torch

from ganlab.data.base import to_model_space
from ganlab.data.mnist5k import load_mnist5k
from ganlab.metrics.calibration.calibrate import Row, calibrate, markdown_table, plot, value
from ganlab.metrics.calibration.distortions import FAMILIES
from ganlab.metrics.extraction import extractor_card
from ganlab.metrics.extractors.digits import DigitFeatures
from ganlab.metrics.reference_cache import cache_key
from ganlab.metrics.scoring import scores

# recorded on main at e07ce5e (before v2 existed) by the code of test_v1_reproduces_a_recorded_fid
V1_FID_SALT5_SEED0 = 112.46630261589709


@pytest.fixture(scope="module")
def mnist() -> tuple[torch.Tensor, torch.Tensor]:
    data = load_mnist5k(resolution=32, channels=1)
    return to_model_space(data.x), data.y


def _feats(f: DigitFeatures, x: torch.Tensor) -> torch.Tensor:
    return torch.cat([f(x[i : i + 500]) for i in range(0, len(x), 500)])


def test_v1_reproduces_a_recorded_fid(mnist):
    x, _ = mnist
    f = DigitFeatures(version="v1")
    real = _feats(f, x)
    g = torch.Generator().manual_seed(0)
    idx = torch.randperm(5000, generator=g)[:2500]
    d = x[idx].clone()
    d[torch.rand(d.shape, generator=g) < 0.05] = 1.0  # 5 % salt on a seeded half
    assert scores.fid(real, _feats(f, d)) == pytest.approx(V1_FID_SALT5_SEED0, rel=1e-4)


def test_versions_are_recorded_in_card_and_cache_key():
    v1, v2 = DigitFeatures(version="v1"), DigitFeatures()
    c1, c2 = extractor_card(v1), extractor_card(v2)
    assert (v1.version, v2.version) == ("v1", "v2")
    assert c1["name"] == "digit_classifier" and c2["name"] == "digit_classifier_v2"  # v1's name as before v2
    assert c1["sha256"] != c2["sha256"]
    assert cache_key({"extractor": c1}) != cache_key({"extractor": c2})
    with pytest.raises(ValueError, match=r"dataset\.feature\.version='v3'.*valid: v1, v2"):
        DigitFeatures(version="v3")


@pytest.fixture(scope="module")
def v2_rows(mnist) -> list[Row]:
    x, y = mnist
    return calibrate(DigitFeatures(version="v2"), x, y, metrics=["fid"])


@pytest.mark.slow  # the whole suite: 26 sets of 2,500 images through the extractor (about a minute)
def test_v2_fid_is_monotone_in_each_distortion(v2_rows):
    for fam in FAMILIES:
        fids = [value(v2_rows, fam.name, s) for s in fam.strengths]
        assert fids == sorted(fids) and len(set(fids)) == len(fids), f"{fam.name}: {fids}"


@pytest.mark.slow
def test_v2_orderings_a_researcher_insists_on(v2_rows):
    floor = value(v2_rows, "half")
    collapse = value(v2_rows, "collapse")
    pixel = {f"{f.name} {s}": value(v2_rows, f.name, s) for f in FAMILIES if f.pixel for s in f.strengths}
    assert floor < 0.5
    assert collapse > 2 * max(pixel.values()), pixel  # collapse onto one class far worse than any pixel distortion
    half_classes = value(v2_rows, "drop_classes", 5)
    assert half_classes > value(v2_rows, "salt", 0.05) and half_classes > value(v2_rows, "gaussian_noise", 0.3)
    assert all(v > floor for v in pixel.values())  # every pixel distortion is seen above the floor


def test_table_and_plot(tmp_path):
    rows = {"a": [Row("half", 0, {"fid": 0.1}), Row("salt", 0.05, {"fid": 4.4})],
            "b": [Row("half", 0, {"fid": 0.2}), Row("salt", 0.05, {"fid": 112.5})]}
    table = markdown_table(rows, ["fid"])
    assert table.splitlines()[2] == "| half | 0.1 | 0.2 |"
    assert table.splitlines()[3] == "| salt 0.05 fraction | 4.4 | 112.5 |"
    png = plot(rows, tmp_path / "c.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
