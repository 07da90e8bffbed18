"""Differences between settings in the results tables: ``diff_text`` / ``ci_note`` (ganlab/results/stats.py) and
the views that use them, on hand-made records whose intervals can be worked out by hand.

With one arm constant, every resample of the other arm's 3 seeds appears once per resample of the constant arm,
and the extreme means (all seeds the lowest / the highest: 1 of 27 resamples each, 3.7 % > 2.5 %) are the
interval's ends: ``[5, 6, 7]`` against ``[10, 10, 10]`` gives ``-4 [-5, -3]``.
"""

from __future__ import annotations

import pytest

from ganlab.results import get_view
from ganlab.results.stats import ci_note, diff_text
from ganlab.results.views.defaults import default_run_cis
from ganlab.results.views.modern import CI_NOTE


def record(run: str, metrics: dict, params: dict, **extra) -> dict:
    return {"study": "s", "run": run, "command": "x", "commit": "c", "machine": "m", "date": "d", "metrics": metrics,
            "card": None, "params": params, **extra}


def test_diff_text_gives_the_interval_or_says_one_seed_has_none():
    assert diff_text([5.0, 6.0, 7.0], [10.0, 10.0, 10.0]) == "-4.0 [-5.0, -3.0]"
    # a = [0, 3] against zeros: resample means 0, 1.5, 1.5, 3; the interval reaches 0
    assert diff_text([0.0, 3.0], [0.0, 0.0]) == "+1.5 [+0.0, +3.0]: not established"
    assert diff_text([45.5], [7.0, 8.0, 9.0]) == "+37.5 (one seed in an arm: no interval; not established)"
    assert diff_text([1.0, 2.0], [4.0], 2) == "-2.50 (one seed in an arm: no interval; not established)"
    with pytest.raises(ValueError, match="at least 1 value per arm"):
        diff_text([], [1.0, 2.0])


def test_ci_note_names_the_seed_counts():
    assert ci_note(3) == CI_NOTE == ci_note(3, 3)
    assert ci_note(3).startswith("CI: percentile bootstrap over the 3 seeds of each arm (`ganlab.results.diff_ci`); "
                                 "with 3 seeds an interval under-covers")
    assert "over the seeds of each arm (5 and 10 seeds; `ganlab.results.diff_ci`); with 5 to 10 seeds" in ci_note(10, 5)
    with pytest.raises(ValueError, match="at least 2"):
        ci_note(1, 3)


def test_ada_table_gives_differences_only_where_seeds_were_kept():
    records = []
    for arm, classes, r_t in (("none", (5.0, 6.0, 7.0), (0.3, 0.5, 0.4)), ("ada", (10.0, 10.0, 10.0), (0.4, 0.3, 0.5))):
        records += [record(f"{arm}-s{s}", {"classes_covered_end": c, "p_end": 0.0, "r_t_0_2000": r},
                           {"arm": arm, "seed": s}) for s, (c, r) in enumerate(zip(classes, r_t, strict=True))]
        records.append(record(f"{arm}-mean", {"fid_end_mean": 100.0, "fid_end_std": 5.0, "fid_best_mean": 20.0,
                                              "fid_best_std": 1.0}, {"arm": arm}, per_run=False))
    table = get_view("ada_subset500")(records)
    diffs = {row[0]: row[-1] for row in table.rows}
    assert diffs["val/fid at the end"] == "no interval: only the means were kept"
    assert diffs["classes covered at the end"] == "+4.0 [+3.0, +5.0]"  # ADA minus none: 10 - [7, 5]
    assert diffs["p at the end"] == "+0.000 [+0.000, +0.000]: not established"
    # the same three values in both arms: the difference is 0 and its interval symmetric about it
    assert diffs["mean r_t, steps 0-2000 (per seed)"].endswith("[-0.13, +0.13]: not established")
    assert table.notes == [CI_NOTE, "Precision, recall, class KL and speckle were not recorded for these runs."]


def sweep_run(seed: int, g_lr: float, fid: float, kl: float, covered: float = 10.0) -> dict:
    return record(f"g{g_lr}-s{seed}", {"val/fid_final": fid, "val/class_kl_final": kl, "steps": 15000.0,
                                       "val/classes_covered_final": covered},
                  {"ema.decay": 0.999, "optim.g.lr": g_lr, "optim.d.lr": 2e-4, "seed": float(seed)})


def test_sweep_compares_the_most_seeded_setting_with_each_other_several_seeded_one():
    records = [sweep_run(s, 8e-4, fid, 0.02) for s, fid in ((1, 4.0), (2, 5.0), (3, 6.0))]
    records += [sweep_run(s, 4e-4, 10.0, 0.05) for s in (1, 2)]
    records.append(sweep_run(1, 1e-4, 200.0, 2.0, covered=1.0))
    notes = get_view("default_sweep")(records).notes
    assert notes[0].startswith("Settings run with one seed: no interval")
    # 8e-4 minus 4e-4: [4, 5, 6] against [10, 10] -> -5 [-6, -4]; class KL 0.02 - 0.05, both arms constant
    assert notes[1].startswith("G lr 8e-4 minus 4e-4 (3 and 2 seeds), training-time FID at the end: -5.0 [-6.0, -4.0]; "
                               "class KL: -0.030 [-0.030, -0.030]. CI: percentile bootstrap over the seeds of each "
                               "arm (2 and 3 seeds;")
    assert notes[2:] == ["Precision, recall and speckle were not recorded for these runs."]


def test_default_run_differences_against_the_default_of_then_and_the_one_seed_old_default():
    now = [record(f"default-s{s}", {"fid": f}, {"recipe": "default", "seed": s}) for s, f in ((1, 7.0), (2, 8.0),
                                                                                          (3, 9.0))]
    now.append(record("old-s1", {"fid": 45.0}, {"recipe": "old default (~experiment)", "seed": 1}))
    before = [record(f"default-s{s}", {"fid": 7.0, "class_kl": 0.01}, {"recipe": "default", "seed": s})
              for s in (1, 2, 3)]
    before += [record(f"dcgan-s{s}", {"fid": f, "class_kl": 0.02}, {"recipe": "dcgan", "seed": s})
               for s, f in ((1, 6.0), (2, 7.0), (3, 8.0))]
    before.append(record("dcgan-mean", {"speckle": 0.0004}, {"recipe": "dcgan"}, per_run=False))
    batch64 = [record(f"b64-s{s}", {"eval/fid": 5.0, "eval/class_kl": 0.03}, {"seed": s}) for s in (1, 2, 3)]
    note = default_run_cis(now, before, batch64)
    assert "batch 64, 15,000 steps minus the default: FID -2.00 [-2.00, -2.00], class KL +0.0200 [+0.0200, " \
           "+0.0200];" in note
    # DCGAN [6, 7, 8] against a constant 7: the interval [-1, +1] holds 0
    assert "DCGAN preset minus the default: FID +0.00 [-1.00, +1.00]: not established, class KL +0.0100" in note
    assert "The default minus the old default, current code, FID: -37.0 (one seed in an arm: no interval; " \
           "not established)." in note


def test_pacgan_compares_each_packed_preset_with_the_gan_of_its_mixture():
    published = {m: 1.0 for m in ("modes", "high_quality", "reverse_kl")} | {
        f"{m}_error": 0.1 for m in ("modes", "high_quality", "reverse_kl")}
    records = []
    for preset, modes in (("pacgan_gan_grid", (19.0, 17.0, 21.0)), ("pacgan4_grid", (16.0, 11.0, 9.0))):
        records += [{**record(f"{preset}-s{s}", {"modes": m, "high_quality": 50.0, "reverse_kl": 0.5},
                              {"preset": preset, "seed": s}), "study": "pacgan", "published": published}
                    for s, m in enumerate(modes)]
    notes = get_view("pacgan")(records).notes
    assert len(notes) == 1
    assert notes[0].startswith("Measured, differences of means [95 % CI]: `pacgan4_grid` minus `pacgan_gan_grid`: "
                               "modes -7.0 [")
    assert "high quality (percentage points) +0.0 [+0.0, +0.0]: not established" in notes[0]
    assert notes[0].endswith(ci_note(3))
