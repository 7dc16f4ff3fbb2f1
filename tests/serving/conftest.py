"""A small simulated program and a small real LightGBM model, shared by the serving tests."""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from engagement_score.features.build import build_features, feature_columns
from engagement_score.features.labels import build_labels
from engagement_score.serving.model import Calibration, EngagementModel
from engagement_score.simulate import SimulationConfig, simulate_program

AS_OF = pd.Timestamp("2026-11-01", tz="UTC")


@dataclass(frozen=True)
class Program:
    events: pd.DataFrame
    advocates: pd.DataFrame
    model: EngagementModel
    as_of: pd.Timestamp


@pytest.fixture(scope="session")
def program() -> Program:
    config = SimulationConfig(
        n_advocates=400, n_days=420, seed=11, end=pd.Timestamp("2026-12-01", tz="UTC")
    )
    sim = simulate_program(config)
    advocates = sim.advocates.copy()
    # an advocate with no events at all, who must still get a score
    quiet = advocates.iloc[[0]].copy()
    quiet["advocate_id"] = "Z-QUIET"
    quiet["joined_at"] = pd.Timestamp("2026-06-01", tz="UTC")
    advocates = pd.concat([advocates, quiet], ignore_index=True)
    dates = [AS_OF - pd.Timedelta(days=7 * k) for k in range(4, 30, 2)]
    features = build_features(sim.events, advocates, dates)
    labels = build_labels(sim.events, advocates, dates)
    table = features.merge(labels, on=["advocate_id", "as_of"])
    names = feature_columns()
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 8, "learning_rate": 0.1, "verbose": -1,
         "seed": 1, "num_threads": 1, "deterministic": True},
        lgb.Dataset(table[names].astype(float), table["engaged"].astype(int)),
        num_boost_round=40,
    )  # fmt: skip
    raw = booster.predict(table[names].astype(float))
    knots = np.quantile(raw, np.linspace(0, 1, 11))
    knots = np.unique(knots)
    observed = [
        table["engaged"][(raw >= a) & (raw <= b)].mean()
        for a, b in zip(knots, knots[1:], strict=False)
    ]
    calibrated = np.maximum.accumulate(np.r_[observed[0], observed])
    model = EngagementModel(
        booster=booster,
        calibration=Calibration(raw=knots, calibrated=calibrated, method="isotonic"),
        feature_names=names,
        average_probability=float(table["engaged"].mean()),
        metadata={},
    )
    return Program(events=sim.events, advocates=advocates, model=model, as_of=AS_OF)
