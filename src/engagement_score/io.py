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
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
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
#: Rows per block when a Parquet events file is read and validated block by block.
EVENT_BATCH_ROWS = 1 << 20


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


def _check_file(path: Path) -> str:
    """The file's kind ("csv" or "parquet") once it is known to exist and not be empty."""
    kind = _kind(path)
    if not path.is_file():
        raise ContractError("does not exist or is not a file", file=str(path))
    if path.stat().st_size == 0:
        raise ContractError("is empty (no header, no rows)", file=str(path))
    return kind


def read_raw(path: str | Path) -> pd.DataFrame:
    """Read a CSV (optionally gzipped) or Parquet file with every CSV column as text.

    Text keeps ids such as ``00042`` intact; typing happens in the normalisers, which can then
    name the rows that do not parse.
    """
    path = Path(path)
    kind = _check_file(path)
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
    bad = numbers.isna() & values.notna()
    if bad.any():  # text that did not parse; blank text is simply missing
        bad &= values.astype("str").str.strip() != ""
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


def _event_rows(raw: pd.DataFrame, file: str) -> pd.DataFrame:
    """Type and validate one block of raw event rows (text columns still text).

    The block's index must be the 0-based data row number in the file, so an error names rows the
    user can find, whichever block of a large file they are in.
    """
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
    return validate(out, EVENTS_SCHEMA, file)


_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_HASH_MAX_WORDS = 8  # ids up to 64 bytes are hashed in numpy; longer ones by pandas


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads every input bit over the 64 output bits."""
    h = h ^ (h >> np.uint64(30))
    h = h * _MIX_1
    h = h ^ (h >> np.uint64(27))
    h = h * _MIX_2
    return h ^ (h >> np.uint64(31))


def hash_text(values: pd.Series) -> np.ndarray:
    """64-bit hash of each string (NA hashes to 0), vectorised over the Arrow buffers.

    Only used to *find candidate* duplicates cheaply; candidates are then compared as strings, so
    a hash collision can never drop an event.
    """
    arr = pa.array(values, from_pandas=True, type=pa.large_string())
    n = len(arr)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64, count=n + 1, offset=arr.offset * 8)
    lengths = np.diff(offsets)
    width = int(lengths.max()) if n else 0
    words = -(-width // 8)
    if words > _HASH_MAX_WORDS:
        out = pd.util.hash_pandas_object(values, index=False).to_numpy().astype(np.uint64)
    else:
        data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if width else np.zeros(0, np.uint8)
        lo, total = int(offsets[0]), int(offsets[-1] - offsets[0])
        padded = np.zeros((n, max(words, 1) * 8), dtype=np.uint8)
        if total == n * width:  # all of one length (typical of generated ids): no scatter
            padded[:, :width] = data[lo : lo + total].reshape(n, width)
        else:
            at = np.repeat(np.arange(n, dtype=np.int64) * words * 8 - offsets[:-1], lengths)
            at += np.arange(lo, lo + total)
            padded.reshape(-1)[at] = data[lo : lo + total]
        grid = padded.view(np.uint64)
        out = _mix(lengths.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15))
        for k in range(words):
            out = _mix(out ^ grid[:, k])
    if arr.null_count:
        out[np.asarray(arr.is_null())] = 0
    return out


def _duplicate_candidates(
    hashes: np.ndarray, has_id: np.ndarray, parts: int = 16, step: int = 1 << 23
) -> np.ndarray:
    """Rows whose event_id hash occurs more than once (a superset of the real duplicates).

    The hashes are split by their top bits into ``parts`` groups, each sorted on its own, so the
    extra memory is one byte per row plus one group's hashes.
    """
    part = np.empty(len(hashes), dtype=np.uint8)
    for lo in range(0, len(hashes), step):
        part[lo : lo + step] = hashes[lo : lo + step] >> np.uint64(60)
    part[~has_id] = parts  # rows without an event_id are never duplicates
    found: list[np.ndarray] = []
    for p in range(parts):
        rows = np.flatnonzero(part == p)
        sub = np.sort(hashes[rows])
        repeated = np.unique(sub[1:][sub[1:] == sub[:-1]])
        if len(repeated):
            found.append(rows[np.isin(hashes[rows], repeated)])
    return np.sort(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)


class _EventsBuilder:
    """Collects validated blocks of event rows into compact arrays (see :func:`normalize_events`).

    Text columns become integer codes into small vocabularies (advocate ids, event types,
    sources); ``event_id`` is kept as text only when asked, and duplicates are found by hashing
    then confirmed by comparing the strings, so the result is exact.
    """

    def __init__(self, capacity: int, roster_ids: Sequence[str] | None, keep_event_id: bool):
        self.n = 0
        self.occurred = np.empty(capacity, dtype=np.int64)
        self.value = np.empty(capacity, dtype=np.float64)
        self.adv = np.empty(capacity, dtype=np.int32)
        self.etype = np.empty(capacity, dtype=np.int16)
        self.source = np.empty(capacity, dtype=np.int16)
        self.hashes = np.empty(capacity, dtype=np.uint64)
        self.has_id = np.empty(capacity, dtype=bool)
        self.keep_event_id = keep_event_id
        self.event_ids: list[pd.Series] = []
        self.n_roster = len(roster_ids) if roster_ids is not None else 0
        self.vocab: dict[str, dict[str, int]] = {"advocate_id": {}, "event_type": {}, "source": {}}
        if roster_ids is not None:
            self.vocab["advocate_id"] = {str(v): i for i, v in enumerate(roster_ids)}

    def _codes(self, column: str, values: pd.Series) -> np.ndarray:
        inverse, uniques = pd.factorize(values)
        vocab = self.vocab[column]
        mapped = np.array([vocab.setdefault(u, len(vocab)) for u in uniques.tolist()], np.int64)
        return mapped[inverse] if len(mapped) else np.zeros(len(values), np.int64)

    def add(self, rows: pd.DataFrame) -> None:
        k = len(rows)
        if self.n + k > len(self.occurred):
            self._grow(self.n + k)
        sl = slice(self.n, self.n + k)
        self.occurred[sl] = rows["occurred_at"].array.asi8
        self.value[sl] = rows["value"].to_numpy(dtype=np.float64, na_value=np.nan)
        self.adv[sl] = self._codes("advocate_id", rows["advocate_id"])
        self.etype[sl] = self._codes("event_type", rows["event_type"])
        self.source[sl] = self._codes("source", rows["source"])
        ids = rows["event_id"]
        self.has_id[sl] = ids.notna().to_numpy()
        self.hashes[sl] = hash_text(ids)
        if self.keep_event_id:
            self.event_ids.append(ids.reset_index(drop=True))
        self.n += k
        if len(self.vocab["event_type"]) > np.iinfo(np.int16).max:
            raise ContractError("has more than 32,767 distinct event types", column="event_type")

    def _grow(self, need: int) -> None:
        size = max(need, 2 * len(self.occurred))
        for name in ("occurred", "value", "adv", "etype", "source", "hashes", "has_id"):
            old = getattr(self, name)
            new = np.empty(size, dtype=old.dtype)
            new[: self.n] = old[: self.n]
            setattr(self, name, new)

    def duplicates(self, fetch: Callable[[np.ndarray], pd.Series] | None) -> np.ndarray:
        """Boolean mask of rows repeating an earlier row's event_id (exact)."""
        n = self.n
        dup = np.zeros(n, dtype=bool)
        cand = _duplicate_candidates(self.hashes[:n], self.has_id[:n])
        self.hashes = self.has_id = np.zeros(0)  # free before the frame is assembled
        if len(cand):
            text = self._event_id_series().take(cand) if fetch is None else fetch(cand)
            dup[cand[pd.Series(np.asarray(text, dtype=object)).duplicated().to_numpy()]] = True
        return dup

    def _event_id_series(self) -> pd.Series:
        if not self.event_ids:
            return pd.Series(pd.NA, index=range(self.n), dtype="str")
        return (
            pd.concat(self.event_ids, ignore_index=True)
            if len(self.event_ids) > 1
            else (self.event_ids[0])
        )

    def frame(self, keep: np.ndarray | None, roster_only: bool) -> pd.DataFrame:
        """The canonical frame of the rows ``keep`` (all when None)."""
        cols = {
            "occurred": self.occurred[: self.n],
            "value": self.value[: self.n],
            "adv": self.adv[: self.n],
            "etype": self.etype[: self.n],
            "source": self.source[: self.n],
        }
        if keep is not None:  # compact column by column: one column's worth of extra memory
            m = int(keep.sum())
            for key, arr in cols.items():
                arr[:m] = arr[keep]
                cols[key] = arr[:m]
        ids = list(self.vocab["advocate_id"])
        if roster_only:
            ids = ids[: self.n_roster]
        data: dict[str, object] = {
            "advocate_id": _categorical(cols["adv"], ids),
            "occurred_at": pd.arrays.DatetimeArray._simple_new(  # zero copy
                cols["occurred"].view("M8[us]"), dtype=pd.DatetimeTZDtype("us", "UTC")
            ),
            "event_type": _categorical(cols["etype"], list(self.vocab["event_type"])),
            "source": _categorical(cols["source"], list(self.vocab["source"])),
            "value": cols["value"],
        }
        if self.keep_event_id:
            ids_text = self._event_id_series()
            data["event_id"] = (ids_text if keep is None else ids_text[keep]).reset_index(drop=True)
        return pd.DataFrame(data, copy=False)


def _categorical(codes: np.ndarray, categories: list[str]) -> pd.Categorical:
    """Codes and their vocabulary as a pandas categorical (codes shared, not copied, if possible)."""
    cats = pd.Index(categories, dtype="str")
    n = len(cats)
    dtype = np.int8 if n < 127 else np.int16 if n < 32_767 else np.int32
    return pd.Categorical.from_codes(
        codes.astype(dtype, copy=False), dtype=pd.CategoricalDtype(cats)
    )


def _events_from_blocks(
    blocks: Iterable[pd.DataFrame],
    file: str,
    capacity: int,
    roster_ids: Sequence[str] | None = None,
    keep_event_id: bool = True,
    fetch_ids: Callable[[np.ndarray], pd.Series] | None = None,
) -> tuple[_EventsBuilder, np.ndarray]:
    """Validate blocks of raw rows one by one, collect them compactly, flag event_id repeats."""
    builder = _EventsBuilder(capacity, roster_ids, keep_event_id)
    for rows in _validated_ahead(blocks, file):
        builder.add(rows)
    return builder, builder.duplicates(None if keep_event_id else fetch_ids)


def _validated_ahead(blocks: Iterable[pd.DataFrame], file: str) -> Iterator[pd.DataFrame]:
    """The validated blocks in order, the next one read and validated by a helper thread while
    the caller collects this one (Parquet decoding and most validation release the GIL).

    At most one block is ahead, so memory grows by one block; an error of block k is raised when
    block k is due, after blocks 0 .. k-1, exactly as without the helper.
    """
    blocks = iter(blocks)

    def next_block() -> pd.DataFrame | None:
        raw = next(blocks, None)
        return None if raw is None else _event_rows(raw, file)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-events") as pool:
        ahead = pool.submit(next_block)
        while (rows := ahead.result()) is not None:
            ahead = pool.submit(next_block)
            yield rows


def normalize_events(
    raw: pd.DataFrame, file: str, keep_event_id: bool = True
) -> tuple[pd.DataFrame, int]:
    """Turn a raw events table into the canonical frame; returns it and the duplicates removed.

    ``advocate_id``, ``event_type`` and ``source`` come back as pandas ``category`` columns (a few
    bytes per event instead of a string each). ``keep_event_id=False`` leaves out the
    ``event_id`` text once duplicates are removed (it is needed for nothing else).
    """
    raw = raw.reset_index(drop=True)
    ids = _to_text(raw["event_id"]) if "event_id" in raw else None
    builder, dup = _events_from_blocks(
        [raw],
        file,
        len(raw),
        keep_event_id=keep_event_id,
        fetch_ids=(lambda rows: ids.take(rows)) if ids is not None else None,
    )
    n_dup = int(dup.sum())
    return builder.frame(~dup if n_dup else None, roster_only=False), n_dup


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


def _parquet_file(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ContractError(f"cannot be read as parquet: {first_line}", file=str(path)) from None


def iter_raw_blocks(
    path: str | Path, batch_rows: int = EVENT_BATCH_ROWS, columns: Sequence[str] | None = None
) -> Iterator[pd.DataFrame]:
    """Raw rows of a Parquet file in blocks (as :func:`read_raw` would give them, column names
    stripped), each indexed by its 0-based data row number in the file, so errors name file rows.

    Reading in blocks keeps memory to one block of text at a time on large inputs.
    """
    path = Path(path)
    parquet = _parquet_file(path)
    offset = 0
    try:
        if parquet.metadata.num_rows == 0:
            frame = parquet.schema_arrow.empty_table().to_pandas()
            frame.columns = [str(c).strip() for c in frame.columns]
            yield frame
            return
        for batch in parquet.iter_batches(batch_size=batch_rows, columns=columns):
            frame = batch.to_pandas()
            frame.columns = [str(c).strip() for c in frame.columns]
            frame.index = pd.RangeIndex(offset, offset + len(frame))
            offset += len(frame)
            yield frame
    except (OSError, ValueError, pa.ArrowException) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ContractError(f"cannot be read as parquet: {first_line}", file=str(path)) from None


def _read_events(
    path: str | Path, roster_ids: Sequence[str] | None, keep_event_id: bool
) -> tuple[_EventsBuilder, np.ndarray]:
    """Validated, compact events of a file and the mask of repeated event_ids.

    Parquet is read and validated block by block (peak memory: the compact table plus one block),
    CSV in one piece; both go through the same :func:`_event_rows` validation.
    """
    path = Path(path)
    file = str(path)
    if _kind(path) == "parquet":
        _check_file(path)
        parquet = _parquet_file(path)
        stripped = {str(c).strip(): c for c in parquet.schema_arrow.names}

        def fetch(rows: np.ndarray) -> pd.Series:
            """event_id text of ``rows`` (sorted), re-read from the file: only for candidates."""
            parts = []
            name = stripped["event_id"]
            for block in iter_raw_blocks(path, columns=[name]):
                lo, hi = np.searchsorted(rows, [block.index[0], block.index[-1] + 1])
                if hi > lo:
                    parts.append(_to_text(block[name.strip()]).loc[rows[lo:hi]])
            return pd.concat(parts)

        return _events_from_blocks(
            iter_raw_blocks(path, EVENT_BATCH_ROWS),
            file,
            parquet.metadata.num_rows,
            roster_ids,
            keep_event_id,
            fetch if "event_id" in stripped else None,
        )
    raw = read_raw(path)
    ids = _to_text(raw["event_id"]) if "event_id" in raw else None
    return _events_from_blocks(
        [raw],
        file,
        len(raw),
        roster_ids,
        keep_event_id,
        (lambda rows: ids.take(rows)) if ids is not None else None,
    )


def read_events(path: str | Path, keep_event_id: bool = True) -> tuple[pd.DataFrame, int]:
    """Read and validate an events file; returns the canonical frame and the duplicates removed."""
    builder, dup = _read_events(path, None, keep_event_id)
    n_dup = int(dup.sum())
    return builder.frame(~dup if n_dup else None, roster_only=False), n_dup


def read_advocates(path: str | Path) -> pd.DataFrame:
    """Read and validate a roster file into the canonical frame."""
    return normalize_advocates(read_raw(path), str(path))


def split_orphans(
    events: pd.DataFrame, advocates: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split events into those of roster advocates and those of advocates not on the roster."""
    known = events["advocate_id"].isin(advocates["advocate_id"])
    return events[known].reset_index(drop=True), events[~known].reset_index(drop=True)


def load_inputs(
    events_path: str | Path, advocates_path: str | Path, keep_event_id: bool = True
) -> Inputs:
    """The one shared reading-and-validation path for the two input tables.

    Raises :class:`ContractError` for anything that breaks the contract. Events of advocates not on
    the roster are left out and counted in the report (never silently dropped, never an error).
    The events' ``advocate_id`` is a ``category`` whose categories are the roster's ids, in roster
    order. ``keep_event_id=False`` drops the ``event_id`` text after deduplication (it is used for
    nothing else, and on 100M+ events it would be the largest column).
    """
    advocates = read_advocates(advocates_path)
    roster_ids = advocates["advocate_id"].tolist()
    builder, dup = _read_events(events_path, roster_ids, keep_event_id)
    n_dup = int(dup.sum())
    n_read = builder.n
    codes = builder.adv[:n_read]
    orphan = codes >= builder.n_roster
    if n_dup:
        orphan &= ~dup
    n_orphans = int(orphan.sum())
    orphan_ids: list[str] = []
    n_orphan_advocates = 0
    if n_orphans:
        first_rows = np.unique(codes[orphan], return_index=True)[1]
        rows = np.flatnonzero(orphan)[np.sort(first_rows)]
        n_orphan_advocates = len(rows)
        names = list(builder.vocab["advocate_id"])
        orphan_ids = [names[int(codes[r])] for r in rows[:MAX_IDS_IN_MESSAGE]]
    keep = None
    if n_dup or n_orphans:
        keep = ~orphan if not n_dup else ~orphan & ~dup
    events = builder.frame(keep, roster_only=True)
    report = LoadReport(
        events_file=str(events_path),
        advocates_file=str(advocates_path),
        n_events_read=n_read,
        n_duplicate_events=n_dup,
        n_orphan_events=n_orphans,
        orphan_ids=tuple(orphan_ids),
        n_orphan_advocates=n_orphan_advocates,
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
