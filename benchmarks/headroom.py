"""How much is left to learn on a simulated program: feature ablations and privileged diagnostics.

Issue 4 asks the model to beat the tally (events in the last 30 days) by 0.05 ROC AUC on the test
window of a simulated program. This script measures, on the training pipeline's own rows and
split (the test window is the latest four weekly as-of dates), how far candidate feature families
move a *fixed* LightGBM (no tuning, so differences are the features'), and how far the model would
get if it were handed parts of the simulator's hidden state (privileged information no real
program has: a diagnostic of where the remaining signal lives, never a feature of the product).

    engagement-score simulate --out /tmp/sim20k --advocates 20000 --days 730 --seed 0
    python benchmarks/headroom.py /tmp/sim20k                 # about 8 minutes on 2 cores
    python benchmarks/headroom.py /tmp/sim20k --base-only --learning-curve   # 2 minutes

Candidates (each added to the 73 features of ``features/feature_spec.yaml``):

* ``non-login``: all 73 features again, computed on non-login events only;
* ``lifetime``: gap statistics over the advocate's whole history (lapses of 28+ and 56+ days,
  longest and mean gap, active share of the span), on all and on non-login events;
* ``ewma``: exponentially weighted event counts (half-lives 3 to 120 days) of non-login, valuable
  and all events;
* ``params``: the plain features with other LightGBM settings;
* ``true archetype`` / ``true regime + fade`` / ``true qualifying rate``: the simulator's hidden
  state (``truth.parquet``) as features: diagnostics only.

``--learning-curve`` also fits the plain features on 25% and 50% of the training advocates (the
same test rows): if more data no longer helps, the learner is not what limits the model.

Prints one markdown table: ROC AUC overall and among the active, and the margin over the tally.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

KEYS = ["advocate_id", "as_of"]
VALUABLE = ("high_value", "participation")
PARAMS = {
    "objective": "binary", "learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 200,
    "feature_fraction": 0.7, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
    "verbose": -1, "seed": 0,
}  # fmt: skip


def lifetime_features(events: pd.DataFrame, keys: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """Gap statistics of each advocate's active days before T, over their whole history."""
    ids = pd.Index(np.sort(keys["advocate_id"].unique()))
    code = ids.get_indexer(events["advocate_id"].astype(str))
    ok = code >= 0
    day = events["occurred_at"].astype("int64").to_numpy()[ok] // 86_400_000_000
    key = np.unique(code[ok].astype(np.int64) * 100_000 + day)
    adv, d = key // 100_000, key % 100_000
    first = np.r_[True, adv[1:] != adv[:-1]]
    gap = np.where(first, 0, np.r_[0, np.diff(d)])
    start = np.maximum.accumulate(np.where(first, np.arange(len(key)), 0))

    def per_advocate_cumsum(x: np.ndarray) -> np.ndarray:
        c = np.cumsum(x)
        return c - np.r_[0, c][start]

    lapses28 = per_advocate_cumsum(gap >= 28)
    lapses56 = per_advocate_cumsum(gap >= 56)
    gap_sum = per_advocate_cumsum(gap)
    longest = pd.Series(gap).groupby(adv).cummax().to_numpy()
    k_adv = ids.get_indexer(keys["advocate_id"].astype(str)).astype(np.int64)
    k_day = keys["as_of"].astype("int64").to_numpy() // 86_400_000_000
    pos = np.searchsorted(key, k_adv * 100_000 + k_day) - 1  # last active day before T
    p = np.maximum(pos, 0)
    seen = (pos >= 0) & (adv[p] == k_adv)
    first_pos = np.searchsorted(key, k_adv * 100_000)
    n_days = np.where(seen, pos - first_pos + 1, 0)
    span = np.where(seen, k_day - d[np.minimum(first_pos, len(d) - 1)], np.nan)
    out = keys.reset_index(drop=True).copy()
    out[prefix + "life_active_days"] = n_days
    out[prefix + "life_lapses_28d"] = np.where(seen, lapses28[p], 0)
    out[prefix + "life_lapses_56d"] = np.where(seen, lapses56[p], 0)
    out[prefix + "life_longest_gap"] = np.where(seen, longest[p], np.nan)
    out[prefix + "life_mean_gap"] = np.where(
        n_days > 1, gap_sum[p] / np.maximum(n_days - 1, 1), np.nan
    )
    out[prefix + "life_active_share"] = n_days / np.maximum(span, 1)
    return out


def ewma_features(events: pd.DataFrame, keys: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """Exponentially weighted counts of the events before T, several half-lives."""
    ids = pd.Index(np.sort(keys["advocate_id"].unique()))
    code = ids.get_indexer(events["advocate_id"].astype(str))
    day = events["occurred_at"].astype("int64").to_numpy() / 86_400e6
    parts = []
    for as_of, rows in keys.groupby("as_of"):
        t = as_of.value / 1000 / 86_400e6
        m = (day < t) & (code >= 0)
        where = ids.get_indexer(rows["advocate_id"])
        part = rows[KEYS].copy()
        for half_life in (3, 7, 14, 30, 60, 120):
            w = np.exp2(-(t - day[m]) / half_life)
            part[f"{prefix}ewma_{half_life}d"] = np.bincount(code[m], w, len(ids))[where]
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def candidates(
    run: Callable[..., None], events: pd.DataFrame, advocates: pd.DataFrame,
    used: list[pd.Timestamp], spec: Any, columns: list[str], keys: pd.DataFrame,
) -> None:  # fmt: skip
    """Candidate feature families and model sizes, each fitted by ``run``."""
    from engagement_score.features.build import build_features

    non_login = events[events["event_type"] != "login"]
    q = build_features(non_login, advocates, used, spec=spec)
    run("+ the 73 on non-login events", q.rename(columns={c: f"q_{c}" for c in columns}))
    life = lifetime_features(events, keys, "").merge(
        lifetime_features(non_login, keys, "q_"), on=KEYS
    )
    run("+ lifetime gap statistics", life)
    valuable = {t for c in spec.categories if c.name in VALUABLE for t in c.event_types}
    ewma = ewma_features(non_login, keys, "q_").merge(
        ewma_features(events[events["event_type"].isin(valuable)], keys, "v_"), on=KEYS
    )
    run("+ EWMA counts", ewma.merge(ewma_features(events, keys, "a_"), on=KEYS))
    run("params: 63 leaves, lr 0.02, 1200 rounds", params={"num_leaves": 63,
        "learning_rate": 0.02, "min_data_in_leaf": 100}, rounds=1200)  # fmt: skip
    run("params: 15 leaves, 300 rounds", params={"num_leaves": 15}, rounds=300)


def diagnostics(run: Callable[..., None], truth_path: Path, keys: pd.DataFrame) -> None:
    """The simulator's hidden state as features (diagnostics only, never product features)."""
    if not truth_path.is_file():
        return
    truth = pd.read_parquet(truth_path)
    truth["advocate_id"] = truth["advocate_id"].astype(str)
    truth["date"] = pd.to_datetime(truth["date"], utc=True).astype("datetime64[us, UTC]")
    archetype = truth.groupby("advocate_id")["archetype"].first().astype("category")
    arch = keys.merge(archetype.cat.codes.rename("true_archetype").reset_index(), on="advocate_id")
    run("diagnostic: + true archetype", arch)
    state = truth[["advocate_id", "date", "regime", "valuable_multiplier", "qualifying_rate"]]
    state = state.assign(regime=state["regime"].astype("category").cat.codes).sort_values("date")
    latent = pd.merge_asof(
        keys.sort_values("as_of"), state, left_on="as_of", right_on="date",
        by="advocate_id", direction="backward", allow_exact_matches=False,
    ).drop(columns="date")  # fmt: skip
    run("diagnostic: + true regime and fade", latent[[*KEYS, "regime", "valuable_multiplier"]])
    run("diagnostic: + true qualifying rate", latent[[*KEYS, "qualifying_rate"]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a folder written by `engagement-score simulate`")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--learning-curve", action="store_true",
        help="also fit on 25%% and 50%% of the training advocates (same test rows)",
    )  # fmt: skip
    parser.add_argument(
        "--base-only", action="store_true", help="skip the candidate features and diagnostics"
    )
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")

    from engagement_score import io
    from engagement_score.config import FeatureSpec, TrainingConfig
    from engagement_score.features.labels import observation_end, snapshot_dates
    from engagement_score.training.pipeline import build_training_frame
    from engagement_score.training.split import make_split

    config, spec = TrainingConfig.load(), FeatureSpec.load()
    inputs = io.load_inputs(args.data / "events.parquet", args.data / "advocates.parquet")
    events = inputs.events
    horizon = config.label.horizon_days
    end = observation_end(events)
    dates = snapshot_dates(events["occurred_at"].min(), end, config.snapshots, horizon)
    split = make_split(dates, config.split, horizon)
    used = sorted(set(split.refit) | set(split.calibration) | set(split.test))
    frame, columns = build_training_frame(events, inputs.advocates, used, config, spec)
    keys = frame[KEYS]
    refit = np.asarray(split.mask(frame["as_of"], "refit"))
    test = np.asarray(split.mask(frame["as_of"], "test"))
    y = frame["engaged"].to_numpy(int)
    active = frame["active"].to_numpy(bool)[test]
    tally = frame["tally"].to_numpy(float)[test]
    tally_all = roc_auc_score(y[test], tally)
    tally_active = roc_auc_score(y[test][active], tally[active])
    rows: list[tuple[str, float, float, float]] = []

    # a fixed share of the training advocates (by a hash of the id) for the learning curve
    share = pd.util.hash_pandas_object(frame["advocate_id"].astype(str), index=False).to_numpy()
    share = (share % 1000) / 1000

    def run(label: str, extra: pd.DataFrame | None = None, params: dict | None = None,
            rounds: int = 400, fraction: float = 1.0) -> None:  # fmt: skip
        started = time.perf_counter()
        table, cols = frame, list(columns)
        if extra is not None:
            table = frame.merge(extra, on=KEYS, how="left", validate="one_to_one")
            cols += [c for c in extra.columns if c not in KEYS]
        X = table[cols].astype("float32")
        p = PARAMS | {"num_threads": args.threads} | (params or {})
        train = refit & (share < fraction)
        booster = lgb.train(p, lgb.Dataset(X[train], y[train]), rounds)
        pred = booster.predict(X[test])
        auc = roc_auc_score(y[test], pred)
        auc_active = roc_auc_score(y[test][active], pred[active])
        rows.append((label, auc, auc_active, time.perf_counter() - started))
        print(f"{label}: {auc:.4f} / {auc_active:.4f}", flush=True)

    run("73 features (fixed LightGBM)")
    if args.learning_curve:
        for fraction in (0.25, 0.5):
            run(f"73 features, {fraction:.0%} of the training advocates", fraction=fraction)
    if not args.base_only:
        candidates(run, events, inputs.advocates, used, spec, columns, keys)
        diagnostics(run, args.data / "truth.parquet", keys)
    print(f"\n{int(test.sum()):,} test rows ({int(active.sum()):,} active), "
          f"{int(refit.sum()):,} training rows\n")  # fmt: skip
    print("| candidate | roc_auc (all) | over tally | roc_auc (active) | over tally | s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(f"| tally (events, last 30 days) | {tally_all:.4f} | | {tally_active:.4f} | | |")
    for label, auc, auc_active, seconds in rows:
        print(
            f"| {label} | {auc:.4f} | {auc - tally_all:+.4f} | {auc_active:.4f} | "
            f"{auc_active - tally_active:+.4f} | {seconds:.0f} |"
        )


if __name__ == "__main__":
    main()
