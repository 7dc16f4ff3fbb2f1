"""Reading and writing files: the only module (besides the CLI) that touches the file system.

Every command that reads the input tables calls :func:`load_inputs`, so a bad file gets the same
clear refusal everywhere. Outputs are written atomically: to a temporary file beside the target,
renamed into place only once complete, so a failure never leaves a half-written output.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from engagement_score.contract import (
    ADVOCATE_OPTIONAL,
    ADVOCATE_REQUIRED,
    ADVOCATES_SCHEMA,
    EVENT_REQUIRED,
    EVENTS_SCHEMA,
    TIMESTAMP_DTYPE,
    ContractError,
    validate,
)

CSV_SUFFIXES = (".csv", ".csv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
MAX_IDS_IN_MESSAGE = 5


@dataclass(frozen=True)
class LoadReport:
    """What reading the inputs did that a user should know about."""

    events_file: str
    advocates_file: str
    n_events_read: int
    n_duplicate_events: int
    n_orphan_events: int
    orphan_ids: tuple[str, ...] = field(default_factory=tuple)
    n_orphan_advocates: int = 0

    def orphan_message(self) -> str | None:
        """One line for stderr naming events of advocates missing from the roster, if any."""
        if not self.n_orphan_events:
            return None
        ids = ", ".join(self.orphan_ids)
        more = " ..." if self.n_orphan_advocates > len(self.orphan_ids) else ""
        return (
            f"{self.events_file}: left out {self.n_orphan_events:,} events of "
            f"{self.n_orphan_advocates:,} advocates not on the roster {self.advocates_file} "
            f"(first ids: {ids}{more})."
        )


@dataclass(frozen=True)
class Inputs:
    """The two canonical input tables (see :mod:`engagement_score.contract`) and the load report."""

    events: pd.DataFrame
    advocates: pd.DataFrame
    report: LoadReport


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    raise ContractError("has an unknown extension; use .csv, .csv.gz or .parquet", file=str(path))


def check_output_path(path: str | Path) -> Path:
    """Refuse an output name whose extension is not .parquet, .csv or .csv.gz (before any work)."""
    _kind(Path(path))
    return Path(path)


def read_raw(path: str | Path) -> pd.DataFrame:
    """Read a CSV (optionally gzipped) or Parquet file with every CSV column as text.

    Text keeps ids such as ``00042`` intact; typing happens in the normalisers, which can then
    name the rows that do not parse.
    """
    path = Path(path)
    kind = _kind(path)
    if not path.is_file():
        raise ContractError("does not exist or is not a file", file=str(path))
    if path.stat().st_size == 0:
        raise ContractError("is empty (no header, no rows)", file=str(path))
    try:
        if kind == "csv":
            frame = pd.read_csv(
                path, dtype=str, keep_default_na=False, na_values=[""], skipinitialspace=False
            )
        else:
            frame = pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise ContractError("is empty (no header, no rows)", file=str(path)) from None
    except (
        pd.errors.ParserError,
        UnicodeDecodeError,
        OSError,
        ValueError,
        pa.ArrowException,
    ) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ContractError(f"cannot be read as {kind}: {first_line}", file=str(path)) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.reset_index(drop=True)


def _require_columns(frame: pd.DataFrame, required: Sequence[str], file: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ContractError(
            f"is missing (the file has columns {list(frame.columns)})", file=file, column=missing[0]
        )


def _bad_rows(mask: pd.Series) -> list[int]:
    return [int(i) + 1 for i in mask.to_numpy().nonzero()[0]]


def to_utc(values: pd.Series, file: str, column: str) -> pd.Series:
    """Parse a timestamp column to UTC; a zone offset is converted, no offset means UTC."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        parsed = values.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(values.dtype):
        parsed = values.dt.tz_localize("UTC")
    else:
        text = values.astype("str").str.strip()
        text = text.where(values.notna() & (text != ""))
        parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
        bad = parsed.isna() & text.notna()
        if bad.any():
            rows = _bad_rows(bad)
            example = text[bad].iloc[0]
            raise ContractError(
                f"has values that are not ISO-8601 timestamps (e.g. {example!r})",
                file=file,
                column=column,
                rows=rows,
                n_rows=len(rows),
            )
    return parsed.astype(TIMESTAMP_DTYPE)


def _to_text(values: pd.Series) -> pd.Series:
    """Ids and labels as strings; numbers written by a tool stay as written (``42``, not ``42.0``)."""
    if pd.api.types.is_float_dtype(values.dtype):
        as_int = values.astype("Int64") if (values.dropna() % 1 == 0).all() else values
        return as_int.astype("str").where(values.notna())
    return values.astype("str").where(values.notna())


def _to_float(values: pd.Series, file: str, column: str) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna() & (values.astype("str").str.strip() != "")
    if bad.any():
        rows = _bad_rows(bad)
        raise ContractError(
            f"has values that are not numbers (e.g. {values[bad].iloc[0]!r})",
            file=file,
            column=column,
            rows=rows,
            n_rows=len(rows),
        )
    return numbers.astype("float64")


def normalize_events(raw: pd.DataFrame, file: str) -> tuple[pd.DataFrame, int]:
    """Turn a raw events table into the canonical frame; returns it and the duplicates removed."""
    _require_columns(raw, EVENT_REQUIRED, file)
    out = pd.DataFrame(index=raw.index)
    out["advocate_id"] = _to_text(raw["advocate_id"])
    out["occurred_at"] = to_utc(raw["occurred_at"], file, "occurred_at")
    out["event_type"] = _to_text(raw["event_type"]).str.strip()
    out["source"] = _to_text(raw["source"]).str.strip().str.lower()
    out["value"] = (
        _to_float(raw["value"], file, "value")
        if "value" in raw
        else pd.Series(float("nan"), index=raw.index)
    )
    out["event_id"] = (
        _to_text(raw["event_id"])
        if "event_id" in raw
        else pd.Series(pd.NA, index=raw.index, dtype="str")
    )
    out = validate(out, EVENTS_SCHEMA, file)
    has_id = out["event_id"].notna()
    dup = has_id & out["event_id"].duplicated(keep="first")
    n_dup = int(dup.sum())
    if n_dup:
        out = out[~dup]
    return out.reset_index(drop=True), n_dup


def normalize_advocates(raw: pd.DataFrame, file: str) -> pd.DataFrame:
    """Turn a raw roster into the canonical frame, keeping every other column as an attribute."""
    _require_columns(raw, ADVOCATE_REQUIRED, file)
    if raw.empty:
        raise ContractError("has no advocates (header only)", file=file)
    out = raw.copy()
    out["advocate_id"] = _to_text(raw["advocate_id"])
    out["joined_at"] = to_utc(raw["joined_at"], file, "joined_at")
    for column in ADVOCATE_OPTIONAL:
        if column in raw:
            out[column] = to_utc(raw[column], file, column)
        else:
            out[column] = pd.Series(pd.NaT, index=raw.index, dtype=TIMESTAMP_DTYPE)
    first = ["advocate_id", "joined_at", *ADVOCATE_OPTIONAL]
    out = out[first + [c for c in out.columns if c not in first]]
    return validate(out, ADVOCATES_SCHEMA, file)


def read_events(path: str | Path) -> tuple[pd.DataFrame, int]:
    """Read and validate an events file; returns the canonical frame and the duplicates removed."""
    return normalize_events(read_raw(path), str(path))


def read_advocates(path: str | Path) -> pd.DataFrame:
    """Read and validate a roster file into the canonical frame."""
    return normalize_advocates(read_raw(path), str(path))


def split_orphans(
    events: pd.DataFrame, advocates: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split events into those of roster advocates and those of advocates not on the roster."""
    known = events["advocate_id"].isin(advocates["advocate_id"])
    return events[known].reset_index(drop=True), events[~known].reset_index(drop=True)


def load_inputs(events_path: str | Path, advocates_path: str | Path) -> Inputs:
    """The one shared reading-and-validation path for the two input tables.

    Raises :class:`ContractError` for anything that breaks the contract. Events of advocates not on
    the roster are left out and counted in the report (never silently dropped, never an error).
    """
    advocates = read_advocates(advocates_path)
    events, n_dup = read_events(events_path)
    n_read = len(events) + n_dup
    events, orphans = split_orphans(events, advocates)
    orphan_ids = orphans["advocate_id"].drop_duplicates()
    report = LoadReport(
        events_file=str(events_path),
        advocates_file=str(advocates_path),
        n_events_read=n_read,
        n_duplicate_events=n_dup,
        n_orphan_events=len(orphans),
        orphan_ids=tuple(orphan_ids.head(MAX_IDS_IN_MESSAGE)),
        n_orphan_advocates=len(orphan_ids),
    )
    return Inputs(events=events, advocates=advocates, report=report)


# --------------------------------------------------------------------------- writing


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@contextlib.contextmanager
def atomic_paths(*targets: str | Path) -> Iterator[list[Path]]:
    """Yield temporary paths beside each target; on success rename all into place, else remove.

    Used for every output so nothing half-written is ever left where an output was asked for.
    """
    finals = [Path(t) for t in targets]
    temps: list[Path] = []
    try:
        for final in finals:
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(
                prefix=f".{final.name}.", suffix=".partial", dir=final.parent
            )
            os.close(fd)
            temps.append(Path(name))
        yield temps
        mode = 0o666 & ~_umask()
        for temp, final in zip(temps, finals, strict=True):
            os.chmod(temp, mode)  # mkstemp creates 0600; outputs get the usual permissions
            os.replace(temp, final)
    finally:
        for temp in temps:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()


def _csv_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Lists (such as ``reasons``) become JSON text in CSV; timestamps become ISO-8601 UTC."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if series.dtype == object and series.map(lambda v: isinstance(v, list | tuple)).any():
            out[column] = series.map(
                lambda v: json.dumps(list(v)) if isinstance(v, list | tuple) else v
            )
        elif isinstance(series.dtype, pd.DatetimeTZDtype):
            out[column] = series.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a frame atomically as Parquet or CSV (chosen by the extension)."""
    final = Path(path)
    _kind(final)
    with atomic_paths(final) as (temp,):
        kind = _kind(final)
        if kind == "parquet":
            frame.to_parquet(temp, index=False)
        else:
            compression = "gzip" if final.name.lower().endswith(".gz") else None
            _csv_ready(frame).to_csv(temp, index=False, compression=compression)
    return final


def write_text(text: str, path: str | Path) -> Path:
    """Write a text file (a report, a card) atomically."""
    final = Path(path)
    with atomic_paths(final) as (temp,):
        temp.write_text(text, encoding="utf-8")
    return final


class ParquetStreamWriter:
    """Append frames of one schema to a Parquet file without holding them all in memory.

    Write to the temporary ``path`` that :func:`atomic_paths` hands out; the first frame fixes the
    schema.
    """

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None

    def write(self, frame: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._schema is not None:
            table = table.cast(self._schema)
        if self._writer is None:
            self._schema = table.schema
            self._writer = pq.ParquetWriter(self._path, self._schema, compression="zstd")
        self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> ParquetStreamWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_parquet_batches(path: str | Path, batch_size: int = 1_000_000) -> Iterator[pd.DataFrame]:
    """Read a Parquet file in batches of rows (for inputs larger than memory)."""
    parquet = pq.ParquetFile(path)
    for batch in parquet.iter_batches(batch_size=batch_size):
        yield batch.to_pandas()


def read_parquet(path: str | Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a Parquet file the project wrote itself (truth tables, feature tables)."""
    path = Path(path)
    if not path.is_file():
        raise ContractError("does not exist or is not a file", file=str(path))
    return pd.read_parquet(path, columns=list(columns) if columns else None)
