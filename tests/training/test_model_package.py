"""The shipped model object: calibrated predictions, SHAP shape, save/load without pickle."""

from __future__ import annotations

import json

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from engagement_score.serving.model import Calibration, EngagementModel, probability_to_score
from engagement_score.training.calibrate import fit_isotonic


@pytest.fixture(scope="module")
def model() -> EngagementModel:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=600), "b": rng.normal(size=600)})
    X.loc[::7, "b"] = np.nan
    y = (X["a"] + rng.normal(size=600) > 0).astype(int)
    params = {"objective": "binary", "verbosity": -1, "seed": 0, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=20)
    cal = fit_isotonic(booster.predict(X), y.to_numpy())
    return EngagementModel(booster, cal, ["a", "b"], 0.5, {"label": {"horizon_days": 30}})


def test_probability_to_score() -> None:
    assert probability_to_score([0.0, 0.004, 0.005, 0.695, 0.7, 1.0]).tolist() == [
        0,
        0,
        0,
        70,
        70,
        100,
    ]
    assert probability_to_score(np.array([0.5])).dtype.kind == "i"


def test_predictions_contributions_and_round_trip(model: EngagementModel, tmp_path) -> None:
    X = pd.DataFrame({"b": [0.1, np.nan], "a": [2.0, -2.0], "advocate_id": ["x", "y"]})
    p = model.predict_proba(X)  # column order and extra columns do not matter
    assert p.shape == (2,) and p[0] > p[1]
    assert np.allclose(p, model.calibration.transform(model.predict_raw(X)))
    contrib = model.contributions(X)
    assert contrib.shape == (2, 3)
    logit = np.log(model.predict_raw(X) / (1 - model.predict_raw(X)))
    assert np.allclose(contrib.sum(axis=1), logit, atol=1e-6)
    model.save(tmp_path / "m")
    doc = json.loads((tmp_path / "m" / "model.json").read_text())
    assert doc["feature_names"] == ["a", "b"] and doc["calibration"]["method"] == "isotonic"
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["booster.txt", "model.json"]
    again = EngagementModel.load(tmp_path / "m")
    assert np.allclose(again.predict_proba(X), p)
    assert again.metadata == {"label": {"horizon_days": 30}}
    with pytest.raises(ValueError, match="lack"):
        model.predict_proba(pd.DataFrame({"a": [1.0]}))


def test_identity_calibration() -> None:
    ident = Calibration.identity()
    assert np.allclose(ident.transform([0.0, 0.3, 1.0]), [0.0, 0.3, 1.0])
