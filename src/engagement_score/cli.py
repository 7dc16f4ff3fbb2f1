"""The ``engagement-score`` command line (typer + rich).

Bad input or bad usage ends with exit status 2 and one paragraph on stderr, never a traceback.
Commands read the input tables only through :func:`engagement_score.io.load_inputs`.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from engagement_score import io
from engagement_score.contract import ContractError

app = typer.Typer(
    name="engagement-score",
    help="A calibrated 0-100 engagement score per advocate, with trend and plain-language reasons.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

err = Console(stderr=True)
out = Console()


# --------------------------------------------------------------------------- shared helpers


@contextlib.contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr; yields ``advance(n)``. Quiet when stderr is not a terminal."""
    columns = [
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=err, transient=False, disable=not err.is_terminal) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)


def parse_as_of(values: list[str], option: str = "--as-of") -> list[pd.Timestamp]:
    """Parse ``--as-of`` values (ISO-8601 dates or timestamps; no offset means UTC)."""
    stamps: list[pd.Timestamp] = []
    for value in values:
        try:
            stamp = pd.Timestamp(value)
        except (ValueError, TypeError):
            raise ContractError(
                f"option {option}: {value!r} is not an ISO-8601 date or timestamp"
            ) from None
        stamps.append(stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC"))
    return stamps


def load_inputs(events: Path, advocates: Path) -> io.Inputs:
    """Read and validate the input tables (the shared path) and report orphan events on stderr."""
    with err.status("Reading and validating the input tables ..."):
        inputs = io.load_inputs(events, advocates)
    message = inputs.report.orphan_message()
    if message:
        err.print(f"[yellow]warning:[/yellow] {message}", highlight=False, soft_wrap=True)
    if inputs.report.n_duplicate_events:
        err.print(
            f"note: {inputs.report.n_duplicate_events:,} rows repeating an event_id were counted once.",
            highlight=False,
        )
    return inputs


EventsOpt = Annotated[Path, typer.Option("--events", help="Events table (CSV, CSV.gz or Parquet).")]
AdvocatesOpt = Annotated[
    Path, typer.Option("--advocates", help="Advocates roster (CSV, CSV.gz or Parquet).")
]


# --------------------------------------------------------------------------- commands


@app.callback()
def _root() -> None:
    """A calibrated 0-100 engagement score per advocate, with trend and plain-language reasons."""


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the three tables to.")],
    advocates: Annotated[int, typer.Option("--advocates", min=1, help="Advocates.")] = 10_000,
    days: Annotated[int, typer.Option("--days", min=60, help="Days of history.")] = 730,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    end: Annotated[
        str, typer.Option("--end", help="Last simulated day (exclusive), ISO date.")
    ] = "2026-12-01",
) -> None:
    """Simulate an advocate program: events, advocates and the simulator's ground truth."""
    from engagement_score import simulate as sim

    (end_ts,) = parse_as_of([end], "--end")
    config = sim.SimulationConfig(n_advocates=advocates, n_days=days, seed=seed, end=end_ts)
    started = datetime.now()
    with progress_bar("Simulating advocates", config.n_chunks) as advance:
        paths = sim.write_program(out_dir, config, on_chunk=advance)
    seconds = (datetime.now() - started).total_seconds()
    out.print(f"Simulated {advocates:,} advocates over {days} days in {seconds:.1f} s:")
    for path in paths:
        out.print(f"  {path}")


def _usage_error_types() -> tuple[type[BaseException], ...]:
    """Click's exception base, whether typer vendors click (0.29+) or depends on it."""
    types: list[type[BaseException]] = [typer.exceptions.TyperException]
    with contextlib.suppress(ImportError):
        import click

        types.append(click.exceptions.ClickException)
    return tuple(types)


def main() -> None:
    """Console-script entry point: contract and usage errors become one paragraph and exit 2."""
    try:
        result = app(standalone_mode=False)
    except ContractError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("Aborted.")
        sys.exit(130)
    except _usage_error_types() as exc:  # bad usage: exit status 2, click's own message
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err.print(f"error: {exc}")
        sys.exit(int(getattr(exc, "exit_code", 2)))
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
