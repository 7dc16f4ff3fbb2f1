"""The promotion gate: against the champion on the same window, or against the baselines."""

from __future__ import annotations

from engagement_score.config import PromotionConfig
from engagement_score.training.register import decide_promotion

BASELINES = {
    "tally": {"all.roc_auc": 0.80, "active.roc_auc": 0.70},
    "recency": {"all.roc_auc": 0.78, "active.roc_auc": 0.65},
}


def test_first_model_must_beat_every_baseline_overall_and_among_the_active() -> None:
    good = {"all.roc_auc": 0.86, "active.roc_auc": 0.75}
    decision = decide_promotion(good, None, BASELINES)
    assert decision.promote
    assert "first model" in decision.reasons[0]
    weak_active = {"all.roc_auc": 0.86, "active.roc_auc": 0.69}
    decision = decide_promotion(weak_active, None, BASELINES)
    assert not decision.promote
    assert any("does not beat tally" in r for r in decision.reasons)
    assert not decide_promotion({"all.roc_auc": 0.9}, None, BASELINES).promote  # active missing


def test_against_the_champion_every_metric_at_least_as_good() -> None:
    champion = {"all.roc_auc": 0.85, "all.brier": 0.15}
    same = dict(champion)
    assert decide_promotion(same, champion, BASELINES).promote  # ties promote (retrain)
    worse_brier = {"all.roc_auc": 0.86, "all.brier": 0.16}
    decision = decide_promotion(worse_brier, champion, BASELINES)
    assert not decision.promote
    assert any("brier" in r and "worse" in r for r in decision.reasons)
    worse_auc = {"all.roc_auc": 0.84, "all.brier": 0.14}
    assert not decide_promotion(worse_auc, champion, BASELINES).promote
    lenient = PromotionConfig(metrics=("roc_auc", "brier"), tolerance=0.02)
    assert decide_promotion(worse_auc, champion, BASELINES, lenient).promote


def test_missing_metric_never_passes_and_reasons_are_given() -> None:
    decision = decide_promotion({"all.roc_auc": 0.9}, {"all.roc_auc": 0.8}, BASELINES)
    assert not decision.promote
    assert "unavailable" in decision.summary()
    assert not decide_promotion({"all.roc_auc": 0.9}, None, {}).promote
