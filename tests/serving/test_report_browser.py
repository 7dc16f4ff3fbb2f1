"""The report in a real browser: headless Chromium loads it from disk, runs its script, and we
check what it shows against the score frame. A screenshot is saved as a test artifact.

Chromium is driven from the command line only (``--dump-dom`` after the page's script ran,
``--screenshot``), so no browser-driver package is needed. Opening an advocate's tab uses the
``#advocate=ID`` link the report's own lists use.
"""

from __future__ import annotations

import html
import io
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engagement_score.serving.report import activity_summary, build_report
from tests.serving.test_report import TRUST, events_frame, fake_scores

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium not found (Debian: apt-get install chromium; .ci/run installs it)",
)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
T = pd.Timestamp("2026-06-01", tz="UTC")
UTC = "datetime64[us, UTC]"
N = 400


def _chromium(tmp: Path, *args: str) -> str:
    """Run headless Chromium with networking extras off; return its stdout."""
    profile = tmp / "chromium-profile"
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A small program (hand-made roster and events, fake scores) and its report on disk."""
    rng = np.random.default_rng(11)
    ids = [f"A{i:05d}" for i in range(N)]
    roster = pd.DataFrame(
        {
            "advocate_id": ids,
            "joined_at": pd.Series(
                [T - pd.Timedelta(days=int(d)) for d in rng.integers(5, 700, N)], dtype=UTC
            ),
            "community_connected_at": pd.Series([T - pd.Timedelta(days=400)] * N, dtype=UTC),
            "region": rng.choice(["NA", "EMEA", "APAC"], N),
        }
    )
    rows = [
        (ids[int(a)], str(T - pd.Timedelta(minutes=int(m))), str(s))
        for a, m, s in zip(
            rng.zipf(1.6, 6000) % N,
            rng.integers(1, 60 * 24 * 70, 6000),
            rng.choice(["portal", "community"], 6000),
            strict=True,
        )
    ]
    events = events_frame(rows)
    activity = activity_summary(events, roster, T)
    scores = fake_scores(roster, activity, T, seed=5)
    folder = tmp_path_factory.mktemp("report")
    path = folder / "report.html"
    path.write_text(build_report(scores, activity, roster, T, trust=TRUST), encoding="utf-8")
    return {"scores": scores, "activity": activity, "path": path, "folder": folder}


def _field(dom: str, name: str) -> re.Match[str]:
    match = re.search(rf'<[^>]*data-field="{re.escape(name)}"([^>]*)>([^<]*)<', dom)
    assert match is not None, f"field {name} not in the advocate panel"
    return match


def test_browser_shows_tiers_and_an_advocate(program: dict) -> None:
    scores: pd.DataFrame = program["scores"]
    activity: pd.DataFrame = program["activity"]
    # an advocate with reasons, a known trend and some activity: the likeliest case to go wrong
    act = activity.set_index("advocate_id")
    busy = act["portal_30d"] + act["community_30d"]
    candidates = scores[
        scores["trend_30d"].notna()
        & (scores["reasons"].map(len) > 0)
        & scores["advocate_id"].map(busy).gt(0).to_numpy()
    ]
    row = candidates.iloc[len(candidates) // 2]
    aid = row["advocate_id"]

    url = program["path"].as_uri() + f"#advocate={aid}"
    dom = _chromium(program["folder"], "--dump-dom", url)
    dom = re.sub(r"<script\b.*?</script>", "", dom, flags=re.S)  # what is shown, not the code

    # the tiers, as shown
    shown = {t: int(c) for t, c in re.findall(r'data-tier="([^"]+)" data-count="(\d+)"', dom)}
    assert shown == {
        t: int(scores["tier"].eq(t).sum())
        for t in ("champion", "engaged", "developing", "at_the_edge", "dormant")
    }
    assert sum(shown.values()) == N

    # the advocate's tab is open and its numbers match the score file
    assert re.search(r'id="tab-advocate"(?![^>]*hidden)', dom), "advocate tab not shown"
    panel = re.search(r'id="advocate-panel" data-advocate-id="([^"]*)"', dom)
    assert panel is not None and panel.group(1) == aid
    assert int(_field(dom, "score").group(2)) == int(row["score"])
    tier = _field(dom, "tier")
    assert f'data-tier="{row["tier"]}"' in tier.group(1)
    trend = re.search(r'data-value="(-?\d+)"', _field(dom, "trend_30d").group(1))
    assert trend is not None and int(trend.group(1)) == int(row["trend_30d"])
    probability = re.search(r'data-value="([\d.]+)"', _field(dom, "probability").group(1))
    assert probability is not None
    assert float(probability.group(1)) == pytest.approx(row["probability"], abs=5e-4)
    assert _field(dom, "momentum").group(2) == row["momentum"]
    assert int(_field(dom, "score_30d_ago").group(2)) == int(row["score_30d_ago"])
    reasons = [
        html.unescape(r) for r in re.findall(r'data-field="reason" data-text="([^"]*)"', dom)
    ]
    assert reasons == list(row["reasons"])

    # recent activity by source, per week, against the activity summary
    for source in ("portal", "community"):
        assert int(_field(dom, f"{source}_30d").group(2)) == int(act.loc[aid, f"{source}_30d"])
        for week in range(1, 9):
            bar = re.search(rf'data-source="{source}" data-week="{week}" data-count="(\d+)"', dom)
            assert bar is not None and int(bar.group(1)) == int(
                act.loc[aid, f"{source}_week_{week}"]
            )

    # the trend chart is drawn from the 31 daily scores
    assert re.search(r'<svg id="advocate-trend"[^>]*>.*?<polyline points="', dom, re.S)

    # the segment export counts the same at-risk advocates as the score file
    count = re.search(r'id="segment-count" data-count="(\d+)"', dom)
    assert count is not None and int(count.group(1)) == int(scores["at_risk"].sum())


HARNESS = """<script>
// Test harness: capture the CSV instead of downloading it, then click like a person would.
URL.createObjectURL = function (blob) { window.__csv = blob; return "about:blank"; };
HTMLAnchorElement.prototype.click = function () {};
document.querySelector('#list-at-risk button.export').click();
window.__csv.text().then(function (text) {
  var pre = document.createElement("pre"); pre.id = "csv-out"; pre.textContent = text;
  document.body.appendChild(pre);
});
var search = document.getElementById("advocate-search");
search.value = "%(prefix)s"; search.dispatchEvent(new Event("input"));
document.querySelector('#list-fallers tr[data-advocate] td.score').click();
</script></body>"""


def test_browser_click_through_and_csv(program: dict) -> None:
    scores: pd.DataFrame = program["scores"]
    page = program["path"].read_text(encoding="utf-8")
    prefix = scores["advocate_id"].iloc[0][:-1]
    clicked = program["folder"] / "clicked.html"
    clicked.write_text(page.replace("</body>", HARNESS % {"prefix": prefix}), encoding="utf-8")
    dom = _chromium(program["folder"], "--dump-dom", clicked.as_uri())
    csv = re.search(r'<pre id="csv-out">(.*?)</pre>', dom, re.S)
    dom = re.sub(r"<script\b.*?</script>", "", dom, flags=re.S)

    # clicking the first faller opened that advocate's tab
    fallers = scores[(scores["momentum"] == "slipping") & (scores["trend_30d"] < 0)]
    first = fallers.sort_values(["trend_30d", "score", "advocate_id"])["advocate_id"].iloc[0]
    panel = re.search(r'id="advocate-panel" data-advocate-id="([^"]*)"', dom)
    assert panel is not None and panel.group(1) == first
    # typing a prefix suggests the ids that start with it
    suggested = re.findall(r'<li data-id="([^"]+)"', dom)
    expected = sorted(i for i in scores["advocate_id"] if i.startswith(prefix))[:8]
    assert suggested == expected and suggested
    # the at-risk export holds exactly the at-risk advocates, with their scores
    assert csv is not None
    text = html.unescape(csv.group(1)).lstrip("\ufeff")
    frame = pd.read_csv(io.StringIO(text), keep_default_na=False)  # region "NA" is a value
    at_risk = scores.loc[scores["at_risk"]].set_index("advocate_id")
    assert sorted(frame["advocate_id"]) == sorted(at_risk.index)
    assert (frame.set_index("advocate_id")["score"] == at_risk["score"]).all()
    assert set(frame["region"]) <= {"NA", "EMEA", "APAC"}


def test_browser_screenshot_is_saved(program: dict) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    aid = program["scores"]["advocate_id"].iloc[0]
    shots = {
        ARTIFACTS / "report.png": program["path"].as_uri(),
        ARTIFACTS / "report-advocate.png": program["path"].as_uri() + f"#advocate={aid}",
    }
    for shot, url in shots.items():
        shot.unlink(missing_ok=True)
        _chromium(program["folder"], f"--screenshot={shot}", "--window-size=1400,2000", url)
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(data) > 20_000  # a blank page is a few KB
        print(f"screenshot saved: {shot}")
