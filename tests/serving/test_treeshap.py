"""The fast TreeSHAP gives LightGBM's own ``pred_contrib`` values, for any booster it accepts."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engagement_score.features.build import build_features
from engagement_score.serving import treeshap
from engagement_score.serving.model import EngagementModel

from .conftest import Program


def _data(seed: int, n: int, k: int, nan_share: float, zero_share: float) -> tuple:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, k)) * rng.choice([1.0, 10.0], size=k)
    X[rng.random((n, k)) < zero_share] = 0.0
    X[:, 0] = np.round(X[:, 0])  # a count-like column with ties on thresholds
    c = [min(i, k - 1) for i in range(4)]
    logit = X[:, c[0]] - 0.5 * X[:, c[1]] + (X[:, c[2]] > 0) * X[:, c[3]]
    X[rng.random((n, k)) < nan_share] = np.nan
    y = (rng.random(n) < 1 / (1 + np.exp(-np.nan_to_num(logit)))).astype(int)
    return X, y


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    k=st.integers(1, 8),
    leaves=st.integers(2, 40),
    max_depth=st.sampled_from([-1, 3, 6]),
    rounds=st.integers(1, 25),
    nan_share=st.sampled_from([0.0, 0.1, 0.4]),
    zero_share=st.sampled_from([0.0, 0.3]),
    missing=st.sampled_from(["nan", "zero", "none"]),
    objective=st.sampled_from(["binary", "regression"]),
)
def test_equals_pred_contrib(
    seed: int,
    k: int,
    leaves: int,
    max_depth: int,
    rounds: int,
    nan_share: float,
    zero_share: float,
    missing: str,
    objective: str,
) -> None:
    X, y = _data(seed, 300, k, nan_share, zero_share)
    params = {
        "objective": objective,
        "num_leaves": leaves,
        "max_depth": max_depth,
        "min_data_in_leaf": 3,
        "verbose": -1,
        "num_threads": 1,
        "seed": seed,
        "use_missing": missing != "none",
        "zero_as_missing": missing == "zero",
    }
    booster = lgb.train(params, lgb.Dataset(X, y.astype(float)), num_boost_round=rounds)
    compiled = treeshap.compile_booster(booster)
    assert compiled is not None
    # Rows never seen in training too: other NaN patterns, exact zeros, values on thresholds.
    X_new, _ = _data(seed + 1, 200, k, 0.3, 0.3)
    for rows in (X, X_new):
        expected = booster.predict(rows, pred_contrib=True)
        got = treeshap.contributions(compiled, rows, n_jobs=1)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
        # SHAP values add up to the raw prediction.
        np.testing.assert_allclose(
            got.sum(axis=1), booster.predict(rows, raw_score=True), atol=1e-9
        )


@pytest.mark.parametrize("leaves", [64, 120])  # 120 leaves: more splits than one 64-bit word
def test_deep_leaves_computed_without_a_table(monkeypatch: pytest.MonkeyPatch, leaves: int) -> None:
    X, y = _data(3, 2000, 8, 0.1, 0.1)
    booster = lgb.train(
        {"objective": "binary", "num_leaves": leaves, "min_data_in_leaf": 2, "verbose": -1},
        lgb.Dataset(X, y),
        num_boost_round=5,
    )
    if leaves > 64:
        assert np.diff(treeshap.compile_booster(booster).node_start).max() > 63
    monkeypatch.setattr(treeshap, "MAX_TABLE_DEPTH", 2)
    compiled = treeshap.compile_booster(booster)
    assert compiled is not None and (compiled.table_start < 0).any()
    np.testing.assert_allclose(
        treeshap.contributions(compiled, X[:300], n_jobs=2),
        booster.predict(X[:300], pred_contrib=True),
        rtol=0,
        atol=1e-9,
    )


def test_single_leaf_trees_and_empty_input() -> None:
    X = np.zeros((50, 3))
    booster = lgb.train(
        {"objective": "regression", "verbose": -1}, lgb.Dataset(X, np.arange(50.0)), 3
    )
    compiled = treeshap.compile_booster(booster)
    assert compiled is not None
    np.testing.assert_allclose(
        treeshap.contributions(compiled, X, n_jobs=1), booster.predict(X, pred_contrib=True)
    )
    assert treeshap.contributions(compiled, X[:0]).shape == (0, 4)


def test_categorical_splits_fall_back_to_lightgbm() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"c": pd.Categorical(rng.integers(0, 5, 500)), "x": rng.normal(size=500)})
    y = (X["c"].cat.codes.isin([1, 3]) ^ (X["x"] > 0)).astype(int)
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "min_data_per_group": 5, "cat_smooth": 1},
        lgb.Dataset(X, y),
        10,
    )
    assert treeshap.compile_booster(booster) is None


def test_model_reasons_use_it_and_agree(program: Program) -> None:
    features = build_features(program.events, program.advocates, program.as_of)
    fast = program.model.contributions(features)
    slow = EngagementModel(
        booster=program.model.booster,
        calibration=program.model.calibration,
        feature_names=program.model.feature_names,
        average_probability=program.model.average_probability,
        shap_engine="lightgbm",
    ).contributions(features)
    assert program.model._compiled_trees() is not None
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9)
