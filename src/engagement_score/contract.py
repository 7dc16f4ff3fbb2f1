"""The input and output contract (``CONTRACT.md``) as code.

Everything that reads the two input tables goes through :mod:`engagement_score.io`, which turns raw
files into the *canonical* frames described here and validates them with the pandera schemas below.
Downstream stages may then rely on these guarantees without re-checking them:

``events``
    ``advocate_id`` (``category`` of str; from :func:`~engagement_score.io.load_inputs` its
    categories are the roster's ids in roster order), ``occurred_at`` (``datetime64[us, UTC]``),
    ``event_type`` (``category`` of str), ``source`` (``category``: ``"portal"`` or
    ``"community"``), ``value`` (float64, NaN when absent), ``event_id`` (str, NA when absent;
    left out with ``keep_event_id=False``). Duplicate ``event_id`` rows are already collapsed and
    every ``advocate_id`` is on the roster. The text columns are categories so that 100M+ events
    fit in memory (a few bytes per event instead of a string each); ``EVENTS_SCHEMA`` below
    validates the rows as text, block by block, before they are encoded.

``advocates``
    ``advocate_id`` (str, unique), ``joined_at`` (``datetime64[us, UTC]``),
    ``community_connected_at`` (``datetime64[us, UTC]``, NaT when not connected), plus any attribute
    columns the file carried, unchanged.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

with warnings.catch_warnings():
    # pandera imports pyspark.pandas when pyspark is installed, which warns about pandas 3.
    warnings.filterwarnings("ignore", message=".*PySpark does not yet fully support.*")
    import pandera.pandas as pa

TIMESTAMP_DTYPE = "datetime64[us, UTC]"
SOURCES: tuple[str, ...] = ("portal", "community")

EVENT_REQUIRED: tuple[str, ...] = ("advocate_id", "occurred_at", "event_type", "source")
EVENT_OPTIONAL: tuple[str, ...] = ("value", "event_id")
EVENT_COLUMNS: tuple[str, ...] = EVENT_REQUIRED + EVENT_OPTIONAL

ADVOCATE_REQUIRED: tuple[str, ...] = ("advocate_id", "joined_at")
ADVOCATE_OPTIONAL: tuple[str, ...] = ("community_connected_at",)

#: Columns of the ``score`` output, in order, as the contract names them.
SCORE_COLUMNS: tuple[str, ...] = (
    "advocate_id",
    "as_of",
    "score",
    "probability",
    "tier",
    "trend_30d",
    "momentum",
    "at_risk",
    "reasons",
)
MOMENTUM_VALUES: tuple[str, ...] = ("gaining", "steady", "slipping")

MAX_ROWS_IN_MESSAGE = 5


@dataclass
class ContractError(Exception):
    """Bad input or bad usage: reported as one paragraph and exit status 2, never a traceback.

    Attributes name what a user needs to find the problem: the file, the column and the first
    offending rows (1-based data rows, the header not counted).
    """

    message: str
    file: str | None = None
    column: str | None = None
    rows: Sequence[int] = field(default_factory=tuple)
    n_rows: int | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        parts: list[str] = []
        if self.file:
            parts.append(f"{self.file}:")
        if self.column:
            parts.append(f"column '{self.column}':")
        parts.append(self.message.rstrip("."))
        text = " ".join(parts)
        if self.rows:
            shown = ", ".join(str(r) for r in list(self.rows)[:MAX_ROWS_IN_MESSAGE])
            total = self.n_rows if self.n_rows is not None else len(self.rows)
            more = (
                f" (and {total - MAX_ROWS_IN_MESSAGE} more)" if total > MAX_ROWS_IN_MESSAGE else ""
            )
            text += f"; first offending rows: {shown}{more}"
        return text + "."


def _non_empty(s: pd.Series) -> pd.Series:
    return s.str.len() > 0


EVENTS_SCHEMA = pa.DataFrameSchema(
    {
        "advocate_id": pa.Column(str, pa.Check(_non_empty, element_wise=False), nullable=False),
        "occurred_at": pa.Column(TIMESTAMP_DTYPE, nullable=False),
        "event_type": pa.Column(str, pa.Check(_non_empty, element_wise=False), nullable=False),
        "source": pa.Column(str, pa.Check.isin(list(SOURCES)), nullable=False),
        "value": pa.Column(float, nullable=True),
        "event_id": pa.Column(str, nullable=True),
    },
    strict=False,
    ordered=False,
    name="events",
)

ADVOCATES_SCHEMA = pa.DataFrameSchema(
    {
        "advocate_id": pa.Column(
            str, pa.Check(_non_empty, element_wise=False), nullable=False, unique=True
        ),
        "joined_at": pa.Column(TIMESTAMP_DTYPE, nullable=False),
        "community_connected_at": pa.Column(TIMESTAMP_DTYPE, nullable=True),
    },
    strict=False,
    ordered=False,
    name="advocates",
)


def validate(frame: pd.DataFrame, schema: pa.DataFrameSchema, file: str) -> pd.DataFrame:
    """Validate a canonical frame, turning pandera's report into a :class:`ContractError`.

    The frame's index must be the 0-based data row number in the source file, so the error can
    name rows the user can find.
    """
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*PySpark does not yet fully support.*")
            return schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        first = cases.iloc[0]
        column = first.get("column")
        column = None if pd.isna(column) else str(column)
        same = cases[cases["column"] == column] if column is not None else cases
        index = pd.to_numeric(same["index"], errors="coerce").dropna().astype(int)
        rows = sorted({int(i) + 1 for i in index})
        check = str(first.get("check"))
        if "unique" in check:
            what = "has repeated values where each must be unique"
        elif "isin" in check:
            what = f"has values outside {list(SOURCES)}"
        elif "not_nullable" in check:
            what = "is empty where a value is required"
        elif "_non_empty" in check:
            what = "has empty strings where a value is required"
        else:
            what = f"fails the check {check}"
        raise ContractError(what, file=file, column=column, rows=rows, n_rows=len(rows)) from None
