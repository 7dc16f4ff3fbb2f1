"""Metrics of the test window on hand-checked numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engagement_score.training.evaluate import (
    binary_metrics,
    evaluate_candidates,
    expected_calibration_error,
    lift_top_decile,
    results_table,
    subpopulations,
    to_markdown,
)


def test_ece_is_zero_when_rates_match_and_grows_with_miscalibration() -> None:
    p = np.r_[np.full(100, 0.2), np.full(100, 0.8)]
    y = np.r_[np.ones(20), np.zeros(80), np.ones(80), np.zeros(20)]
    assert expected_calibration_error(y, p, bins=10) == pytest.approx(0.0)
    assert expected_calibration_error(y, np.clip(p + 0.1, 0, 1), bins=10) == pytest.approx(0.1)


def test_lift_top_decile_and_ties() -> None:
    y = np.r_[np.ones(10), np.zeros(90)]
    perfect = np.linspace(1, 0, 100)
    assert lift_top_decile(y, perfect) == pytest.approx(10.0)
    assert lift_top_decile(y, np.zeros(100)) == pytest.approx(1.0)  # all tied: no lift


def test_binary_metrics_known_values() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])
    m = binary_metrics(y, p, bins=10)
    assert m["roc_auc"] == pytest.approx(0.75)
    assert m["brier"] == pytest.approx(np.mean((p - y) ** 2))
    assert m["n"] == 4 and m["positive_rate"] == 0.5
    single = binary_metrics(np.ones(3, dtype=int), np.full(3, 0.9))
    assert np.isnan(single["roc_auc"])


def test_subpopulations_and_tables() -> None:
    utc = "datetime64[us, UTC]"
    t = pd.Timestamp("2025-06-01", tz="UTC")
    frame = pd.DataFrame(
        {
            "advocate_id": ["a", "b", "c"],
            "as_of": pd.Series([t] * 3, dtype=utc),
            "active": [True, False, True],
        }
    )
    advocates = pd.DataFrame(
        {
            "advocate_id": ["a", "b", "c"],
            "joined_at": pd.Series(
                pd.to_datetime(["2025-05-01", "2024-01-01", "2024-01-01"], utc=True), dtype=utc
            ),
            "community_connected_at": pd.Series(
                pd.to_datetime(["2025-05-02", None, "2025-07-01"], utc=True), dtype=utc
            ),
        }
    )
    pops = subpopulations(frame, advocates, new_tenure_days=90)
    assert pops["new"].tolist() == [True, False, False]
    assert pops["connected"].tolist() == [True, False, False]  # c connects after T
    assert pops["active"].tolist() == [True, False, True]
    y = np.array([1, 0, 1])
    metrics = evaluate_candidates(y, {"m": np.array([0.9, 0.1, 0.8])}, pops)
    table = results_table(metrics)
    assert table.loc["m", "roc_auc (all)"] == pytest.approx(1.0)
    md = to_markdown(table)
    assert md.startswith("| candidate |") and "| m |" in md


def test_reliability_table_by_hand() -> None:
    from engagement_score.training.evaluate import reliability_table

    y = np.array([0, 1, 1, 1, 0])
    p = np.array([0.05, 0.15, 0.95, 0.91, 0.99])
    table = reliability_table(y, p, bins=10)
    assert [row["count"] for row in table] == [1, 1, 3]
    assert table[0] == {"bin_mean_predicted": 0.05, "observed_rate": 0.0, "count": 1}
    assert table[2]["observed_rate"] == pytest.approx(2 / 3)
    assert table[2]["bin_mean_predicted"] == pytest.approx((0.95 + 0.91 + 0.99) / 3)
