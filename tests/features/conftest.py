"""Shared builders for the feature tests: tiny canonical frames."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))

TS = "datetime64[us, UTC]"


def utc(value: str) -> pd.Timestamp:
    return pd.Timestamp(value, tz="UTC")


def make_events(rows: list[tuple]) -> pd.DataFrame:
    """Canonical events from ``(advocate_id, occurred_at, event_type, source[, value])`` tuples."""
    ids, when, types, sources, values = [], [], [], [], []
    for row in rows:
        ids.append(row[0])
        when.append(pd.Timestamp(row[1], tz="UTC") if isinstance(row[1], str) else row[1])
        types.append(row[2])
        sources.append(row[3])
        values.append(row[4] if len(row) > 4 else np.nan)
    return pd.DataFrame(
        {
            "advocate_id": pd.array(ids, dtype="str"),
            "occurred_at": pd.DatetimeIndex(when, dtype=TS)
            if when
            else pd.DatetimeIndex([], dtype=TS),
            "event_type": pd.array(types, dtype="str"),
            "source": pd.array(sources, dtype="str"),
            "value": np.array(values, dtype=np.float64),
            "event_id": pd.array([pd.NA] * len(ids), dtype="str"),
        }
    )


def make_advocates(rows: list[tuple]) -> pd.DataFrame:
    """Canonical roster from ``(advocate_id, joined_at[, community_connected_at])`` tuples."""
    ids = [r[0] for r in rows]
    joined = [utc(r[1]) for r in rows]
    conn = [utc(r[2]) if len(r) > 2 and r[2] else pd.NaT for r in rows]
    return pd.DataFrame(
        {
            "advocate_id": pd.array(ids, dtype="str"),
            "joined_at": pd.DatetimeIndex(joined, dtype=TS),
            "community_connected_at": pd.DatetimeIndex(conn, dtype=TS),
        }
    )
