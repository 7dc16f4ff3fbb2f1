"""Benchmark ``engagement-score simulate``: wall time and peak memory of writing a program.

Each size runs in its own child process so its peak resident memory (``ru_maxrss``) is its own.
The three Parquet files go to a temporary folder that is removed afterwards.

    python benchmarks/simulate.py                    # 100,000 advocates x 730 days
    python benchmarks/simulate.py --million          # and 1,000,000 advocates
    python benchmarks/simulate.py --advocates 20000 --days 365
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_one(n_advocates: int, n_days: int, seed: int, chunk_size: int) -> dict[str, float]:
    """Simulate and write one program; returns its measurements."""
    import pyarrow.parquet as pq

    from engagement_score import simulate as sim

    config = sim.SimulationConfig(
        n_advocates=n_advocates, n_days=n_days, seed=seed, chunk_size=chunk_size
    )
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        paths = sim.write_program(folder, config)
        seconds = time.perf_counter() - started
        rows = [pq.ParquetFile(p).metadata.num_rows for p in paths]
        size = sum(p.stat().st_size for p in paths)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "advocates": n_advocates,
        "days": n_days,
        "chunks": config.n_chunks,
        "events": rows[0],
        "truth_rows": rows[2],
        "seconds": seconds,
        "peak_rss_mib": peak_kib / 1024,
        "output_mib": size / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--advocates", type=int, nargs="+", default=[100_000])
    parser.add_argument("--million", action="store_true", help="also 1,000,000 advocates")
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk-size", type=int, default=20_000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = run_one(args.advocates[0], args.days, args.seed, args.chunk_size)
        print(json.dumps(result))
        return
    sizes = list(args.advocates) + ([1_000_000] if args.million else [])
    header = (
        f"{'advocates':>10} {'days':>5} {'chunks':>6} {'events':>12} {'truth rows':>11} "
        f"{'seconds':>8} {'events/s':>10} {'peak RSS MiB':>12} {'output MiB':>10}"
    )
    print(header)
    print("-" * len(header))
    for size in sizes:
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            "--advocates",
            str(size),
            "--days",
            str(args.days),
            "--seed",
            str(args.seed),
            "--chunk-size",
            str(args.chunk_size),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"{r['advocates']:>10,} {r['days']:>5} {r['chunks']:>6} {r['events']:>12,} "
            f"{r['truth_rows']:>11,} {r['seconds']:>8.1f} {r['events'] / r['seconds']:>10,.0f} "
            f"{r['peak_rss_mib']:>12,.0f} {r['output_mib']:>10,.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
