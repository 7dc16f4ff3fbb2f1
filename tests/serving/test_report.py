"""The HTML report: pure-Python checks (no browser) and the activity summary, point in time."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engagement_score.serving.report import (
    LIST_ROWS,
    activity_summary,
    build_report,
    embedded_data,
    resolve_tiers,
    segment_masks,
)
from engagement_score.serving.scoring import ScoringConfig, Tier, tiers_with_hysteresis

T = pd.Timestamp("2026-06-01", tz="UTC")
UTC = "datetime64[us, UTC]"
TRUST = {
    "metrics": {"roc_auc": 0.84, "brier": 0.142, "ece": 0.013, "lift_top_decile": 2.4},
    "baselines": {"tally": {"roc_auc": 0.71, "brier": 0.19, "ece": 0.02, "lift_top_decile": 1.8}},
    "reliability": [
        {"bin_mean_predicted": 0.1, "observed_rate": 0.09, "count": 400},
        {"bin_mean_predicted": 0.32, "observed_rate": 0.3, "count": 250},
        {"bin_mean_predicted": 0.71, "observed_rate": 0.68, "count": 300},
    ],
    "test_window": "2026-03-01 .. 2026-04-30",
    "trained_at": "2026-05-02T10:11:12+00:00",
}

REASONS = [
    "{p:+d} pts: {k} active days in the last 30 days",
    "{p:+d} pts: {k} community replies in the last 30 days",
    "{p:+d} pts: last qualifying event {k} days ago",
    "{p:+d} pts: {k} challenges completed in the last 90 days",
    "{p:+d} pts: {k} logins but nothing else in 30 days",
]


# --------------------------------------------------------------------------- helpers


def fake_scores(
    advocates: pd.DataFrame, activity: pd.DataFrame, as_of: pd.Timestamp, seed: int = 0
) -> pd.DataFrame:
    """A plausible score frame shaped like ``score_program(..., keep_history=True).scores``.

    Scores follow recent activity plus noise, with a 31-day random-walk history; tiers use the
    default bands with hysteresis. Not a model: just realistic-looking input for the report.
    """
    rng = np.random.default_rng(seed)
    act = activity.reset_index(drop=True)
    n = len(act)
    recent = (act["portal_30d"] + act["community_30d"]).to_numpy(float)
    logit = -1.6 + 1.1 * np.log1p(recent) + rng.normal(0, 0.8, n)
    prob = 1 / (1 + np.exp(-logit))
    score = np.rint(100 * prob).astype(int)
    drift = rng.normal(0, 0.15, n) + rng.choice([0, -0.7, 0.5], n, p=[0.76, 0.12, 0.12])
    steps = rng.normal(0, 1.2, (n, 30)) + drift[:, None]
    history = np.clip(score[:, None] - np.cumsum(steps[:, ::-1], axis=1)[:, ::-1], 0, 100)
    history = np.rint(np.concatenate([history, score[:, None]], axis=1))
    joined = advocates.set_index("advocate_id").loc[act["advocate_id"], "joined_at"].to_numpy()
    days_in = ((as_of - pd.DatetimeIndex(joined)) / pd.Timedelta(days=1)).to_numpy()
    first = np.clip(30 - np.floor(days_in).astype(int), 0, 30)
    history[np.arange(31)[None, :] < first[:, None]] = np.nan
    tiers = ScoringConfig().tiers
    tier = np.array([t.name for t in tiers], dtype=object)[tiers_with_hysteresis(history, tiers, 7)]
    earlier = history[:, 0]
    trend = np.where(np.isnan(earlier), np.nan, score - np.nan_to_num(earlier))
    momentum = np.where(trend >= 8, "gaining", np.where(trend <= -8, "slipping", "steady"))
    active = recent > 0
    reasons = []
    for _ in range(n):
        k = int(rng.integers(0, 4))
        picks = rng.choice(len(REASONS), size=k, replace=False)
        reasons.append(
            [
                REASONS[j].format(p=int(rng.integers(-15, 16)) or 1, k=int(rng.integers(1, 20)))
                for j in picks
            ]
        )
    return pd.DataFrame(
        {
            "advocate_id": act["advocate_id"].astype("str"),
            "as_of": pd.Series([as_of] * n, dtype=UTC),
            "score": score.astype("int64"),
            "probability": prob,
            "tier": pd.Series(tier, dtype="str"),
            "trend_30d": pd.array([None if np.isnan(v) else int(v) for v in trend], dtype="Int64"),
            "momentum": pd.Series(momentum, dtype="str"),
            "at_risk": active & (prob < 0.5),
            "reasons": pd.Series(reasons, dtype=object),
            "coverage": np.where(rng.random(n) < 0.5, "portal+community", "portal only"),
            "active_30d": active,
            "score_30d_ago": pd.array(
                [None if np.isnan(v) else int(v) for v in earlier], dtype="Int64"
            ),
            "score_history": [[None if np.isnan(v) else int(v) for v in row] for row in history],
        }
    )


def tiny_scores() -> pd.DataFrame:
    """Four advocates by hand, one per interesting case."""
    hist_a = [70] * 30 + [85]
    hist_b = [60] * 31
    hist_c = [None] * 25 + [20, 20, 20, 20, 20, 20]
    hist_d = [50] * 30 + [30]
    return pd.DataFrame(
        {
            "advocate_id": ["B2", "A1", "C3", "D4"],
            "as_of": pd.Series([T] * 4, dtype=UTC),
            "score": [60, 85, 20, 30],
            "probability": [0.6, 0.85, 0.2, 0.3],
            "tier": ["engaged", "champion", "at_the_edge", "developing"],
            "trend_30d": pd.array([0, 15, None, -20], dtype="Int64"),
            "momentum": ["steady", "gaining", "steady", "slipping"],
            "at_risk": [False, False, False, True],
            "reasons": [
                ["+5 pts: 3 active days in the last 30 days"],
                ["+12 pts: 9 active days in the last 30 days", "+4 pts: a review </script>"],
                [],
                ["-10 pts: last qualifying event 40 days ago"],
            ],
            "coverage": ["portal only", "portal+community", "portal only", "portal+community"],
            "active_30d": [True, True, False, True],
            "score_30d_ago": pd.array([60, 70, None, 50], dtype="Int64"),
            "score_history": [hist_b, hist_a, hist_c, hist_d],
        }
    )


def tiny_roster() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "advocate_id": ["A1", "B2", "C3", "D4", "Z9"],
            "joined_at": pd.Series(
                ["2025-01-01", "2025-01-01", "2026-05-25", "2025-02-01", "2026-07-01"], dtype=UTC
            ),
            "community_connected_at": pd.Series(
                ["2025-01-01", None, None, "2025-03-01", None], dtype=UTC
            ),
            "region": ["EMEA", "NA", "NA", "APAC", "NA"],
        }
    )


def events_frame(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "advocate_id": pd.Series([r[0] for r in rows], dtype="str"),
            "occurred_at": pd.Series([r[1] for r in rows], dtype=UTC),
            "event_type": pd.Series(["login"] * len(rows), dtype="str"),
            "source": pd.Series([r[2] for r in rows], dtype="str"),
            "value": np.nan,
            "event_id": pd.Series([None] * len(rows), dtype="str"),
        }
    )


TINY_EVENTS = [
    ("A1", "2026-05-31 23:59:59", "portal"),  # week 1, 30d
    ("A1", "2026-05-26 00:00:00", "community"),  # week 1 (6 days before T), 30d
    ("A1", "2026-05-25 00:00:00", "portal"),  # exactly 7 days: still week 1, 30d
    ("A1", "2026-05-02 00:00:00", "portal"),  # exactly 30 days: week 5, 30d
    ("A1", "2026-05-01 12:00:00", "portal"),  # 30.5 days: week 5, not 30d
    ("A1", "2026-03-01 00:00:00", "community"),  # older than 8 weeks: only last_event_at
    ("B2", "2026-06-01 00:00:00", "portal"),  # at T: never counted
    ("B2", "2026-07-01 00:00:00", "community"),  # after T: never counted
    ("D4", "2026-04-10 00:00:00", "community"),  # 52 days: week 8
]


# --------------------------------------------------------------------------- activity


def test_activity_summary_hand_computed() -> None:
    act = activity_summary(events_frame(TINY_EVENTS), tiny_roster(), T, weeks=8)
    # roster as of T: Z9 joined after T
    assert act["advocate_id"].tolist() == ["A1", "B2", "C3", "D4"]
    a1 = act.iloc[0]
    assert [a1[f"portal_week_{k}"] for k in range(1, 9)] == [2, 0, 0, 0, 2, 0, 0, 0]
    assert [a1[f"community_week_{k}"] for k in range(1, 9)] == [1, 0, 0, 0, 0, 0, 0, 0]
    assert a1["portal_30d"] == 3 and a1["community_30d"] == 1
    assert a1["last_event_at"] == pd.Timestamp("2026-05-31 23:59:59", tz="UTC")
    b2 = act.iloc[1]
    assert sum(b2[c] for c in act.columns if c.endswith(("_30d",)) or "_week_" in c) == 0
    assert pd.isna(b2["last_event_at"])
    d4 = act.iloc[3]
    assert d4["community_week_8"] == 1 and d4["community_30d"] == 0
    assert str(act["last_event_at"].dtype) == UTC


def test_activity_summary_ignores_events_at_or_after_t() -> None:
    base = [e for e in TINY_EVENTS if pd.Timestamp(e[1], tz="UTC") < T]
    later = [
        ("A1", "2026-06-01 00:00:00", "portal"),
        ("C3", "2026-06-02 00:00:00", "community"),
        ("D4", "2027-01-01 00:00:00", "portal"),
    ]
    roster = tiny_roster()
    before = activity_summary(events_frame(base), roster, T)
    after = activity_summary(events_frame(base + later), roster, T)
    pd.testing.assert_frame_equal(before, after)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["A1", "B2", "C3", "D4"]),
            st.integers(min_value=-80 * 24, max_value=5 * 24),
            st.sampled_from(["portal", "community"]),
        ),
        max_size=30,
    )
)
def test_activity_summary_matches_a_loop(rows: list[tuple[str, int, str]]) -> None:
    events = events_frame([(a, str(T + pd.Timedelta(hours=h)), s) for a, h, s in rows])
    act = activity_summary(events, tiny_roster(), T, weeks=4).set_index("advocate_id")
    for adv in act.index:
        for s in ("portal", "community"):
            mine = [h for a, h, src in rows if a == adv and src == s and h < 0]
            for k in range(1, 5):
                want = sum(1 for h in mine if 7 * 24 * (k - 1) < -h <= 7 * 24 * k)
                assert act.loc[adv, f"{s}_week_{k}"] == want
            assert act.loc[adv, f"{s}_30d"] == sum(1 for h in mine if -h <= 30 * 24)


# --------------------------------------------------------------------------- report


@pytest.fixture(scope="module")
def tiny_report() -> str:
    roster = tiny_roster()
    act = activity_summary(events_frame(TINY_EVENTS), roster, T)
    return build_report(tiny_scores(), act, roster, T, trust=TRUST, title="Tiny <program>")


def test_report_is_self_contained(tiny_report: str) -> None:
    assert tiny_report.startswith("<!DOCTYPE html>")
    # no resource loaded from anywhere: no src/href to a URL, no CSS url(), no @import
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", tiny_report, re.I)
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", tiny_report, re.I)
    assert "@import" not in tiny_report
    assert "<link" not in tiny_report.lower()
    assert "http://" not in tiny_report and "https://" not in tiny_report
    # the title is escaped, and a reason with </script> cannot close the data block early
    assert "Tiny &lt;program&gt;" in tiny_report
    assert tiny_report.count("</script>") == 2


def test_embedded_json_round_trips(tiny_report: str) -> None:
    data = embedded_data(tiny_report)
    frame = tiny_scores().sort_values("advocate_id", ignore_index=True)
    assert data["id"] == frame["advocate_id"].tolist() == ["A1", "B2", "C3", "D4"]
    assert data["score"] == frame["score"].tolist()
    assert [data["tiers"][t] for t in data["tier"]] == frame["tier"].tolist()
    assert data["trend"] == [15, 0, None, -20]
    assert data["at_risk"] == [0, 0, 0, 1]
    reasons = [[data["reason_vocab"][r] for r in row] for row in data["reasons"]]
    assert reasons == frame["reasons"].tolist()
    width = data["history_days"]
    packed = data["history"]
    for i, hist in enumerate(frame["score_history"]):
        chunk = packed[2 * width * i : 2 * width * (i + 1)]
        decoded = [int(chunk[j : j + 2], 16) for j in range(0, len(chunk), 2)]
        assert [None if v == 255 else v for v in decoded] == hist
    # activity aligned to the same rows: A1 had 3 portal events in 30 days, oldest week first
    assert data["portal_30d"] == [3, 0, 0, 0]
    assert data["weekly"]["portal"][: data["weeks"]] == [0, 0, 0, 2, 0, 0, 0, 2]
    assert (
        data["attributes"]["region"]["values"][data["attributes"]["region"]["codes"][0]] == "EMEA"
    )
    assert data["last_event"][0] == "2026-05-31"


def test_tiers_are_counted(tiny_report: str) -> None:
    counts = dict(
        re.findall(r'class="tier-row" data-tier="([^"]+)" data-count="(\d+)"', tiny_report)
    )
    assert counts == {
        "champion": "1",
        "engaged": "1",
        "developing": "1",
        "at_the_edge": "1",
        "dormant": "0",
    }
    # histogram holds every advocate, in the right bins
    bins = dict(re.findall(r'data-bin="(\d+)" data-count="(\d+)"', tiny_report))
    assert sum(map(int, bins.values())) == 4
    assert bins["85"] == "1" and bins["20"] == "1" and bins["0"] == "0"


def test_tier_movement_matrix(tiny_report: str) -> None:
    cells = {
        (f, t): int(c)
        for f, t, c in re.findall(
            r'data-from="([^"]*)" data-to="([^"]+)" data-count="(\d+)"', tiny_report
        )
    }
    assert cells[("engaged", "champion")] == 1  # A1: 70 -> champion
    assert cells[("engaged", "engaged")] == 1  # B2 stayed
    assert cells[("", "at_the_edge")] == 1  # C3 had no score 30 days ago
    assert cells[("developing", "developing")] == 1  # D4: 50 -> held at developing
    assert sum(cells.values()) == 4
    assert "<b>1</b> advocates moved up" in tiny_report


def test_attention_lists(tiny_report: str) -> None:
    def ids(key: str) -> list[str]:
        block = re.search(rf'id="list-{key}".*?</section>', tiny_report, re.S).group(0)
        return re.findall(r'<tr data-advocate="([^"]+)"', block)

    assert ids("at-risk") == ["D4"]
    assert ids("fallers") == ["D4"]
    assert ids("rising") == ["A1"]
    assert ids("champions") == ["A1"]
    assert "-10 pts: last qualifying event 40 days ago" in tiny_report


def test_trust_in_plain_words(tiny_report: str) -> None:
    assert 'id="reliability"' in tiny_report
    assert "Of advocates scored around <b>71</b>, <b>68%</b> were engaged" in tiny_report
    assert "higher <b>84%</b> of the time" in tiny_report
    assert "<th>Tally</th>" in tiny_report and "0.710" in tiny_report


def test_report_without_trust_or_history_degrades() -> None:
    scores = tiny_scores().drop(columns=["score_history"])
    roster = tiny_roster()
    act = activity_summary(events_frame([]), roster, T)
    page = build_report(scores, act, roster, T, trust=None)
    assert 'data-available="false"' in page
    data = embedded_data(page)
    first = data["history"][: 2 * data["history_days"]]  # A1: only 30 days ago and today known
    assert first[:2] == f"{70:02x}" and first[-2:] == f"{85:02x}" and first[2:4] == "ff"
    assert data["portal_30d"] == [0, 0, 0, 0]


def test_tier_names_come_from_the_data() -> None:
    scores = tiny_scores()
    scores["tier"] = ["mid", "top", "low", "low"]
    tiers = resolve_tiers(scores)
    assert [t.name for t in tiers] == ["top", "mid", "low"]
    assert tiers[-1].min_score == 0
    given_bands = (Tier("top", 70), Tier("mid", 40), Tier("low", 0))
    assert resolve_tiers(scores, given_bands) == given_bands
    page = build_report(
        scores,
        activity_summary(events_frame([]), tiny_roster(), T),
        tiny_roster(),
        T,
        tiers=given_bands,
    )
    assert 'data-tier="top" data-count="1"' in page and 'data-tier="low" data-count="2"' in page


def test_segments_and_lists_cap_rows() -> None:
    rng = np.random.default_rng(3)
    roster = pd.DataFrame(
        {
            "advocate_id": [f"A{i:05d}" for i in range(300)],
            "joined_at": pd.Series(["2025-01-01"] * 300, dtype=UTC),
            "community_connected_at": pd.Series([None] * 300, dtype=UTC),
            "region": rng.choice(["NA", "EMEA"], 300),
        }
    )
    events = events_frame(
        [
            (f"A{rng.integers(300):05d}", str(T - pd.Timedelta(hours=int(h))), "portal")
            for h in rng.integers(1, 24 * 50, 3000)
        ]
    )
    act = activity_summary(events, roster, T)
    scores = fake_scores(roster, act, T, seed=1)
    page = build_report(scores, act, roster, T)
    masks = segment_masks(scores, resolve_tiers(scores))
    for key, mask in masks.items():
        block = re.search(rf'id="list-{key}" data-total="(\d+)".*?</section>', page, re.S)
        assert int(block.group(1)) == int(mask.sum())
        assert len(re.findall(r"<tr data-advocate=", block.group(0))) == min(LIST_ROWS, mask.sum())
    # the at-risk list starts with the likeliest to lapse
    first = re.search(r'id="list-at-risk".*?<tr data-advocate="([^"]+)"', page, re.S).group(1)
    at_risk = scores.loc[scores["at_risk"]]
    assert first == at_risk.sort_values("probability")["advocate_id"].iloc[0]


def test_size_stays_small_per_advocate() -> None:
    """Columnar embedding: well under 250 bytes per advocate with reasons and history."""
    n = 2000
    roster = pd.DataFrame(
        {
            "advocate_id": [f"A{i:06d}" for i in range(n)],
            "joined_at": pd.Series(["2025-01-01"] * n, dtype=UTC),
            "community_connected_at": pd.Series([None] * n, dtype=UTC),
            "region": ["NA"] * n,
        }
    )
    act = activity_summary(events_frame([]), roster, T)
    act["portal_30d"] = np.arange(n) % 7
    page = build_report(fake_scores(roster, act, T), act, roster, T)
    assert len(page.encode()) / n < 250


def test_empty_program_and_metadata_style_trust() -> None:
    """No advocates yet, and trust as the model metadata carries it (``all.``/``active.`` keys)."""
    roster = tiny_roster().iloc[:0]
    scores = tiny_scores().iloc[:0]
    trust = {"test_metrics": {"all.roc_auc": 0.8, "active.roc_auc": 0.71, "all.ece": 0.02}}
    page = build_report(scores, activity_summary(events_frame([]), roster, T), roster, T, trust)
    assert embedded_data(page)["n"] == 0
    assert 'data-tier="champion" data-count="0"' in page
    assert "higher <b>80%</b>" in page and "right <b>71%</b>" in page
    assert "No reliability diagram" in page
    windowed = build_report(
        scores,
        activity_summary(events_frame([]), roster, T),
        roster,
        T,
        {**trust, "windows": {"split.test.first": "2026-01-01", "split.test.last": "2026-02-01"}},
    )
    assert "Tested on: 2026-01-01 .. 2026-02-01" in windowed
