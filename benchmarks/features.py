"""Benchmark of the point-in-time feature pipeline against a straightforward DuckDB query.

For each program size (simulated advocates) and each number of as-of dates (1, and 31 daily dates
for the 30-day trend) it measures, each case in its own subprocess so memory peaks do not mix:

* ``pipeline``: ``build_features`` (all features) on frames already in memory; for outputs that
  would not fit in memory (``--stream-above`` rows) the chunks of ``iter_features`` are computed
  and dropped instead of concatenated (marked ``streamed``). With ``--warm`` the same call is
  timed a second time in the same process (memory already mapped, as in a long-running job).
* ``core``: the pipeline's own engine (same reading, blocks and primitives) computing only
  DuckDB's work, the 10 core counts: the engine against DuckDB on equal work.
* ``duckdb``: the same core window counts (events and distinct active days in 7, 30, 90, 180 and
  365 days, per advocate and as-of date) as one SQL query over a table already loaded into DuckDB.

``--threads N`` computes the pipeline's chunks in N threads (``build_features(n_jobs=N)``).
``--repeat N`` runs every case N times (each in its own process) and reports the median.
Time is wall-clock (``time.perf_counter``) around the computation only; peak memory is the
process's maximum resident set size (``ru_maxrss``), which includes the loaded input tables
(reported separately as ``rss after load``). Data are simulated into ``--data-dir`` (default under
``/tmp``), never into the repository. Also checks, on the smallest size, that the pipeline's counts
equal DuckDB's.

Usage::

    python benchmarks/features.py --sizes 100000 1000000 --dates 1 31
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

WINDOWS = (7, 30, 90, 180, 365)
CORE = [f"events_{w}d" for w in WINDOWS] + [f"active_days_{w}d" for w in WINDOWS]


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def ensure_data(data_dir: Path, n_advocates: int, seed: int = 0) -> Path:
    """Simulate a program of ``n_advocates`` into ``data_dir/n`` unless it is already there."""
    out = data_dir / f"advocates_{n_advocates}"
    if (out / "events.parquet").is_file() and (out / "advocates.parquet").is_file():
        return out
    try:
        from engagement_score.simulate import SimulationConfig, write_program
    except ImportError:  # pragma: no cover - simulator not available: a plain numpy generator
        return _numpy_program(out, n_advocates, seed)
    write_program(out, SimulationConfig(n_advocates=n_advocates, seed=seed))
    return out


def _numpy_program(out: Path, n: int, seed: int, per_advocate: int = 100) -> Path:
    """A crude stand-in program: Poisson event counts, uniform times over two years."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    end = pd.Timestamp("2026-12-01", tz="UTC")
    ids = np.array([f"A{i:07d}" for i in range(n)], dtype=object)
    joined = end - pd.to_timedelta(rng.integers(30, 1500, n), unit="D")
    counts = rng.poisson(per_advocate, n)
    owner = np.repeat(np.arange(n), counts)
    when = end - pd.to_timedelta(rng.integers(0, 730 * 86400, len(owner)), unit="s")
    types = np.array(
        ["login", "challenge_completed", "review_written", "post_created", "like_given"]
    )
    pd.DataFrame(
        {
            "advocate_id": ids[owner],
            "occurred_at": when,
            "event_type": types[rng.integers(0, len(types), len(owner))],
            "source": np.where(rng.random(len(owner)) < 0.7, "portal", "community"),
            "value": rng.integers(0, 20, len(owner)).astype(float),
        }
    ).to_parquet(out / "events.parquet", index=False)
    pd.DataFrame({"advocate_id": ids, "joined_at": joined}).to_parquet(
        out / "advocates.parquet", index=False
    )
    return out


def load(data: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two tables through the real reading path, :func:`engagement_score.io.load_inputs`
    (validated block by block; compact ``category`` columns; ``event_id`` dropped after dedup)."""
    from engagement_score.io import load_inputs

    inputs = load_inputs(data / "events.parquet", data / "advocates.parquet", keep_event_id=False)
    return inputs.events, inputs.advocates


def as_of_dates(events: pd.DataFrame, n_dates: int) -> list[pd.Timestamp]:
    """The last ``n_dates`` midnights before the end of the simulated period, one day apart."""
    end = events["occurred_at"].max().floor("D")
    return [end - pd.Timedelta(days=k) for k in range(n_dates)][::-1]


def duckdb_counts(con, dates: list[pd.Timestamp]):  # noqa: ANN001 - duckdb connection
    """The SQL reference, straightforward but not naive: events are first aggregated to one row
    per (advocate, day) with its event count; each as-of date is then joined to the days of the
    365 days before it, and every window is a filtered sum (events) or count (active days)."""
    stamps = ", ".join(f"TIMESTAMPTZ '{d.isoformat()}'" for d in dates)
    cols = []
    for w in WINDOWS:
        cond = f"d.day >= a.t_day - {w}"
        cols.append(f"coalesce(sum(d.n) FILTER (WHERE {cond}), 0) AS events_{w}d")
        cols.append(f"count(*) FILTER (WHERE {cond}) AS active_days_{w}d")
    sql = f"""
        WITH a AS (SELECT t, CAST(t AS DATE) AS t_day FROM (SELECT unnest([{stamps}]) AS t)),
        d AS (SELECT advocate_id, day, count(*) AS n FROM ev GROUP BY ALL)
        SELECT d.advocate_id, a.t AS as_of, {", ".join(cols)}
        FROM d JOIN a ON d.day < a.t_day AND d.day >= a.t_day - 365
        GROUP BY ALL
    """
    result = con.sql(sql).arrow()
    return result.read_all() if hasattr(result, "read_all") else result


def _duckdb_table(events: pd.DataFrame, threads: int):  # noqa: ANN202 - duckdb connection
    import duckdb

    con = duckdb.connect(config={"threads": threads})
    frame = pd.DataFrame(
        {
            "advocate_id": events["advocate_id"].cat.codes.to_numpy(),  # ids as integer codes
            "occurred_at": events["occurred_at"],
        }
    )
    con.register("events_df", frame)
    con.sql(
        "SET TimeZone = 'UTC'; CREATE TABLE ev AS SELECT advocate_id, "
        "CAST(date_trunc('day', occurred_at) AS DATE) AS day FROM events_df"
    )
    con.unregister("events_df")
    return con


def core_counts(
    events: pd.DataFrame, advocates: pd.DataFrame, dates: list[pd.Timestamp], collect: bool = False
) -> int | dict[str, np.ndarray]:
    """The pipeline's own engine on DuckDB's work only: the 10 core counts, nothing else.

    The same reading of the frames (:func:`_prepare`), the same blocks and the same primitives
    (cumulative sums on a grid for events, dense day presence for active days) as
    ``build_features``, so the time compares the engine with DuckDB on equal work. Returns the
    number of (advocate, as-of) rows (every roster advocate x date, joined yet or not), or with
    ``collect`` the counts as ``(advocates, dates)`` arrays in roster order (for :func:`verify`).
    """
    from engagement_score.config import FeatureSpec
    from engagement_score.features import build
    from engagement_score.features.windows import cumsum0, cumulative_bins, dense_presence

    spec = FeatureSpec.load()
    grid = build.as_of_grid(dates)
    arrays = build._prepare(events, advocates, grid, spec)
    n = len(arrays.ids)
    size = build._block_size(50_000, len(grid.days))
    cuts = np.searchsorted(arrays.adv, np.arange(0, n + size, size))
    rows = 0
    parts: dict[str, list[np.ndarray]] = {c: [] for c in CORE}
    for i, lo in enumerate(range(0, n, size)):
        a = arrays.take(lo, min(lo + size, n), slice(cuts[i], cuts[i + 1]))
        t = grid.days
        start = int(t[0]) - max(WINDOWS)
        n_days, t_rel = int(t[-1]) - start, t - start
        keep = a.day >= start
        adv, rel = a.adv[keep], a.day[keep] - start
        positions = np.unique((t_rel[None, :] - np.array((0, *WINDOWS))[:, None]).ravel())
        bins = np.searchsorted(positions, rel, side="right")
        cum = cumulative_bins(adv, bins, len(a.ids), len(positions), dtype=np.int32)
        act = cumsum0(dense_presence(adv, rel, len(a.ids), n_days))
        at = np.searchsorted(positions, t_rel)
        out = {}
        for w in WINDOWS:
            out[f"events_{w}d"] = cum[:, at] - cum[:, np.searchsorted(positions, t_rel - w)]
            out[f"active_days_{w}d"] = act[:, t_rel] - act[:, t_rel - w]
        rows += out["events_7d"].size
        if collect:
            for c in CORE:
                parts[c].append(out[c])
    if not collect:
        return rows
    return {"advocate_id": arrays.ids} | {c: np.concatenate(v) for c, v in parts.items()}


def run_case(
    kind: str, data: Path, n_dates: int, stream_above: int, warm: bool = False, threads: int = 1
) -> dict[str, object]:
    start = time.perf_counter()
    events, advocates = load(data)
    load_seconds = time.perf_counter() - start
    rss_loaded = peak_gib()
    dates = as_of_dates(events, n_dates)
    result: dict[str, object] = {
        "events": len(events),
        "advocates": len(advocates),
        "load_seconds": round(load_seconds, 1),
    }
    if kind == "pipeline":
        from engagement_score.config import FeatureSpec
        from engagement_score.features import build_features, iter_features

        spec = FeatureSpec.load()
        streamed = len(advocates) * n_dates > stream_above
        if threads > 1 and not streamed:
            result["threads"] = threads

        def once() -> int:
            if not streamed:
                return len(build_features(events, advocates, dates, spec, n_jobs=threads))
            rows = 0
            for frame in iter_features(events, advocates, dates, spec):
                rows += len(frame)
                del frame
            return rows

        start = time.perf_counter()
        rows = once()
        seconds = time.perf_counter() - start
        result |= {"rows": rows, "streamed": streamed}
        if warm:  # a second call in the same process: memory already mapped, as in a long job
            start = time.perf_counter()
            once()
            result["warm_seconds"] = round(time.perf_counter() - start, 2)
    elif kind == "core":
        start = time.perf_counter()
        rows = core_counts(events, advocates, dates)
        seconds = time.perf_counter() - start
        result |= {"rows": rows}
    elif kind == "duckdb":
        duckdb_threads = int(os.environ.get("DUCKDB_THREADS", "2"))
        con = _duckdb_table(events, duckdb_threads)
        del events
        rss_loaded = peak_gib()
        start = time.perf_counter()
        table = duckdb_counts(con, dates)
        seconds = time.perf_counter() - start
        result |= {"rows": table.num_rows, "threads": duckdb_threads}
    else:
        raise SystemExit(f"unknown case {kind}")
    return result | {
        "seconds": round(seconds, 2),
        "peak_gib": round(peak_gib(), 2),
        "rss_after_load_gib": round(rss_loaded, 2),
    }


def verify(data: Path, n_dates: int) -> str:
    """Check the pipeline's core counts equal DuckDB's on this program."""
    from engagement_score.features import build_features

    events, advocates = load(data)
    dates = as_of_dates(events, n_dates)
    ours = build_features(events, advocates, dates)
    con = _duckdb_table(events, 2)
    ref = duckdb_counts(con, dates).to_pandas()
    ref["as_of"] = ref["as_of"].astype("datetime64[us, UTC]")
    ref["advocate_id"] = pd.Series(
        events["advocate_id"].cat.categories.take(ref["advocate_id"].to_numpy()), dtype="str"
    )
    ours["advocate_id"] = ours["advocate_id"].astype("str")
    merged = ours[["advocate_id", "as_of", *CORE]].merge(
        ref, on=["advocate_id", "as_of"], how="left", suffixes=("", "_sql")
    )
    bad = 0
    for c in CORE:
        bad += int((merged[c].to_numpy() != merged[f"{c}_sql"].fillna(0).to_numpy()).sum())
    extra = len(ref) - len(ref.merge(ours[["advocate_id", "as_of"]]))
    # The core-counts engine case gives the pipeline's numbers (one date: rows = roster order).
    core = core_counts(events, advocates, dates, collect=True)
    pos = np.searchsorted(core["advocate_id"].astype(str), ours["advocate_id"].to_numpy())
    core_bad = sum(int((core[c][pos, 0] != ours[c].to_numpy()).sum()) for c in CORE)
    return (
        f"{len(merged):,} rows x {len(CORE)} counts compared, {bad} differ, {extra} extra in SQL; "
        f"core-counts case: {core_bad} differ"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--dates", type=int, nargs="+", default=[1, 31])
    parser.add_argument("--cases", nargs="+", default=["pipeline", "core", "duckdb"])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/engagement_score_bench"))
    parser.add_argument("--stream-above", type=int, default=10_000_000, help="output rows")
    parser.add_argument("--no-verify", action="store_true")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per case")
    parser.add_argument(
        "--warm", action="store_true", help="pipeline: also time a second call in the process"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per case (each its own process); the median"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="pipeline: threads computing chunks (not streamed)"
    )
    parser.add_argument("--run-case", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.run_case:  # child process: one case, JSON on stdout
        row = run_case(
            args.run_case, args.data, args.dates[0], args.stream_above, args.warm, args.threads
        )
        print(json.dumps(row))
        return

    results = []
    for size in args.sizes:
        started = time.perf_counter()
        data = ensure_data(args.data_dir, size)
        print(
            f"# data for {size:,} advocates ready in {time.perf_counter() - started:.0f} s: {data}"
        )
        if size == min(args.sizes) and not args.no_verify:
            print(f"# check against DuckDB (1 date): {verify(data, 1)}", flush=True)
        for n_dates in args.dates:
            for kind in args.cases:
                cmd = [
                    sys.executable, __file__, "--run-case", kind, "--data", str(data),
                    "--dates", str(n_dates), "--stream-above", str(args.stream_above),
                    "--threads", str(args.threads),
                ] + (["--warm"] if args.warm else [])  # fmt: skip
                runs = []
                for _ in range(args.repeat):
                    try:
                        proc = subprocess.run(
                            cmd, capture_output=True, text=True, check=False, timeout=args.timeout
                        )
                    except subprocess.TimeoutExpired:
                        runs.append({"error": [f"timed out after {args.timeout:.0f} s"]})
                        break
                    if proc.returncode != 0:
                        runs.append({"error": proc.stderr.strip().splitlines()[-1:]})
                        break
                    runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
                ok = [r for r in runs if "error" not in r]
                if len(ok) < len(runs):
                    row = runs[-1]
                else:  # the run of median compute time, and every run's time
                    row = sorted(ok, key=lambda r: r["seconds"])[len(ok) // 2]
                    row["all_seconds"] = [r["seconds"] for r in ok]
                row |= {"advocates_requested": size, "as_of_dates": n_dates, "case": kind}
                results.append(row)
                print(json.dumps(row), flush=True)

    print(
        "\n| advocates | events | as-of dates | case | load s | compute s (median) | runs s "
        "| warm s | peak GiB | GiB after load | rows |"
    )
    print("| ---: | ---: | ---: | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    for r in results:
        if "error" in r:
            print(f"| {r['advocates_requested']:,} | | {r['as_of_dates']} | {r['case']} | "
                  f"| error: {r['error']} | | | | | |")  # fmt: skip
            continue
        note = " (streamed)" if r.get("streamed") else ""
        note += " (10 core counts only)" if r["case"] == "core" else ""
        note += f" ({r['threads']} threads)" if "threads" in r else ""
        runs = ", ".join(f"{x:g}" for x in r.get("all_seconds", [r["seconds"]]))
        print(
            f"| {r['advocates']:,} | {r['events']:,} | {r['as_of_dates']} | {r['case']}{note} | "
            f"{r['load_seconds']} | {r['seconds']} | {runs} | {r.get('warm_seconds', '')} | "
            f"{r['peak_gib']} | "
            f"{r['rss_after_load_gib']} | {r['rows']:,} |"
        )
    # The ratios, from the medians above.
    t = {(r["advocates_requested"], r["as_of_dates"], r["case"]): r["seconds"] for r in results
         if "error" not in r}  # fmt: skip
    print()
    for size in args.sizes:
        lines = []
        if (size, 1, "pipeline") in t and (size, 31, "pipeline") in t:
            ratio = t[(size, 31, "pipeline")] / t[(size, 1, "pipeline")]
            lines.append(f"31 dates / 1 date (pipeline): {ratio:.2f}x")
            warm = {d: r.get("warm_seconds") for r in results for d in (1, 31)
                    if r.get("advocates_requested") == size and r.get("case") == "pipeline"
                    and r.get("as_of_dates") == d}  # fmt: skip
            if warm.get(1) and warm.get(31):
                lines.append(f"31 / 1 warm: {warm[31] / warm[1]:.2f}x")
        for d in args.dates:
            for case in ("pipeline", "core"):
                if (size, d, case) in t and (size, d, "duckdb") in t:
                    ratio = t[(size, d, case)] / t[(size, d, "duckdb")]
                    lines.append(f"{case} / duckdb, {d} date(s): {ratio:.2f}x")
        if lines:
            print(f"{size:,} advocates: " + "; ".join(lines))


if __name__ == "__main__":
    main()
