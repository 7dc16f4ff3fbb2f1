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
from typing import TYPE_CHECKING, Annotated

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
from engagement_score.config import DEFAULT_MODEL_URI, MODEL_NAME
from engagement_score.contract import ContractError

if TYPE_CHECKING:
    from engagement_score.serving.batch import ScoringResult
    from engagement_score.serving.model import EngagementModel
    from engagement_score.training.pipeline import TrainResult

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
        # nothing downstream needs event_id once duplicates are collapsed: keep memory for events
        inputs = io.load_inputs(events, advocates, keep_event_id=False)
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


@app.command()
def features(
    events: EventsOpt,
    advocates: AdvocatesOpt,
    as_of: Annotated[
        list[str],
        typer.Option("--as-of", help="As-of date or timestamp (UTC); repeat for several dates."),
    ],
    out_file: Annotated[
        Path, typer.Option("--out", help="Output table: .parquet, .csv or .csv.gz.")
    ],
    chunk_size: Annotated[
        int, typer.Option("--chunk-size", min=1, help="Advocates per chunk (bounds memory).")
    ] = 50_000,
    spec_path: Annotated[
        Path | None, typer.Option("--spec", help="Feature spec YAML (default: the packaged one).")
    ] = None,
    n_jobs: Annotated[
        int, typer.Option("--n-jobs", min=1, help="Threads computing chunks at once.")
    ] = 1,
) -> None:
    """Point-in-time activity features: one row per (advocate on the roster as of T, T)."""
    from engagement_score.config import FeatureSpec
    from engagement_score.features import build as fb

    stamps = parse_as_of(as_of)
    fb.as_of_grid(stamps)  # refuse bad as-of dates and output names before reading the inputs
    io.check_output_path(out_file)
    spec = FeatureSpec.load(spec_path)
    inputs = load_inputs(events, advocates)
    total = fb.n_chunks(inputs.advocates, stamps, chunk_size)
    started = datetime.now()
    with progress_bar("Building features", total) as advance:
        table = fb.build_features(
            inputs.events,
            inputs.advocates,
            stamps,
            spec=spec,
            chunk_size=chunk_size,
            on_chunk=lambda _n: advance(1),
            n_jobs=n_jobs,
        )
    io.write_table(table, out_file)
    seconds = (datetime.now() - started).total_seconds()
    n_adv = table["advocate_id"].nunique()
    out.print(
        f"Wrote {len(table):,} rows ({n_adv:,} advocates x {len(set(stamps))} as-of dates, "
        f"{table.shape[1] - 2} features) in {seconds:.1f} s to {out_file}"
    )


def _simulation_config(events_path: Path, inputs: io.Inputs, seed: int) -> object:
    """Rebuild the simulator's settings for a program written by ``simulate --seed SEED``.

    The roster size gives ``--advocates``; the period comes from ``truth.parquet`` beside the events
    file (its first weekly snapshot is the first simulated day) or else from the first event day;
    ``--end`` is the day after the last event.
    """
    from engagement_score import simulate as sim

    end = inputs.events["occurred_at"].max().floor("D") + pd.Timedelta(days=1)
    truth = events_path.parent / "truth.parquet"
    if truth.is_file():
        start = io.read_parquet(truth, columns=["date"])["date"].min().floor("D")
    else:
        start = inputs.events["occurred_at"].min().floor("D")
    return sim.SimulationConfig(
        n_advocates=len(inputs.advocates), n_days=int((end - start).days), seed=seed, end=end
    )


@app.command()
def train(
    events: EventsOpt,
    advocates: AdvocatesOpt,
    config_path: Annotated[
        Path | None,
        typer.Option("--config", help="Training parameters YAML (default: training/params.yaml)."),
    ] = None,
    trials: Annotated[
        int | None, typer.Option("--trials", min=1, help="Optuna trials (default: params.yaml).")
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", min=1, help="Time limit of the search in seconds."),
    ] = None,
    n_jobs: Annotated[
        int | None, typer.Option("--n-jobs", min=1, help="LightGBM threads (default: params.yaml).")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed of the search.")] = None,
    oracle_seed: Annotated[
        int | None,
        typer.Option(
            "--oracle-seed",
            help="The input was written by `engagement-score simulate --seed S`: also evaluate the "
            "simulator's true probability (the oracle) on the test window.",
        ),
    ] = None,
    oracle_paths: Annotated[
        int, typer.Option("--oracle-paths", min=1, help="Monte-Carlo paths of the oracle.")
    ] = 200,
) -> None:
    """Fit, tune, calibrate, evaluate against baselines, log to MLflow and register the model."""
    import os

    from engagement_score.config import TrainingConfig
    from engagement_score.training.pipeline import train as run_training

    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    config = TrainingConfig.load(config_path)
    inputs = load_inputs(events, advocates)
    oracle = None
    if oracle_seed is not None:
        from engagement_score import simulate as sim

        sim_config = _simulation_config(events, inputs, oracle_seed)
        err.print(f"oracle: {sim_config}", highlight=False)

        def oracle(dates: list[pd.Timestamp], ids: object) -> pd.DataFrame:
            return sim.true_engagement_probability(sim_config, dates, oracle_paths, ids)

    started = datetime.now()
    with err.status("Training ...") as status:
        result = run_training(
            inputs.events,
            inputs.advocates,
            config,
            trials=trials,
            timeout_seconds=timeout,
            n_jobs=n_jobs,
            seed=seed,
            oracle=oracle,
            source_names={"events": str(events), "advocates": str(advocates)},
            progress=lambda message: status.update(f"Training: {message} ..."),
        )
    seconds = (datetime.now() - started).total_seconds()
    _print_training(result)
    out.print(f"Training took {seconds:.0f} s.", highlight=False)


ModelOpt = Annotated[
    str,
    typer.Option("--model", help="MLflow model URI, or a folder written by EngagementModel.save."),
]


def _load_model(uri: str) -> EngagementModel:
    from engagement_score.serving.model import load_model

    with err.status(f"Loading model {uri} ..."):
        return load_model(uri)


def _score_locally(
    inputs: io.Inputs,
    stamp: pd.Timestamp,
    model: EngagementModel,
    *,
    chunk_size: int = 20_000,
    with_reasons: bool = True,
    keep_history: bool = False,
    workers: int = 1,
) -> ScoringResult:
    """The local engine over chunks of the roster, with a progress bar."""
    from engagement_score.serving import batch

    total = batch.n_partitions(inputs.advocates, chunk_size)
    with progress_bar("Scoring advocates", total) as advance:
        return batch.score_program(
            inputs.events, inputs.advocates, stamp, model, chunk_size=chunk_size,
            with_reasons=with_reasons, keep_history=keep_history, on_chunk=lambda _n: advance(1),
            workers=workers,
        )  # fmt: skip


@app.command()
def score(
    events: EventsOpt,
    advocates: AdvocatesOpt,
    as_of: Annotated[str, typer.Option("--as-of", help="Score as of this date (UTC).")],
    out_file: Annotated[Path, typer.Option("--out", help="Scores: .parquet, .csv or .csv.gz.")],
    model_uri: ModelOpt = DEFAULT_MODEL_URI,
    engine: Annotated[
        str, typer.Option("--engine", help="local (chunks of advocates) or spark.")
    ] = "local",
    chunk_size: Annotated[
        int, typer.Option("--chunk-size", min=1, help="Advocates per chunk (bounds memory).")
    ] = 20_000,
    reasons: Annotated[
        bool, typer.Option("--reasons/--no-reasons", help="Write plain-language reasons.")
    ] = True,
    spark_master: Annotated[
        str, typer.Option("--spark-master", help="Spark master URL (with --engine spark).")
    ] = "local[2]",
    n_jobs: Annotated[
        int | None,
        typer.Option("--n-jobs", min=1, help="LightGBM threads for scores and reasons (local)."),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            help="Processes scoring chunks in parallel (local engine; each uses --n-jobs threads, "
            "default 1 when --workers > 1).",
        ),
    ] = 1,
) -> None:
    """Score every advocate on the roster as of T: score, tier, trend, momentum, risk, reasons."""
    from engagement_score.serving import batch

    (stamp,) = parse_as_of([as_of])
    io.check_output_path(out_file)
    if engine not in ("local", "spark"):
        raise ContractError(f"option --engine: {engine!r} is not one of local, spark")
    inputs = load_inputs(events, advocates)
    model = _load_model(model_uri)
    model.n_jobs = 1 if n_jobs is None and workers > 1 else n_jobs
    started = datetime.now()
    if engine == "spark":
        from engagement_score.serving.spark import score_with_spark

        with err.status(f"Scoring on Spark ({spark_master}) ..."):
            result = score_with_spark(
                inputs.events, inputs.advocates, stamp, model, master=spark_master,
                with_reasons=reasons,
            )  # fmt: skip
    else:
        result = _score_locally(
            inputs, stamp, model, chunk_size=chunk_size, with_reasons=reasons, workers=workers
        )
    io.write_table(result.scores, out_file)
    seconds = (datetime.now() - started).total_seconds()
    info = batch.summary(result)
    out.print(
        f"Scored {info['advocates']:,} advocates as of {stamp:%Y-%m-%d %H:%M} UTC in {seconds:.1f} s "
        f"-> {out_file}",
        highlight=False,
    )
    out.print(
        f"  mean score {info['mean_score']:.1f}; at risk {info['at_risk']:,}; momentum threshold "
        f"+-{info['momentum_threshold']:.1f} pts (measured day-to-day noise); "
        + ", ".join(f"{k} {v:,}" for k, v in info["momentum"].items()),
        highlight=False,
    )
    out.print("  tiers: " + ", ".join(f"{k} {v:,}" for k, v in info["tiers"].items()))


@app.command()
def explain(
    events: EventsOpt,
    advocates: AdvocatesOpt,
    as_of: Annotated[str, typer.Option("--as-of", help="Explain the score as of this date.")],
    advocate: Annotated[str, typer.Option("--advocate", help="The advocate's id.")],
    model_uri: ModelOpt = DEFAULT_MODEL_URI,
    peers: Annotated[
        int,
        typer.Option("--peers", min=0, help="Advocates sampled to measure momentum noise."),
    ] = 2_000,
) -> None:
    """A plain-language explanation of one advocate's score, trend and recent activity."""
    from rich.panel import Panel
    from rich.table import Table

    from engagement_score.serving import batch
    from engagement_score.serving.explain import recent_activity
    from engagement_score.serving.scoring import sparkline

    (stamp,) = parse_as_of([as_of])
    inputs = load_inputs(events, advocates)
    model = _load_model(model_uri)
    roster = inputs.advocates
    row = roster[roster["advocate_id"] == advocate]
    if row.empty:
        raise ContractError(
            f"option --advocate: {advocate!r} is not on the roster", file=str(advocates)
        )
    if row["joined_at"].iloc[0] > stamp:
        raise ContractError(
            f"option --advocate: {advocate!r} joined on {row['joined_at'].iloc[0]:%Y-%m-%d}, "
            f"after the as-of date {stamp:%Y-%m-%d}"
        )
    sample = batch.peer_sample(roster, advocate, peers)
    with err.status("Scoring ..."):
        result = batch.score_program(
            inputs.events[inputs.events["advocate_id"].isin(sample["advocate_id"])],
            sample, stamp, model, keep_history=True,
        )  # fmt: skip
    me = result.scores.set_index("advocate_id").loc[advocate]
    history = [float("nan") if v is None else v for v in me[batch.HISTORY_COLUMN]]
    trend = (
        "n/a (not on the roster 30 days ago)"
        if pd.isna(me["trend_30d"])
        else f"{int(me['trend_30d']):+d}"
    )
    lines = [
        f"[bold]Score {int(me['score'])}[/bold] / 100  (probability {me['probability']:.0%} of staying "
        f"engaged in the next 30 days)",
        f"Tier: [bold]{me['tier']}[/bold]    Momentum: {me['momentum']} "
        f"(threshold +-{result.momentum_threshold:.0f} pts)    At risk: {'yes' if me['at_risk'] else 'no'}",
        f"30-day trend: {trend}   {sparkline(history)}  (T-30 .. T)",
        f"Coverage: {me['coverage']}",
        "",
        "[bold]Why[/bold] (points against the average advocate):",
        *[f"  {r}" for r in me["reasons"]],
    ]
    out.print(Panel("\n".join(lines), title=f"Advocate {advocate} as of {stamp:%Y-%m-%d}"))
    activity = recent_activity(inputs.events, advocate, stamp)
    table = Table(title="Recent activity (before the as-of date)")
    for column in ("source", "event type", "last 30 days", "last 90 days", "last seen"):
        table.add_column(column)
    for _, r in activity.iterrows():
        table.add_row(
            r["source"], r["event_type"], str(r["last_30d"]), str(r["last_90d"]),
            f"{r['last_seen']:%Y-%m-%d}",
        )  # fmt: skip
    if activity.empty:
        out.print("No activity in the 90 days before the as-of date.")
    else:
        out.print(table)


def _write_report(
    inputs: io.Inputs, stamp: pd.Timestamp, model: EngagementModel, out_file: Path,
    scores: pd.DataFrame | None = None,
) -> Path:  # fmt: skip
    """Score with daily history (unless given), summarise activity and write the HTML report."""
    from engagement_score.serving import batch
    from engagement_score.serving.report import activity_summary, build_report

    if scores is None or batch.HISTORY_COLUMN not in scores:
        scores = _score_locally(inputs, stamp, model, keep_history=True).scores
    with err.status("Writing the report ..."):
        activity = activity_summary(inputs.events, inputs.advocates, stamp)
        html = build_report(
            scores, activity, inputs.advocates, stamp, trust=model.metadata,
            tiers=batch.model_scoring_config(model).tiers,
        )  # fmt: skip
        return io.write_text(html, out_file)


#: Columns of the training summary printed on the terminal (the full table is in MLflow).
SUMMARY_COLUMNS: dict[str, str] = {
    "roc_auc (all)": "AUC all",
    "roc_auc (active)": "AUC active",
    "pr_auc (all)": "PR AUC",
    "brier (all)": "Brier",
    "ece (all)": "ECE",
    "ece (active)": "ECE active",
    "lift_top_decile (all)": "lift top 10%",
}


def _print_training(result: TrainResult) -> None:
    """The test-window table of model, baselines (and oracle) and the registration outcome."""
    from rich.table import Table

    table = Table(title="Test window: model against baselines (full table: results/ in MLflow)")
    table.add_column("candidate")
    columns = [c for c in SUMMARY_COLUMNS if c in result.table.columns]
    for column in columns:
        table.add_column(SUMMARY_COLUMNS[column], justify="right")
    for name, row in result.table.iterrows():
        label = str(name).split(" (")[0] if "uncalibrated" not in str(name) else "lightgbm raw"
        table.add_row(label, *["" if pd.isna(row[c]) else f"{row[c]:.3f}" for c in columns])
    out.print(table)
    out.print(
        f"Run {result.run_id}: registered {MODEL_NAME} version {result.model_version or '?'} "
        f"as challenger; {result.decision.summary()}",
        highlight=False,
        soft_wrap=True,
    )
    out.print(f"MLflow tracking URI: {result.tracking_uri}", highlight=False)


@app.command()
def report(
    events: EventsOpt,
    advocates: AdvocatesOpt,
    as_of: Annotated[str, typer.Option("--as-of", help="Report as of this date (UTC).")],
    out_file: Annotated[Path, typer.Option("--out", help="The report, a self-contained .html.")],
    model_uri: ModelOpt = DEFAULT_MODEL_URI,
) -> None:
    """The program manager's report: one self-contained HTML file to open in a browser."""
    (stamp,) = parse_as_of([as_of])
    if out_file.suffix.lower() not in (".html", ".htm"):
        raise ContractError("option --out: the report is an .html file", file=str(out_file))
    inputs = load_inputs(events, advocates)
    model = _load_model(model_uri)
    path = _write_report(inputs, stamp, model, out_file)
    out.print(f"Report written to {path.resolve()}", highlight=False)


@app.command()
def demo(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for the program, scores and report.")
    ] = Path("demo-output"),
    advocates: Annotated[int, typer.Option("--advocates", min=100, help="Advocates.")] = 5_000,
    days: Annotated[int, typer.Option("--days", min=200, help="Days of history.")] = 730,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 7,
    trials: Annotated[int, typer.Option("--trials", min=1, help="Optuna trials.")] = 8,
    timeout: Annotated[
        float, typer.Option("--timeout", min=10, help="Time limit of the search, seconds.")
    ] = 90,
) -> None:
    """The main job end to end on a simulated program: simulate, train, score, report."""
    import os

    from engagement_score import simulate as sim
    from engagement_score.config import TrainingConfig, default_tracking_uri
    from engagement_score.serving import batch
    from engagement_score.serving.model import load_model
    from engagement_score.training.pipeline import train as run_training

    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    started = datetime.now()
    program_dir = out_dir / "program"
    end = pd.Timestamp.now(tz="UTC").floor("D")
    config = sim.SimulationConfig(n_advocates=advocates, n_days=days, seed=seed, end=end)
    out.rule("1/4  Simulate an advocate program")
    with progress_bar("Simulating advocates", config.n_chunks) as advance:
        sim.write_program(program_dir, config, on_chunk=advance)
    events_path, advocates_path = program_dir / "events.parquet", program_dir / "advocates.parquet"
    inputs = load_inputs(events_path, advocates_path)
    out.print(
        f"{len(inputs.advocates):,} advocates, {len(inputs.events):,} events, "
        f"{config.start:%Y-%m-%d} .. {end:%Y-%m-%d}",
        highlight=False,
    )

    out.rule("2/4  Train: Optuna + LightGBM, calibrated, against baselines, tracked in MLflow")
    tracking_uri = default_tracking_uri()

    def oracle(dates: list[pd.Timestamp], ids: object) -> pd.DataFrame:
        return sim.true_engagement_probability(config, dates, 200, ids)

    with err.status("Training ...") as status:
        result = run_training(
            inputs.events, inputs.advocates, TrainingConfig.load(), trials=trials,
            timeout_seconds=timeout, oracle=oracle, tracking_uri=tracking_uri,
            source_names={"events": str(events_path), "advocates": str(advocates_path)},
            progress=lambda message: status.update(f"Training: {message} ..."),
        )  # fmt: skip
    _print_training(result)

    out.rule("3/4  Score every advocate as of the end of the data")
    champion = DEFAULT_MODEL_URI
    try:
        model = load_model(champion, tracking_uri)
    except ContractError:
        champion = f"models:/{MODEL_NAME}/{result.model_version}"
        err.print(f"[yellow]no champion yet[/yellow]: scoring with {champion}", highlight=False)
        model = load_model(champion, tracking_uri)
    stamp = end
    scored = _score_locally(inputs, stamp, model, keep_history=True)
    scores_path = io.write_table(
        scored.scores.drop(columns=[batch.HISTORY_COLUMN]), out_dir / "scores.parquet"
    )
    info = batch.summary(scored)
    out.print(
        f"{info['advocates']:,} advocates scored with {champion}; mean score "
        f"{info['mean_score']:.1f}; at risk {info['at_risk']:,}; momentum threshold "
        f"+-{info['momentum_threshold']:.1f} pts",
        highlight=False,
    )

    out.rule("4/4  Report")
    report_path = _write_report(inputs, stamp, model, out_dir / "report.html", scored.scores)
    example = scored.scores.sort_values("probability").iloc[len(scored.scores) // 2]["advocate_id"]
    minutes = (datetime.now() - started).total_seconds() / 60
    db = tracking_uri.removeprefix("sqlite:///")
    out.rule(f"Done in {minutes:.1f} min")
    out.print(
        "\n".join(
            [
                f"Program (simulated): {program_dir.resolve()}/",
                "  events.parquet, advocates.parquet, truth.parquet (ground truth)",
                f"Scores:              {scores_path.resolve()}",
                f"Report:              {report_path.resolve()}",
                f"MLflow run:          {result.run_id} (experiment engagement-score)",
                f"MLflow tracking:     {tracking_uri}",
                f"Open the MLflow UI:  mlflow ui --backend-store-uri {tracking_uri}"
                + ("" if db == tracking_uri else "   then http://127.0.0.1:5000"),
                "Explain one advocate:",
                f"  engagement-score explain --events {events_path} --advocates {advocates_path} "
                f"--as-of {stamp:%Y-%m-%d} --advocate {example}",
            ]
        ),
        highlight=False,
        soft_wrap=True,
    )


def _usage_error_types() -> tuple[type[BaseException], ...]:
    """Click's exception base, whether typer vendors click (0.29+) or depends on it."""
    types: list[type[BaseException]] = [typer.exceptions.TyperException]
    with contextlib.suppress(ImportError):
        import click

        types.append(click.exceptions.ClickException)
    return tuple(types)


def _quiet_libraries() -> None:
    """Keep the terminal for our own progress and results: MLflow's INFO lines and its schema
    hints, and the pyspark-with-pandas-3 notice, are not news to the user of a command."""
    import logging
    import os
    import warnings

    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*Inferred schema contains integer column")
    warnings.filterwarnings("ignore", message=".*PySpark does not yet fully support pandas")
    warnings.filterwarnings("ignore", message="Series.values returning an ndarray that drops")


def main() -> None:
    """Console-script entry point: contract and usage errors become one paragraph and exit 2."""
    _quiet_libraries()
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
