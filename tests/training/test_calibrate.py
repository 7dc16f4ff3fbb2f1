"""Calibration tables: monotone, within [0, 1], a faithful Platt/isotonic, and the choice."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engagement_score.serving.model import Calibration
from engagement_score.training.calibrate import choose_calibration, fit_isotonic, fit_platt


def synthetic(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    true = rng.uniform(0.02, 0.98, n)
    raw = true**2  # an over-confident-low, monotone-distorted model
    y = (rng.random(n) < true).astype(int)
    return raw, y, np.arange(n) % 400


@pytest.mark.parametrize("fit", [fit_isotonic, fit_platt])
def test_tables_are_monotone_and_cover_the_unit_interval(fit) -> None:
    raw, y, _ = synthetic()
    table = fit(raw, y)
    assert np.all(np.diff(table.raw) > 0)
    assert np.all(np.diff(table.calibrated) >= 0)
    assert table.raw[0] == 0.0 and table.raw[-1] == 1.0
    assert table.calibrated.min() >= 0 and table.calibrated.max() <= 1
    out = table.transform(np.linspace(-0.5, 1.5, 101))  # outside [0, 1] is clipped
    assert np.all(np.diff(out) >= 0) and out.min() >= 0 and out.max() <= 1


def test_isotonic_undoes_a_monotone_distortion() -> None:
    raw, y, _ = synthetic(20000)
    table = fit_isotonic(raw, y)
    grid = np.array([0.04, 0.25, 0.49, 0.81])
    assert np.allclose(table.transform(grid), np.sqrt(grid), atol=0.05)


def test_platt_matches_its_logistic_curve() -> None:
    rng = np.random.default_rng(3)
    raw = rng.uniform(0.01, 0.99, 20000)
    z = np.log(raw / (1 - raw))
    y = (rng.random(raw.size) < 1 / (1 + np.exp(-(0.5 * z + 0.3)))).astype(int)
    table = fit_platt(raw, y)
    expected = 1 / (1 + np.exp(-(0.5 * z[:50] + 0.3)))
    assert np.allclose(table.transform(raw[:50]), expected, atol=0.03)


def test_choice_uses_out_of_fold_brier_and_is_deterministic() -> None:
    raw, y, groups = synthetic()
    a = choose_calibration(raw, y, groups, folds=5)
    b = choose_calibration(raw, y, groups, folds=5)
    assert set(a.brier) == {"isotonic", "platt"}
    assert a.calibration.method == min(a.brier, key=a.brier.get)
    assert a.calibration.to_dict() == b.calibration.to_dict()
    # the chosen table improves on the raw probabilities
    assert np.mean((a.calibration.transform(raw) - y) ** 2) < np.mean((raw - y) ** 2)


def test_round_trip_and_validation() -> None:
    raw, y, _ = synthetic(500)
    table = fit_isotonic(raw, y)
    again = Calibration.from_dict(table.to_dict())
    assert np.array_equal(again.raw, table.raw) and again.method == "isotonic"
    with pytest.raises(ValueError):
        Calibration(np.array([0.0, 0.5, 0.4]), np.array([0.1, 0.2, 0.3]), "isotonic")
    with pytest.raises(ValueError):
        Calibration(np.array([0.0, 1.0]), np.array([0.5, 0.4]), "isotonic")


@settings(max_examples=30, deadline=None)
@given(
    raw=st.lists(st.floats(0, 1), min_size=5, max_size=200),
    seed=st.integers(0, 1000),
)
def test_property_isotonic_table_is_monotone(raw: list[float], seed: int) -> None:
    p = np.asarray(raw)
    y = (np.random.default_rng(seed).random(p.size) < 0.5).astype(int)
    table = fit_isotonic(p, y)
    assert np.all(np.diff(table.raw) > 0) and np.all(np.diff(table.calibrated) >= 0)
    probe = np.sort(np.random.default_rng(seed).random(50))
    assert np.all(np.diff(table.transform(probe)) >= 0)
