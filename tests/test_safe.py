"""ganlab.safe and the loaders built on it, fuzzed with bad files: each gives one line naming the file."""

from __future__ import annotations

import copy
import logging
import random
from pathlib import Path

import pytest
import torch

from ganlab import safe
from ganlab.checkpoint import CheckpointError, load_generator, read_checkpoint
from ganlab.metrics.extraction import extract, real_reference
from ganlab.metrics.extractors import digits
from ganlab.metrics.extractors.digits import DigitFeatures, default_weights_path
from ganlab.metrics.reference_cache import ReferenceCache
from ganlab.metrics.scoring.suite import compute_metrics
from ganlab.nets.mlp import MLPGenerator

G_CONFIG = {"_target_": "ganlab.nets.mlp.MLPGenerator", "z_dim": 8, "resolution": 4, "channels": 1, "hidden": [16]}


@pytest.fixture(scope="module")
def good() -> dict:
    """A minimal checkpoint as ganlab-train lays it out: G's weights under "generator." and the config."""
    torch.manual_seed(0)
    g = MLPGenerator(z_dim=8, resolution=4, channels=1, hidden=[16])
    state = {f"generator.{k}": v for k, v in g.state_dict().items()}
    return {"state_dict": state, "global_step": 7, "ganlab": {"config": {"generator": dict(G_CONFIG)}}}


def _save(obj, path: Path) -> Path:
    torch.save(obj, path)
    return path


class Payload:
    """Unpickling it would create the file ``target``: a checkpoint that tries to run code."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))


def test_good_checkpoint_loads(good, tmp_path):
    loaded = load_generator(_save(good, tmp_path / "good.ckpt"))
    assert loaded.global_step == 7 and loaded.generator.z_dim == 8 and not loaded.ema
    for k, v in loaded.generator.state_dict().items():
        assert torch.equal(v, good["state_dict"][f"generator.{k}"])


def _bytes_cases(good: dict, tmp_path: Path) -> dict[str, tuple[bytes, str]]:
    """name -> (file bytes, the part of the one-line error that names the problem)."""
    whole = _save(good, tmp_path / "whole.ckpt").read_bytes()
    rnd = random.Random(0)
    return {
        "empty": (b"", "is empty; expected a ganlab-train checkpoint"),
        "truncated": (whole[: len(whole) // 2], "truncated or damaged"),
        "tail cut": (whole[:-40], "truncated or damaged"),
        "random bytes": (bytes(rnd.getrandbits(8) for _ in range(4096)), "not a torch file, or damaged"),
        "text": (b"model: generator\n", "not a torch file, or damaged"),
    }


@pytest.mark.parametrize("case", ["empty", "truncated", "tail cut", "random bytes", "text"])
def test_damaged_files_are_one_line_errors(good, tmp_path, case):
    data, message = _bytes_cases(good, tmp_path)[case]
    path = tmp_path / "bad.ckpt"
    path.write_bytes(data)
    with pytest.raises(CheckpointError) as info:
        load_generator(path)
    text = str(info.value)
    assert "\n" not in text and text.startswith(str(path)) and message in text


def test_pickle_payload_is_refused_without_running(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "pwned"
    for obj in (Payload(target), {"state_dict": {}, "ganlab": {"config": Payload(target)}}):
        path = _save(obj, tmp_path / "evil.ckpt")
        with pytest.raises(CheckpointError, match="asks to run or build .*which a data-only load refuses"):
            read_checkpoint(path)
        assert not target.exists()  # the __reduce__ side effect never happened
    with pytest.raises(safe.BadFileError, match="asks to run or build"):  # the same guard for any file
        safe.load(path, safe.Tensors, what="weights")
    assert not target.exists()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([1, 2], "its content is list, expected a mapping with keys state_dict"),
        (torch.zeros(3), "its content is Tensor, expected a mapping"),
        ({"a": 1}, "its content has no key 'state_dict'"),
        ({"state_dict": {"w": 1}, "ganlab": {"config": {"generator": {}}}}, "entry 'w' is int, expected a tensor"),
        ({"state_dict": {}}, "has no key 'ganlab'"),
        ({"state_dict": {}, "ganlab": {"config": {}}}, "ganlab.config has no key 'generator'"),
        ({"state_dict": {}, "ganlab": {"config": {"generator": 3}}}, "ganlab.config.generator is int, expected"),
        ({"state_dict": {}, "ganlab": {"config": {"generator": {}}}, "global_step": "7"}, "global_step is str"),
    ],
)
def test_wrong_payloads_name_the_key(tmp_path, payload, message):
    path = _save(payload, tmp_path / "x.ckpt")
    with pytest.raises(CheckpointError) as info:
        load_generator(path)
    assert message in str(info.value) and "\n" not in str(info.value)


def _with_generator(good: dict, edit) -> dict:
    out = copy.deepcopy(good)
    edit(out["ganlab"]["config"]["generator"])
    return out


FOREIGN = [
    # (edit of the stored generator config, target named in the error, where)
    (lambda g: g.update(_target_="pathlib.Path.write_text", self="pwned", data="x"), "pathlib.Path.write_text",
     "generator"),
    (lambda g: g.update(act={"_target_": "pathlib.Path.write_text", "_partial_": True}), "pathlib.Path.write_text",
     "generator.act"),
    (lambda g: g.update(hidden=[{"_target_": "os.system", "command": "touch pwned"}]), "os.system",
     "generator.hidden[0]"),
    (lambda g: g.update(_target_="ganlab.cli.train.main"), "ganlab.cli.train.main", "generator"),
    # allowed prefixes that reach other code through an imported name, a private name or a function
    (lambda g: g.update(_target_="ganlab.data.folder.Path.write_text"), "ganlab.data.folder.Path.write_text",
     "generator"),
    (lambda g: g.update(_target_="ganlab.nets.mlp.torch.save"), "ganlab.nets.mlp.torch.save", "generator"),
    (lambda g: g.update(_target_="ganlab.nets.mlp.MLPGenerator.__init__"), "MLPGenerator.__init__", "generator"),
    (lambda g: g.update(_target_="ganlab.metrics.extractors.clip.convert_openai_release"), "convert_openai_release",
     "generator"),
    (lambda g: g.update(_target_=3), "_target_ 3", "generator"),
]


@pytest.mark.parametrize(("edit", "target", "where"), FOREIGN)
def test_foreign_targets_are_refused_before_building(good, tmp_path, monkeypatch, edit, target, where):
    monkeypatch.chdir(tmp_path)
    path = _save(_with_generator(good, edit), tmp_path / "ckpt.ckpt")
    with pytest.raises(CheckpointError) as info:
        load_generator(path)
    text = str(info.value)
    assert text.startswith(f"{path}: its config names _target_ ") and target in text and f"(at {where})" in text
    assert "which is not a ganlab/torch component; refusing to build it" in text and "\n" not in text
    assert not (tmp_path / "pwned").exists()


def test_interpolation_in_stored_config_is_refused(good, tmp_path):
    path = _save(_with_generator(good, lambda g: g.update(hidden="${oc.create:[16]}")), tmp_path / "i.ckpt")
    with pytest.raises(CheckpointError, match=r"holds the interpolation '\$\{oc.create:\[16\]\}' at generator.hidden"):
        load_generator(path)


def test_generator_must_be_a_ganlab_generator(good, tmp_path):
    edit = _with_generator(good, lambda g: (g.clear(), g.update(_target_="torch.nn.Linear", in_features=2,
                                                                 out_features=2)))
    with pytest.raises(CheckpointError, match=r"\(torch.nn.Linear\) builds a Linear without an integer z_dim"):
        load_generator(_save(edit, tmp_path / "lin.ckpt"))


def test_allowed_targets_are_components():
    for target in ("ganlab.nets.mlp.MLPGenerator", "ganlab.losses.Hinge", "torch.optim.Adam", "torch.nn.Linear",
                   "ganlab.metrics.extractors.digits.DigitFeatures", "torch.optim.lr_scheduler.LinearLR"):
        safe.check_targets({"_target_": target, "_partial_": True}, path="f", where="x")
    # a function, even a dataset factory, only as a stored dataset.source (safe.check_dataset_source)
    with pytest.raises(safe.BadFileError, match="ganlab.data.toy.load_ring .at x., which is not a ganlab/torch"):
        safe.check_targets({"_target_": "ganlab.data.toy.load_ring", "_partial_": True}, path="f", where="x")


def test_digit_weights_go_through_the_safe_loader(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _save({"meta": {}}, tmp_path / "nosd.pt")
    with pytest.raises(safe.BadFileError, match=r"nosd.pt is not digit classifier weights .*has no key 'state_dict'"):
        DigitFeatures(str(tmp_path / "nosd.pt"))
    _save({"state_dict": {"w": Payload(tmp_path / "pwned")}}, tmp_path / "evil.pt")
    with pytest.raises(safe.BadFileError, match="asks to run or build"):
        DigitFeatures(str(tmp_path / "evil.pt"))
    assert not (tmp_path / "pwned").exists()
    ckpt = torch.load(default_weights_path(), map_location="cpu", weights_only=True)
    del ckpt["state_dict"]["head.bias"]
    with pytest.raises(safe.BadFileError, match=r"weights do not fit the DigitClassifier .*head\.bias.*"
                                                rf"{digits.WEIGHTS_KEY}"):
        DigitFeatures(str(_save(ckpt, tmp_path / "short.pt")))


@pytest.mark.parametrize("damage", ["truncate", "random", "foreign", "no features"])
def test_corrupt_cache_entry_is_recomputed_with_a_warning(tmp_path, caplog, damage):
    torch.manual_seed(0)
    from ganlab.data.base import ImageData

    data = ImageData(x=torch.randint(0, 256, (60, 1, 32, 32), dtype=torch.uint8), y=None, name="noise")
    feats, cache = DigitFeatures(), ReferenceCache(tmp_path)
    clean, hit, _ = real_reference(data, feats, cache, batch_size=30)
    assert not hit
    (entry,) = tmp_path.glob("*.pt")
    if damage == "truncate":
        entry.write_bytes(entry.read_bytes()[:100])
    elif damage == "random":
        entry.write_bytes(bytes(random.Random(1).getrandbits(8) for _ in range(2000)))
    elif damage == "foreign":
        _save([1, 2, 3], entry)
    else:
        _save({"identity": "{}", "tensors": {"logits": torch.zeros(2)}}, entry)
    with caplog.at_level(logging.WARNING, logger="ganlab.metrics.reference_cache"):
        again, hit, _ = real_reference(data, feats, cache, batch_size=30)
    assert not hit and torch.equal(again, clean)  # recomputed: the same features as the clean run
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and str(entry) in warned[0] and "recomputing" in warned[0]
    third, hit, _ = real_reference(data, feats, cache, batch_size=30)
    assert hit and torch.equal(third, clean)  # the entry was rewritten whole
    fake = extract(feats, [torch.rand(40, 1, 32, 32) * 2 - 1])
    assert compute_metrics(again, fake, ["fid"]) == compute_metrics(clean, fake, ["fid"])
