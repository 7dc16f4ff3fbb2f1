"""Benchmark ``engagement-score score``: time and peak memory, with and without reasons.

Scores a simulated program as of its last day: features for the 31 daily as-of dates T-30 .. T,
31 scores per advocate, tiers with hysteresis, trend, momentum, at-risk and (optionally) the
SHAP reasons. Each case runs in its own child process so its peak resident memory is its own.
The input program is simulated once into a temporary folder (or reused with ``--data``); the
model is trained once on a small sample (110 rounds of up to 28 leaves, the size the tuned model
reached on a 20,000-advocate program: 104 rounds, 28 leaves) unless ``--model`` names one.

    python benchmarks/scoring.py                         # 100,000 advocates
    python benchmarks/scoring.py --advocates 20000 100000
    python benchmarks/scoring.py --data /tmp/sim1m --model models:/engagement-score@champion
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

END = pd.Timestamp("2026-12-01", tz="UTC")


def train_small_model(events_path: Path, advocates_path: Path, out_dir: Path) -> Path:
    """A model of the tuned model's size from 5,000 advocates, saved as a plain folder."""
    import lightgbm as lgb
    import numpy as np

    from engagement_score import io
    from engagement_score.features.build import build_features, feature_columns
    from engagement_score.features.labels import build_labels
    from engagement_score.serving.model import Calibration, EngagementModel

    inputs = io.load_inputs(events_path, advocates_path)
    ids = inputs.advocates["advocate_id"].sort_values().head(5_000)
    advocates = inputs.advocates[inputs.advocates["advocate_id"].isin(ids)]
    events = inputs.events[inputs.events["advocate_id"].isin(ids)]
    dates = [END - pd.Timedelta(days=30 + 14 * k) for k in range(1, 25)]
    table = build_features(events, advocates, dates).merge(
        build_labels(events, advocates, dates), on=["advocate_id", "as_of"]
    )
    names = feature_columns()
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 28, "learning_rate": 0.08, "verbose": -1,
         "min_data_in_leaf": 50, "num_threads": 1, "seed": 0},
        lgb.Dataset(table[names].astype(float), table["engaged"].astype(int)),
        num_boost_round=110,
    )  # fmt: skip
    model = EngagementModel(
        booster=booster,
        calibration=Calibration(raw=np.array([0.0, 1.0]), calibrated=np.array([0.0, 1.0]), method="identity"),
        feature_names=names,
        average_probability=float(table["engaged"].mean()),
    )  # fmt: skip
    return model.save(out_dir / "model")


def warm_numba_cache(model_uri: str) -> float:
    """Compile the TreeSHAP kernels into numba's on-disk cache, as any first run does once.

    A nightly job pays this once per installation, not per night; the cases below then measure
    the steady state. Returns the seconds it took (near zero when the cache was already warm).
    """
    import numpy as np

    from engagement_score.serving.model import load_model

    model = load_model(model_uri)
    rows = pd.DataFrame(np.zeros((4, len(model.feature_names))), columns=model.feature_names)
    started = time.perf_counter()
    model.contributions(rows)
    return time.perf_counter() - started


def run_case(
    data: Path, model_uri: str, reasons: bool, n_jobs: int, workers: int = 1
) -> dict[str, float]:
    """Load, score with the local engine, and measure (inside the child process)."""
    from engagement_score import io
    from engagement_score.serving.batch import score_program
    from engagement_score.serving.model import load_model

    model = load_model(model_uri)
    model.n_jobs = n_jobs
    started = time.perf_counter()
    # as `engagement-score score` reads them: event_id dropped once duplicates are collapsed
    inputs = io.load_inputs(
        data / "events.parquet", data / "advocates.parquet", keep_event_id=False
    )
    loaded = time.perf_counter()
    result = score_program(
        inputs.events, inputs.advocates, END, model, with_reasons=reasons, workers=workers
    )
    scored = time.perf_counter()
    return {
        "advocates": len(result.scores),
        "events": len(inputs.events),
        "load_s": loaded - started,
        "score_s": scored - loaded,
        "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        # the largest worker process (0 with one process); main + this bounds the job's peak
        "worker_peak_gib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--advocates", type=int, nargs="+", default=[100_000])
    parser.add_argument("--data", type=Path, help="a folder written by `simulate` (one size)")
    parser.add_argument("--model", help="model URI or folder (default: train a small one)")
    parser.add_argument("--n-jobs", type=int, default=1, help="LightGBM threads (per worker)")
    parser.add_argument("--workers", type=int, default=1, help="scoring processes")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        data, uri, reasons, n_jobs, workers = args.child
        print(json.dumps(run_case(Path(data), uri, reasons == "1", int(n_jobs), int(workers))))
        return
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    from engagement_score import simulate as sim

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folders = (
            [(args.data, None)]
            if args.data
            else [(Path(tmp) / f"sim{n}", n) for n in args.advocates]
        )
        model_uri = args.model
        for folder, n in folders:
            if n is not None:
                config = sim.SimulationConfig(n_advocates=n, n_days=730, seed=1, end=END)
                sim.write_program(folder, config)
            if model_uri is None:
                model_uri = str(
                    train_small_model(
                        folder / "events.parquet", folder / "advocates.parquet", Path(tmp)
                    )
                )
            compile_s = warm_numba_cache(model_uri)
            timings = {}
            for reasons in (False, True):
                out = subprocess.run(
                    [sys.executable, __file__, "--child", str(folder), model_uri,
                     str(int(reasons)), str(args.n_jobs), str(args.workers)],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                timings[reasons] = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(timings)
    print(
        f"Scoring processes: {args.workers}; LightGBM and TreeSHAP threads per process: "
        f"{args.n_jobs}; TreeSHAP kernels compiled into numba's cache beforehand in "
        f"{compile_s:.1f} s (once per installation). Peak GiB: the main process + the largest "
        "worker (an upper bound of the job's peak resident memory).\n\n"
        "| advocates | events | case | load s | score s | total s | peak GiB | reasons cost |\n"
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |"
    )
    for timings in rows:
        base = timings[False]["score_s"]
        for reasons, t in timings.items():
            ratio = f"{t['score_s'] / base:.2f}x" if reasons else "1.00x"
            case = "score + trend + reasons" if reasons else "score + trend, no reasons"
            print(
                f"| {t['advocates']:,} | {t['events']:,} | {case} | {t['load_s']:.1f} | "
                f"{t['score_s']:.1f} | {t['load_s'] + t['score_s']:.1f} | "
                f"{t['peak_gib'] + t['worker_peak_gib']:.2f} | {ratio} |"
            )


if __name__ == "__main__":
    main()
