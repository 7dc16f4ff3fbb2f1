"""A slow, obviously-correct reference of the feature definitions (loops per advocate and date).

Used only by the tests: the vectorised pipeline must agree with it on random data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engagement_score.config import FeatureSpec
from engagement_score.features.windows import DAY_US, as_of_grid, to_us


def reference_features(
    events: pd.DataFrame, advocates: pd.DataFrame, as_of: list[pd.Timestamp], spec: FeatureSpec
) -> pd.DataFrame:
    grid = as_of_grid(as_of)
    phase = grid.phase_us
    ev_us = to_us(events["occurred_at"]) if len(events) else np.zeros(0, np.int64)
    ev = events.assign(_us=ev_us, _d=(ev_us - phase) // DAY_US)
    ev["_cat"] = ev["event_type"].map(spec.category_of)
    hv = spec.high_value_category
    rows = []
    for _, a in advocates.sort_values("advocate_id").iterrows():
        joined = to_us(pd.Series([a["joined_at"]]))[0]
        conn_ts = a.get("community_connected_at", pd.NaT)
        conn = None if pd.isna(conn_ts) else to_us(pd.Series([conn_ts]))[0]
        mine_all = ev[ev["advocate_id"] == a["advocate_id"]]
        for stamp, t_us, t in zip(grid.stamps, grid.stamps_us, grid.days, strict=True):
            if joined > t_us:
                continue
            m = mine_all[mine_all["_us"] < t_us]
            d = m["_d"].to_numpy()
            connected = conn is not None and conn < t_us
            r: dict[str, object] = {"advocate_id": a["advocate_id"], "as_of": stamp}
            r["tenure_days"] = (t_us - joined) / DAY_US
            r["community_connected_days"] = (t_us - conn) / DAY_US if connected else np.nan
            r["events_total"] = len(m)
            r["points_total"] = m["value"].fillna(0).sum() if "value" in m else 0.0

            def inw(w: int, end: int = 0, d: np.ndarray = d, t: int = t) -> np.ndarray:
                return (d >= t - end - w) & (d < t - end)

            for w in spec.windows:
                r[f"events_{w}d"] = inw(w).sum()
            for c in spec.categories:
                for w in spec.windows:
                    r[f"{c.name}_{w}d"] = (inw(w) & (m["_cat"] == c.name).to_numpy()).sum()
            for s in spec.sources:
                for w in spec.windows:
                    r[f"{s}_events_{w}d"] = (inw(w) & (m["source"] == s).to_numpy()).sum()
            for w in spec.windows:
                r[f"active_days_{w}d"] = len(set(d[inw(w)]))
            for s in spec.sources:
                for w in spec.windows:
                    r[f"{s}_active_days_{w}d"] = len(set(d[inw(w) & (m["source"] == s).to_numpy()]))
            for w in spec.windows:
                r[f"points_{w}d"] = m["value"].fillna(0).to_numpy()[inw(w)].sum()
            r["days_since_last_event"] = t - d.max() if len(d) else np.nan
            dh = d[(m["_cat"] == hv).to_numpy()]
            r[f"days_since_last_{hv}"] = t - dh.max() if len(dh) else np.nan
            for s in spec.sources:
                ds = d[(m["source"] == s).to_numpy()]
                r[f"days_since_last_{s}"] = t - ds.max() if len(ds) else np.nan
            for a_w, b_w in spec.momentum_pairs:
                now = inw(a_w).sum()
                before = inw(b_w, end=a_w).sum() * a_w / b_w
                r[f"momentum_{a_w}d_vs_{b_w}d"] = (
                    (now - before) / (now + before) if now + before > 0 else 0.0
                )
            days = set(d.tolist())
            k = max(spec.regularity_weeks, spec.streak_weeks)
            weekly = [len({x for x in days if t - 7 * (i + 1) <= x < t - 7 * i}) for i in range(k)]
            rw = spec.regularity_weeks
            y = np.array(weekly[:rw][::-1], dtype=float)  # oldest first
            r[f"weekly_active_days_slope_{rw}w"] = (
                np.polyfit(np.arange(rw), y, 1)[0] if rw > 1 else 0.0
            )
            r[f"active_weeks_share_{rw}w"] = np.mean([w > 0 for w in weekly[:rw]])
            cur = 0
            while cur < spec.streak_weeks and weekly[cur] > 0:
                cur += 1
            r["current_streak_weeks"] = cur
            best = run = 0
            for w in weekly[: spec.streak_weeks]:
                run = run + 1 if w > 0 else 0
                best = max(best, run)
            r[f"longest_streak_weeks_{spec.streak_weeks}w"] = best
            g = spec.gap_window
            act = sorted(x for x in days if t - g <= x < t)
            gaps = np.diff(act)
            r[f"gap_std_days_{g}d"] = float(np.std(gaps)) if len(gaps) >= 2 else np.nan
            for w in spec.distinct_type_windows:
                r[f"distinct_event_types_{w}d"] = m["event_type"][inw(w)].nunique()
            sw = spec.share_window
            tot = inw(sw).sum()
            r[f"{hv}_share_{sw}d"] = (
                (inw(sw) & (m["_cat"] == hv).to_numpy()).sum() / tot if tot else np.nan
            )
            if not connected:
                for key in list(r):
                    if key.startswith("community_") and key != "community_connected_days":
                        r[key] = np.nan
                r["days_since_last_community"] = np.nan
            rows.append(r)
    return pd.DataFrame(rows)
