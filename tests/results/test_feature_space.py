"""Headers name the feature space from the records' cards, and notes say which quality metrics were not recorded
(ganlab/results/tables.py: feature_space, recorded, not_recorded)."""

from __future__ import annotations

import pytest

from ganlab.results.tables import feature_space, not_recorded, recorded


def rec(card: object = None, **metrics: float | None) -> dict:
    return {"study": "s", "run": "r", "command": "x", "commit": "c", "machine": "m", "date": "d",
            "metrics": metrics, "card": card}


def test_the_card_names_the_feature_space_in_both_forms():
    evaluated = {"feature": {"class": "ganlab.metrics.extractors.digits.DigitFeatures", "name": "digit_classifier_v2",
                             "version": "v2"}}
    assert feature_space([rec(evaluated), rec({"feature": "digit_classifier_v2 (v2)"})]) == "digit features v2"
    assert feature_space([rec({"feature": "digit_classifier (v1)"})]) == "digit features v1"
    assert feature_space([rec({"feature": {"name": "digit_classifier"}})]) == "digit features v1"  # by its name
    assert feature_space([rec({"feature": {"name": "inception-v3-compat"}})]) == "Inception"
    assert feature_space([rec({"feature": {"name": "clip_vitl14_336"}})]) == "CLIP ViT-L/14@336px"
    assert feature_space([rec({"feature": "ganlab.metrics.dinov2.DINOv2Features dinov2_vitb14 (random weights)"})]) \
        == "DINOv2 ViT-B/14"


def test_no_card_says_so_and_mixed_spaces_are_refused():
    assert feature_space([rec(None), rec({})]) == "feature version not recorded"
    assert feature_space([rec({"feature": {"class": "x.DigitFeatures"}})]) == \
        "digit features, feature version not recorded"
    with pytest.raises(ValueError, match="several feature spaces"):
        feature_space([rec({"feature": "digit_classifier (v1)"}), rec({"feature": "digit_classifier_v2 (v2)"})])
    with pytest.raises(ValueError, match="several feature spaces"):
        feature_space([rec({"feature": "digit_classifier (v1)"}), rec(None)])


def test_not_recorded_lists_what_no_record_holds_in_any_form():
    records = [rec(**{"eval/class_kl": 0.1, "val/speckle_vs_real_final": 3.0, "psi=1/precision_test": 0.5})]
    assert recorded(records, "class_kl") and recorded(records, "speckle") and recorded(records, "precision")
    assert not_recorded(records) == "Recall was not recorded for this run."
    assert not_recorded([rec(fid=1.0), rec(fid=2.0)]) == ("Precision, recall, class KL and speckle were not "
                                                          "recorded for these runs.")
    assert not_recorded([rec(precision=1.0, recall=1.0)], ("precision", "recall")) is None
