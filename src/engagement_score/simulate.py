"""A synthetic advocate program with a known ground truth (``engagement-score simulate``).

Why a simulator: a score can only be judged against the truth, and real programs never reveal it.
This module generates a program whose *latent* engagement is known, so later stages can measure how
far a model is from the best possible prediction (:func:`true_engagement_probability`).

The generative model, per advocate ``a`` and UTC day ``d``
----------------------------------------------------------
Static (drawn once): an **archetype** (champion, steady, casual, onboarding burst, sudden lapser,
slow fader, dormant reactivator) that sets the level and the hazards below; ``joined_at`` (a quarter
of the roster joined in the year before the exported period, the rest over the period);
``community_connected_at`` (about ``community_share`` of advocates connect, from a date of their
own; before it their community activity is not in the data); ``region`` and ``account_tier``
(the tier shifts the level a little); a campaign responsiveness; a per-type taste.

Latent state, a Markov chain with one step per day (:func:`_step`):

* ``x``: log-intensity, a mean-reverting AR(1) around the advocate's own mean;
* ``dormant``: a lapse hazard drops an active advocate to a near-silent regime; a reactivation
  hazard brings them back, much higher on campaign days (plus an intensity bounce);
* ``fading`` and ``f``: a fade hazard starts a *slow fade*: from then on the rate of valuable
  actions (participation and high value) is multiplied by ``f``, which decays over weeks, while
  logins, redemptions and likes stay as they were: the case a tally of clicks gets wrong. Fading
  is the road to a lapse: the lapse hazard grows as ``f`` falls (x ``1 + FADE_LAPSE x (1 - f)``),
  so a fader still busy with clicks is likely to stop altogether within weeks.
  Campaigns raise the chance that a fading advocate recovers.

Deterministic, known in advance: an onboarding burst decaying after joining, weekday and holiday
seasonality (weekend dip, late December) and the program's campaign calendar
(:func:`campaign_calendar`), which lifts many advocates' activity at once.

Given the state, each event type has a daily rate (its base rate x the advocate's taste x the light
or valuable multiplier x the available part of the day: after joining for portal types, after the
community connection for community types); events are Poisson counts per (advocate, day) with
types drawn in proportion to the rates and times uniform over the available part of the day.

Reproducibility: advocates are simulated in fixed blocks of :data:`BLOCK_SIZE`; every random number
comes from a stream derived from ``(seed, block)`` with :class:`numpy.random.SeedSequence`, and
chunks are whole blocks (``chunk_size`` is rounded up to a multiple of the block), so the program
for a seed is the same whatever the chunk size. The campaign calendar has its own stream.

Ground truth: ``truth.parquet`` holds **weekly** snapshots (every 7th day from the start, one row
per advocate on the roster that day) of the latent state: archetype, regime, intensity, ``f`` and
the expected login and qualifying-event rates. The probability of being engaged in the 30 days from
an as-of date is computed on demand by :func:`true_engagement_probability` (Monte Carlo over the
latent dynamics, exact Poisson given a path), consistent with how the realised events were drawn.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from engagement_score import io
from engagement_score.contract import TIMESTAMP_DTYPE, ContractError

#: Advocates per random-number block: the unit of reproducibility (see the module docstring).
BLOCK_SIZE = 1_000
#: Days simulated before the exported period so that early joiners start in a settled state.
BURN_IN_DAYS = 365
#: Share of the roster that joined before the exported period.
EARLY_JOINER_SHARE = 0.25
#: Days of the engaged window (the label).
HORIZON_DAYS = 30
US_PER_DAY = 86_400_000_000

# ----------------------------------------------------------------------------- archetypes

ARCHETYPES: tuple[str, ...] = (
    "champion",
    "steady",
    "casual",
    "onboarding_burst",
    "sudden_lapser",
    "slow_fader",
    "dormant_reactivator",
)
# One row per archetype: share, mean log-intensity, valuable scale, onboarding boost, boost decay
# (days), lapse hazard, reactivation hazard, reactivation lift per unit campaign, fade hazard.
_ARCHETYPE_TABLE = np.array(
    [
        # share  mu_mult vscale boost  tau   lapse    react   r_camp fade
        [0.08, 2.6, 1.6, 1.0, 10.0, 1 / 2000, 1 / 60, 5.0, 1 / 3000],
        [0.22, 1.0, 1.0, 1.5, 10.0, 1 / 900, 1 / 200, 8.0, 1 / 1500],
        [0.22, 0.25, 0.8, 1.5, 10.0, 1 / 500, 1 / 250, 8.0, 1 / 1500],
        [0.12, 0.25, 0.8, 7.0, 12.0, 1 / 90, 1 / 400, 10.0, 1 / 1500],
        [0.12, 1.1, 1.0, 1.5, 10.0, 1 / 150, 1 / 500, 10.0, 1 / 1500],
        [0.14, 1.3, 1.1, 1.5, 10.0, 1 / 1200, 1 / 300, 8.0, 1 / 110],
        [0.10, 0.8, 1.0, 1.5, 10.0, 1 / 70, 1 / 500, 40.0, 1 / 1500],
    ],
    dtype=np.float64,
)
_ARCHETYPE_SHARES = _ARCHETYPE_TABLE[:, 0] / _ARCHETYPE_TABLE[:, 0].sum()

PHI = 0.97  # AR(1) persistence of log-intensity (half-life about 23 days)
SIGMA = 0.12  # daily innovation
SIGMA_STATIONARY = SIGMA / math.sqrt(1 - PHI**2)
MU_SPREAD = 0.35  # between-advocate spread of the mean log-intensity
BOUNCE = 0.6  # log-intensity jump on reactivation
DORMANT_LIGHT = 0.06  # multiplier on light touches while dormant
DORMANT_VALUE = 0.015  # multiplier on valuable actions while dormant
FADE_FLOOR = 0.03
FADE_LAPSE = 25.0  # lapse hazard x (1 + FADE_LAPSE x (1 - f)) while fading
FADE_TAU_RANGE = (20.0, 70.0)  # days over which f falls by a factor e
RECOVER_BASE = 1 / 1500
RECOVER_CAMPAIGN = 0.02
LIFT_LIGHT = 0.5  # campaign lift on light touches per unit of lift x responsiveness
LIFT_VALUE = 1.4  # campaign lift on valuable actions

TIERS: tuple[str, ...] = ("enterprise", "mid_market", "smb")
_TIER_SHARES = np.array([0.2, 0.35, 0.45])
_TIER_OFFSET = np.array([0.25, 0.0, -0.15])
REGIONS: tuple[str, ...] = ("NA", "EMEA", "APAC", "LATAM")
_REGION_SHARES = np.array([0.45, 0.30, 0.17, 0.08])

# ----------------------------------------------------------------------------- event types

RATE_SCALE = 0.7  # overall activity level: about 100 events per advocate over two years
#: (event_type, source, is_light_touch, base daily rate, points value or NaN)
EVENT_TYPES: tuple[tuple[str, str, bool, float, float], ...] = (
    ("login", "portal", True, 0.10, 5.0),
    ("points_redeemed", "portal", True, 0.02, -500.0),  # amount drawn per event
    ("challenge_completed", "portal", False, 0.045, 50.0),  # amount drawn per event
    ("content_shared", "portal", False, 0.035, 10.0),
    ("referral_submitted", "portal", False, 0.007, 500.0),
    ("review_written", "portal", False, 0.005, 250.0),
    ("reference_call", "portal", False, 0.002, 400.0),
    ("case_study_published", "portal", False, 0.0005, 1000.0),
    ("post_created", "community", False, 0.02, 20.0),
    ("reply_created", "community", False, 0.03, 15.0),
    ("like_given", "community", True, 0.06, float("nan")),
    ("answer_accepted", "community", False, 0.005, 100.0),
    ("event_attended", "community", False, 0.007, 50.0),
)
TYPE_NAMES: tuple[str, ...] = tuple(t[0] for t in EVENT_TYPES)
_TYPE_SOURCE = np.array([t[1] == "community" for t in EVENT_TYPES])  # True = community
_TYPE_LIGHT = np.array([t[2] for t in EVENT_TYPES])
_TYPE_RATE = RATE_SCALE * np.array([t[3] for t in EVENT_TYPES])
_TYPE_VALUE = np.array([t[4] for t in EVENT_TYPES])
_LOGIN = TYPE_NAMES.index("login")
_REDEEM = TYPE_NAMES.index("points_redeemed")
_CHALLENGE = TYPE_NAMES.index("challenge_completed")
_REDEEM_AMOUNTS = np.array([-250.0, -500.0, -1000.0, -2500.0])
_CHALLENGE_AMOUNTS = np.array([25.0, 50.0, 100.0])
TASTE_SPREAD = 0.45  # log-normal spread of an advocate's taste per event type
# Logging in is a habit more than a sign of engagement: some advocates have the portal open every
# day, others sign in only to act. Their login rates differ far more than their other tastes.
LOGIN_TASTE_SPREAD = 1.1

WEEKDAY_FACTOR = np.array([1.08, 1.12, 1.12, 1.06, 0.92, 0.42, 0.36])  # Monday .. Sunday
HOLIDAY_FACTOR = 0.35  # 24 December to 1 January

# SeedSequence spawn keys: (0,) the calendar; (1, block, stream) the blocks.
_STATIC, _LATENT, _EVENTS, _ORACLE = 0, 1, 2, 3


# ----------------------------------------------------------------------------- public types


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate: size, period and seed. ``end`` is exclusive and floored to UTC midnight."""

    n_advocates: int = 10_000
    n_days: int = 730
    seed: int = 0
    end: pd.Timestamp = pd.Timestamp("2026-12-01", tz="UTC")
    chunk_size: int = 20_000
    community_share: float = 0.5

    def __post_init__(self) -> None:
        for name in ("n_advocates", "n_days", "chunk_size"):
            if int(getattr(self, name)) < 1:
                raise ContractError(f"simulation setting {name} must be at least 1")
        if not 0.0 <= self.community_share <= 1.0:
            raise ContractError("simulation setting community_share must be between 0 and 1")
        if self.seed < 0:
            raise ContractError("simulation setting seed must be 0 or more")
        end = pd.Timestamp(self.end)
        end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
        object.__setattr__(self, "end", end.floor("D"))

    @property
    def block_chunk(self) -> int:
        """Advocates per chunk after rounding ``chunk_size`` up to whole blocks."""
        return -(-self.chunk_size // BLOCK_SIZE) * BLOCK_SIZE

    @property
    def n_chunks(self) -> int:
        """How many chunks :func:`write_program` streams."""
        return -(-self.n_advocates // self.block_chunk)

    @property
    def start(self) -> pd.Timestamp:
        """First simulated day (inclusive): ``end - n_days``."""
        return self.end - pd.Timedelta(days=self.n_days)

    @property
    def grid_start(self) -> pd.Timestamp:
        """First day of the latent grid (the burn-in before ``start``)."""
        return self.start - pd.Timedelta(days=BURN_IN_DAYS)

    @property
    def n_grid(self) -> int:
        return BURN_IN_DAYS + self.n_days


@dataclass(frozen=True)
class SimulatedChunk:
    """Events, advocates and truth frames (canonical column types) of some advocates."""

    events: pd.DataFrame
    advocates: pd.DataFrame
    truth: pd.DataFrame


# ----------------------------------------------------------------------------- internals


@dataclass(frozen=True)
class _Calendar:
    """Known-in-advance day factors on the latent grid (plus the horizon after the end)."""

    season: np.ndarray  # float32, weekday x holiday factor
    lift: np.ndarray  # float32, campaign strength (0 outside campaigns)
    campaign: np.ndarray  # int16, campaign number (-1 outside campaigns)


@dataclass(frozen=True)
class _Static:
    """Per-advocate constants of a set of blocks (arrays of length n)."""

    index: np.ndarray  # global advocate index (int64)
    archetype: np.ndarray  # int8
    tier: np.ndarray
    region: np.ndarray
    mu: np.ndarray
    vscale: np.ndarray
    boost: np.ndarray
    boost_tau: np.ndarray
    lapse: np.ndarray
    react: np.ndarray
    react_mult: np.ndarray
    fade: np.ndarray
    decay: np.ndarray
    resp: np.ndarray
    join_us: np.ndarray  # joined_at, microseconds since the epoch
    conn_us: np.ndarray  # community_connected_at, int64 max when not connected
    join_t: np.ndarray  # joined_at in days from the grid start (float64)
    conn_t: np.ndarray  # connection in days from the grid start (inf: never)
    join_day: np.ndarray  # int64
    taste: np.ndarray  # (n, n_types) base rate x taste
    sums: dict[str, np.ndarray] = field(default_factory=dict)  # per-group taste sums

    def take(self, rows: np.ndarray) -> _Static:
        values = {k: getattr(self, k)[rows] for k in self.__dataclass_fields__ if k != "sums"}
        return _Static(**values, sums={k: v[rows] for k, v in self.sums.items()})


def _rng(config: SimulationConfig, block: int, stream: int, *extra: int) -> np.random.Generator:
    seq = np.random.SeedSequence(config.seed, spawn_key=(1, block, stream, *extra))
    return np.random.Generator(np.random.PCG64(seq))


def _day_us(config: SimulationConfig) -> int:
    return int(config.grid_start.value // 1000)


def _calendar(config: SimulationConfig) -> _Calendar:
    """Seasonality and campaigns for every grid day plus the 31 days after the end."""
    n = config.n_grid + HORIZON_DAYS + 1
    dates = pd.date_range(config.grid_start, periods=n, freq="D")
    season = WEEKDAY_FACTOR[dates.day_of_week.to_numpy()]
    holiday = ((dates.month == 12) & (dates.day >= 24)) | ((dates.month == 1) & (dates.day == 1))
    season = np.where(holiday, season * HOLIDAY_FACTOR, season)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(config.seed, spawn_key=(0,))))
    lift = np.zeros(n)
    campaign = np.full(n, -1, dtype=np.int16)
    day, number = int(rng.integers(15, 45)), 0
    while day < n:
        length = int(rng.integers(7, 22))
        lift[day : day + length] = rng.uniform(0.8, 1.8)
        campaign[day : day + length] = number
        number += 1
        day += length + int(rng.integers(45, 100))
    return _Calendar(season.astype(np.float32), lift.astype(np.float32), campaign)


def _block_range(config: SimulationConfig, block: int) -> tuple[int, int]:
    lo = block * BLOCK_SIZE
    return lo, min(lo + BLOCK_SIZE, config.n_advocates)


def _static_block(config: SimulationConfig, block: int) -> _Static:
    """Draw the per-advocate constants of one block from its own stream."""
    lo, hi = _block_range(config, block)
    n = hi - lo
    rng = _rng(config, block, _STATIC)
    arche = rng.choice(len(ARCHETYPES), size=n, p=_ARCHETYPE_SHARES).astype(np.int8)
    table = _ARCHETYPE_TABLE[arche]
    tier = rng.choice(len(TIERS), size=n, p=_TIER_SHARES).astype(np.int8)
    region = rng.choice(len(REGIONS), size=n, p=_REGION_SHARES).astype(np.int8)
    mu = np.log(table[:, 1]) + _TIER_OFFSET[tier] + MU_SPREAD * rng.standard_normal(n)
    resp = np.where(
        arche == ARCHETYPES.index("dormant_reactivator"), rng.beta(4, 2, n), rng.beta(2, 3, n)
    )
    decay = np.exp(-1.0 / rng.uniform(*FADE_TAU_RANGE, n))
    early = rng.random(n) < EARLY_JOINER_SHARE
    join_t = np.where(
        early, rng.uniform(0, BURN_IN_DAYS, n), BURN_IN_DAYS + rng.uniform(0, config.n_days, n)
    )
    connects = rng.random(n) < config.community_share
    at_join = rng.random(n) < 0.3
    delay = np.where(at_join, rng.uniform(0, 1, n), rng.exponential(120.0, n))
    conn_t = np.where(connects, join_t + delay, np.inf)
    conn_t = np.where(conn_t < config.n_grid, conn_t, np.inf)  # after the end: not connected yet
    spread = np.where(np.arange(len(EVENT_TYPES)) == _LOGIN, LOGIN_TASTE_SPREAD, TASTE_SPREAD)
    taste = _TYPE_RATE * np.exp(spread * rng.standard_normal((n, len(EVENT_TYPES))))

    origin = _day_us(config)
    join_us = origin + np.floor(join_t * 86_400).astype(np.int64) * 1_000_000
    finite = np.isfinite(conn_t)
    conn_sec = np.floor(np.where(finite, conn_t, 0) * 86_400).astype(np.int64)
    conn_us = np.where(finite, origin + conn_sec * 1_000_000, np.iinfo(np.int64).max)
    # Recompute the day positions from the rounded timestamps so rates and times agree exactly.
    join_t = (join_us - origin) / US_PER_DAY
    conn_t = np.where(finite, (conn_us - origin) / US_PER_DAY, np.inf)
    f32 = np.float32
    return _Static(
        index=np.arange(lo, hi, dtype=np.int64),
        archetype=arche,
        tier=tier,
        region=region,
        mu=mu.astype(f32),
        vscale=table[:, 2].astype(f32),
        boost=table[:, 3].astype(f32),
        boost_tau=table[:, 4].astype(f32),
        lapse=table[:, 5].astype(f32),
        react=table[:, 6].astype(f32),
        react_mult=table[:, 7].astype(f32),
        fade=table[:, 8].astype(f32),
        decay=decay.astype(f32),
        resp=resp.astype(f32),
        join_us=join_us,
        conn_us=conn_us,
        join_t=join_t,
        conn_t=conn_t,
        join_day=np.floor(join_t).astype(np.int64),
        taste=taste.astype(f32),
        sums=_taste_sums(taste),
    )


def _taste_sums(taste: np.ndarray) -> dict[str, np.ndarray]:
    """Per-advocate sums of type rates by (source, light/valuable); ``login`` kept apart."""
    portal, light = ~_TYPE_SOURCE, _TYPE_LIGHT
    sums = {
        "portal_light": taste[:, portal & light].sum(axis=1),
        "portal_value": taste[:, portal & ~light].sum(axis=1),
        "comm_light": taste[:, _TYPE_SOURCE & light].sum(axis=1),
        "comm_value": taste[:, _TYPE_SOURCE & ~light].sum(axis=1),
        "login": taste[:, _LOGIN],
    }
    sums["portal_light_q"] = sums["portal_light"] - sums["login"]
    return {k: v.astype(np.float32) for k, v in sums.items()}


def _concat_static(parts: Sequence[_Static]) -> _Static:
    if len(parts) == 1:
        return parts[0]
    names = [k for k in _Static.__dataclass_fields__ if k != "sums"]
    values = {k: np.concatenate([getattr(p, k) for p in parts]) for k in names}
    sums = {k: np.concatenate([p.sums[k] for p in parts]) for k in parts[0].sums}
    return _Static(**values, sums=sums)


def _latent_draws(config: SimulationConfig, block: int) -> tuple[np.ndarray, np.ndarray]:
    """The latent innovations of one block: normals and uniforms, shape (n_grid, n_block)."""
    lo, hi = _block_range(config, block)
    rng = _rng(config, block, _LATENT)
    shape = (config.n_grid, hi - lo)
    eps = rng.standard_normal(shape, dtype=np.float32)
    uni = rng.random(shape, dtype=np.float32)
    return eps, uni


State = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # x, dormant, fading, f


def _initial_state(shape: tuple[int, ...]) -> State:
    return (
        np.zeros(shape, np.float32),
        np.zeros(shape, bool),
        np.zeros(shape, bool),
        np.ones(shape, np.float32),
    )


def _step(state: State, g: int, e: np.ndarray, u: np.ndarray, st: _Static, cal: _Calendar) -> State:
    """One day of the latent Markov chain (arrays broadcast over a leading path axis).

    At most one regime transition per day, all driven by the one uniform ``u``: a lapse when
    ``u`` is small, the start of a fade (or a recovery from one) when ``u`` is close to 1.
    """
    x, dormant, fading, f = state
    new = st.join_day == g
    old = st.join_day < g
    x = np.where(new, st.mu + SIGMA_STATIONARY * e, st.mu + PHI * (x - st.mu) + SIGMA * e)
    lift = cal.lift[g]
    h_react = st.react * (1.0 + st.react_mult * st.resp * lift)
    h_recover = RECOVER_BASE + RECOVER_CAMPAIGN * st.resp * lift
    active = old & ~dormant
    # Fading is the road to a lapse: the further valuable actions have dried up, the likelier the
    # advocate stops altogether (logins and redemptions included).
    h_lapse = st.lapse * (1.0 + FADE_LAPSE * (1.0 - f) * fading)
    to_dormant = active & (u < h_lapse)
    to_active = old & dormant & (u < h_react)
    start_fade = active & ~fading & (u > 1.0 - st.fade)
    recover = active & fading & (u > 1.0 - h_recover)
    keep_fading = fading & ~recover & ~to_active & ~new
    f = np.where(keep_fading, np.maximum(f * st.decay, FADE_FLOOR), 1.0).astype(np.float32)
    fading = keep_fading | start_fade
    dormant = (dormant | to_dormant) & ~to_active & ~new
    x = np.where(to_active, x + BOUNCE, x).astype(np.float32)
    return x, dormant, fading, f


def _multipliers(
    x: np.ndarray,
    dormant: np.ndarray,
    f: np.ndarray,
    g: np.ndarray | int,
    st: _Static,
    cal: _Calendar,
    season: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Light-touch and valuable rate multipliers on day(s) ``g`` given the latent state."""
    age = np.maximum(g - st.join_day, 0).astype(np.float32)
    level = np.exp(x) * (1.0 + st.boost * np.exp(-age / st.boost_tau))
    if season:
        level = level * cal.season[g]
    lift = st.resp * cal.lift[g]
    light = level * np.where(dormant, DORMANT_LIGHT, 1.0) * (1.0 + LIFT_LIGHT * lift)
    value = (
        level * np.where(dormant, DORMANT_VALUE, 1.0) * st.vscale * f * (1.0 + LIFT_VALUE * lift)
    )
    return light.astype(np.float32), value.astype(np.float32)


def _availability(g: np.ndarray | int, st: _Static) -> tuple[np.ndarray, np.ndarray]:
    """Fraction of day ``g`` after joining (portal) and after the community connection."""
    portal = np.clip(g + 1.0 - st.join_t, 0.0, 1.0).astype(np.float32)
    community = np.clip(g + 1.0 - st.conn_t, 0.0, 1.0).astype(np.float32)
    return portal, community


def _run_latent(
    st: _Static,
    eps: np.ndarray,
    uni: np.ndarray,
    cal: _Calendar,
    n_steps: int,
    store_from: int | None = None,
    capture: Iterable[int] = (),
) -> tuple[dict[str, np.ndarray], dict[int, State]]:
    """Run the chain over grid days ``0 .. n_steps-1``.

    Stores the state for days ``>= store_from`` in (day, advocate) arrays and returns the state
    after each day in ``capture`` (``-1``: before the first day).
    """
    n = len(st.index)
    state = _initial_state((n,))
    wanted = set(capture)
    captured: dict[int, State] = {-1: state} if -1 in wanted else {}
    stored: dict[str, np.ndarray] = {}
    if store_from is not None:
        days = n_steps - store_from
        stored = {
            "x": np.empty((days, n), np.float32),
            "dormant": np.empty((days, n), bool),
            "fading": np.empty((days, n), bool),
            "f": np.empty((days, n), np.float32),
        }
    for g in range(n_steps):
        state = _step(state, g, eps[g], uni[g], st, cal)
        if store_from is not None and g >= store_from:
            row = g - store_from
            for name, value in zip(("x", "dormant", "fading", "f"), state, strict=True):
                stored[name][row] = value
        if g in wanted:
            captured[g] = state
    return stored, captured


def _digits(numbers: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative integers as ASCII bytes, shape (n, width)."""
    small = len(numbers) == 0 or int(numbers.max()) < 2**32
    value = numbers.astype(np.uint32 if small else np.uint64)
    out = np.empty((len(numbers), width), np.uint8)
    for position in range(width - 1, -1, -1):
        value, digit = np.divmod(value, 10)
        out[:, position] = digit
    out += 48
    return out


def _fixed_strings(columns: Sequence[np.ndarray | bytes], n: int) -> pd.Series:
    """Build a str Series from fixed-width pieces (byte constants or (n, w) digit arrays)."""
    parts = [
        np.broadcast_to(np.frombuffer(p, np.uint8), (n, len(p))) if isinstance(p, bytes) else p
        for p in columns
    ]
    matrix = (
        np.ascontiguousarray(np.concatenate(parts, axis=1)) if n else np.zeros((0, 1), np.uint8)
    )
    width = matrix.shape[1]
    offsets = np.arange(n + 1, dtype=np.int32) * width
    array = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(matrix.tobytes()))
    return pd.Series(pd.array(array, dtype="str"))


def _id_width(config: SimulationConfig) -> int:
    return max(6, len(str(config.n_advocates - 1)))


def _advocate_ids(index: np.ndarray, config: SimulationConfig) -> pd.Series:
    return _fixed_strings([b"A", _digits(index, _id_width(config))], len(index))


def _timestamps(us: np.ndarray) -> pd.Series:
    return pd.Series(us.astype("datetime64[us]")).dt.tz_localize("UTC").astype(TIMESTAMP_DTYPE)


def _labels(codes: np.ndarray, names: Sequence[str]) -> pd.Series:
    array = pa.array(list(names), type=pa.string()).take(pa.array(codes.astype(np.int32)))
    return pd.Series(pd.array(array, dtype="str"))


def _block_events(
    config: SimulationConfig,
    block: int,
    st: _Static,
    stored: dict[str, np.ndarray],
    cols: slice,
    cal: _Calendar,
) -> dict[str, np.ndarray]:
    """Draw the events of one block given its stored latent path (columns ``cols``)."""
    rng = _rng(config, block, _EVENTS)
    sb = st.take(np.arange(cols.start, cols.stop))
    n_days = config.n_days
    g = np.arange(BURN_IN_DAYS, config.n_grid)[:, None]
    light, value = _multipliers(
        stored["x"][:, cols], stored["dormant"][:, cols], stored["f"][:, cols], g, sb, cal
    )
    portal, community = _availability(g, sb)
    s = sb.sums
    total = light * (s["portal_light"] * portal + s["comm_light"] * community) + value * (
        s["portal_value"] * portal + s["comm_value"] * community
    )
    counts = rng.poisson(np.ascontiguousarray(total.T))  # (advocate, day) order
    flat = counts.ravel()
    cells = np.flatnonzero(flat)
    cell = np.repeat(cells, flat[cells])
    adv, day = np.divmod(cell, n_days)
    n_ev = len(cell)
    lt, vl = light.T.ravel()[cell], value.T.ravel()[cell]
    ap, ac = portal.T.ravel()[cell], community.T.ravel()[cell]
    weights = sb.taste[adv] * np.where(_TYPE_LIGHT, lt[:, None], vl[:, None])
    weights *= np.where(_TYPE_SOURCE, ac[:, None], ap[:, None])
    cum = np.cumsum(weights, axis=1)
    pick = rng.random(n_ev, dtype=np.float32) * cum[:, -1]
    etype = np.minimum((cum < pick[:, None]).sum(axis=1), len(EVENT_TYPES) - 1)
    # Times: uniform over the available part of the day (after joining / after connecting).
    community_type = _TYPE_SOURCE[etype]
    lower = 1.0 - np.where(community_type, ac, ap)
    frac = lower + rng.random(n_ev) * (1.0 - lower)
    day_start = _day_us(config) + (BURN_IN_DAYS + day) * US_PER_DAY
    us = day_start + np.minimum((frac * US_PER_DAY).astype(np.int64), US_PER_DAY - 1)
    us = np.maximum(us, np.where(community_type, sb.conn_us[adv], sb.join_us[adv]))
    amount = rng.random(n_ev)
    points = _TYPE_VALUE[etype]
    redeem = etype == _REDEEM
    points[redeem] = _REDEEM_AMOUNTS[(amount[redeem] * len(_REDEEM_AMOUNTS)).astype(int)]
    challenge = etype == _CHALLENGE
    points[challenge] = _CHALLENGE_AMOUNTS[
        (amount[challenge] * len(_CHALLENGE_AMOUNTS)).astype(int)
    ]
    order = np.lexsort((us, adv))
    return {
        "index": sb.index[adv[order]],
        "us": us[order],
        "type": etype[order].astype(np.int8),
        "value": points[order],
    }


def _events_frame(parts: list[dict[str, np.ndarray]], config: SimulationConfig) -> pd.DataFrame:
    index = np.concatenate([p["index"] for p in parts])
    us = np.concatenate([p["us"] for p in parts])
    etype = np.concatenate([p["type"] for p in parts])
    value = np.concatenate([p["value"] for p in parts])
    n = len(index)
    # Sequence number of each event within its advocate (events are grouped by advocate).
    first = np.r_[True, index[1:] != index[:-1]] if n else np.zeros(0, bool)
    starts = np.flatnonzero(first)
    seq = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    seq_width = max(6, len(str(int(seq.max())))) if n else 6
    width = _id_width(config)
    lo = int(index.min()) if n else 0
    id_digits = _digits(np.arange(lo, int(index.max()) + 1 if n else 0), width)[index - lo]
    return pd.DataFrame(
        {
            "advocate_id": _fixed_strings([b"A", id_digits], n),
            "occurred_at": _timestamps(us),
            "event_type": _labels(etype, TYPE_NAMES),
            "source": _labels(_TYPE_SOURCE[etype].astype(np.int8), ("portal", "community")),
            "value": value.astype(np.float64),
            "event_id": _fixed_strings([b"A", id_digits, b"-", _digits(seq, seq_width)], n),
        }
    )


def _advocates_frame(st: _Static, config: SimulationConfig) -> pd.DataFrame:
    connected = st.conn_us != np.iinfo(np.int64).max
    conn = _timestamps(np.where(connected, st.conn_us, 0))
    return pd.DataFrame(
        {
            "advocate_id": _advocate_ids(st.index, config),
            "joined_at": _timestamps(st.join_us),
            "community_connected_at": conn.where(pd.Series(connected)),
            "region": _labels(st.region, REGIONS),
            "account_tier": _labels(st.tier, TIERS),
        }
    )


REGIME_NAMES: tuple[str, ...] = ("active", "fading", "dormant")


def _truth_frame(
    st: _Static, stored: dict[str, np.ndarray], cal: _Calendar, config: SimulationConfig
) -> pd.DataFrame:
    """Weekly snapshots of the latent state (rows: advocate on the roster that day).

    A row dated ``D`` (every 7th day from the start, midnight UTC) holds the state of day ``D``:
    ``intensity`` is exp(log-intensity) x onboarding boost, ``valuable_multiplier`` is ``f``,
    ``login_rate`` and ``qualifying_rate`` the expected events per day that day, with campaign lift
    and community connection but without the weekday or holiday factor.
    """
    rows = np.arange(0, config.n_days, 7)
    g = (BURN_IN_DAYS + rows)[:, None]
    x, dormant = stored["x"][rows], stored["dormant"][rows]
    fading, f = stored["fading"][rows], stored["f"][rows]
    light, value = _multipliers(x, dormant, f, g, st, cal, season=False)
    s = st.sums
    connected = (st.conn_t <= g).astype(np.float32)
    login_rate = light * s["login"]
    qual_rate = light * (s["portal_light_q"] + s["comm_light"] * connected) + value * (
        s["portal_value"] + s["comm_value"] * connected
    )
    on_roster = (st.join_t <= g).T  # (advocate, week)
    adv, week = np.nonzero(on_roster)
    regime = np.where(dormant, 2, np.where(fading, 1, 0)).T[adv, week]
    origin = _day_us(config)
    intensity = np.exp(x) * (
        1.0 + st.boost * np.exp(-np.maximum(g - st.join_day, 0) / st.boost_tau)
    )
    return pd.DataFrame(
        {
            "advocate_id": _advocate_ids(st.index[adv], config),
            "date": _timestamps(origin + (BURN_IN_DAYS + rows[week]) * US_PER_DAY),
            "archetype": _labels(st.archetype[adv], ARCHETYPES),
            "regime": _labels(regime, REGIME_NAMES),
            "intensity": intensity.T[adv, week].astype(np.float32),
            "valuable_multiplier": f.T[adv, week].astype(np.float32),
            "login_rate": login_rate.T[adv, week].astype(np.float32),
            "qualifying_rate": qual_rate.T[adv, week].astype(np.float32),
        }
    )


def _chunk_blocks(config: SimulationConfig, chunk_index: int) -> range:
    per_chunk = config.block_chunk // BLOCK_SIZE
    n_blocks = -(-config.n_advocates // BLOCK_SIZE)
    return range(chunk_index * per_chunk, min((chunk_index + 1) * per_chunk, n_blocks))


# ----------------------------------------------------------------------------- public API


def campaign_calendar(config: SimulationConfig) -> pd.DataFrame:
    """The program's campaigns: ``campaign``, ``start``, ``end`` (exclusive), ``lift``.

    Only campaigns overlapping the simulated period ``[start, end)`` are listed.
    """
    cal = _calendar(config)
    dates = pd.date_range(config.grid_start, periods=len(cal.lift), freq="D")
    frame = pd.DataFrame({"campaign": cal.campaign, "date": dates, "lift": cal.lift})
    frame = frame[frame["campaign"] >= 0]
    out = frame.groupby("campaign", as_index=False).agg(
        start=("date", "min"), end=("date", "max"), lift=("lift", "first")
    )
    out["end"] = out["end"] + pd.Timedelta(days=1)
    keep = (out["end"] > config.start) & (out["start"] < config.end)
    return out[keep].reset_index(drop=True)


def simulate_chunk(config: SimulationConfig, chunk_index: int) -> SimulatedChunk:
    """Simulate the advocates of one chunk: a pure, deterministic function of its arguments."""
    blocks = _chunk_blocks(config, chunk_index)
    if not 0 <= chunk_index < config.n_chunks:
        raise ContractError(f"chunk_index {chunk_index} is outside 0..{config.n_chunks - 1}")
    cal = _calendar(config)
    statics = [_static_block(config, b) for b in blocks]
    st = _concat_static(statics)
    n = len(st.index)
    eps = np.empty((config.n_grid, n), np.float32)
    uni = np.empty((config.n_grid, n), np.float32)
    offset = 0
    for b, sb in zip(blocks, statics, strict=True):
        cols = slice(offset, offset + len(sb.index))
        eps[:, cols], uni[:, cols] = _latent_draws(config, b)
        offset = cols.stop
    stored, _ = _run_latent(st, eps, uni, cal, config.n_grid, store_from=BURN_IN_DAYS)
    del eps, uni
    parts, offset = [], 0
    for b, sb in zip(blocks, statics, strict=True):
        cols = slice(offset, offset + len(sb.index))
        parts.append(_block_events(config, b, st, stored, cols, cal))
        offset = cols.stop
    return SimulatedChunk(
        events=_events_frame(parts, config),
        advocates=_advocates_frame(st, config),
        truth=_truth_frame(st, stored, cal, config),
    )


def simulate_program(config: SimulationConfig) -> SimulatedChunk:
    """All chunks concatenated in memory (for small programs and tests)."""
    chunks = [simulate_chunk(config, i) for i in range(config.n_chunks)]
    return SimulatedChunk(
        events=pd.concat([c.events for c in chunks], ignore_index=True),
        advocates=pd.concat([c.advocates for c in chunks], ignore_index=True),
        truth=pd.concat([c.truth for c in chunks], ignore_index=True),
    )


def write_program(
    out_dir: str | Path,
    config: SimulationConfig,
    on_chunk: Callable[[int], None] | None = None,
) -> list[Path]:
    """Stream DIR/events.parquet, DIR/advocates.parquet and DIR/truth.parquet chunk by chunk.

    Memory stays bounded by one chunk; the three files appear only once all are complete.
    """
    out = Path(out_dir)
    targets = [out / "events.parquet", out / "advocates.parquet", out / "truth.parquet"]
    with io.atomic_paths(*targets) as temps:
        writers = [io.ParquetStreamWriter(t) for t in temps]
        try:
            for i in range(config.n_chunks):
                chunk = simulate_chunk(config, i)
                for writer, frame in zip(
                    writers, (chunk.events, chunk.advocates, chunk.truth), strict=True
                ):
                    writer.write(frame)
                del chunk
                if on_chunk is not None:
                    on_chunk(1)
        finally:
            for writer in writers:
                writer.close()
    return targets


def _as_of_list(as_of: pd.Timestamp | str | Sequence[pd.Timestamp | str]) -> list[pd.Timestamp]:
    values = [as_of] if isinstance(as_of, str | pd.Timestamp) else list(as_of)
    stamps = []
    for value in values:
        stamp = pd.Timestamp(value)
        stamps.append(stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC"))
    return stamps


def _window_overlap(start: float, stop: float, available: np.ndarray) -> np.ndarray:
    """Length of ``[start, stop)`` within a day that falls in the available suffix of the day."""
    return np.clip(stop - np.maximum(start, 1.0 - available), 0.0, None).astype(np.float32)


def true_engagement_probability(
    config: SimulationConfig,
    as_of: pd.Timestamp | str | Sequence[pd.Timestamp | str],
    n_paths: int = 200,
    advocate_ids: Iterable[str] | None = None,
) -> pd.DataFrame:
    """The oracle: P(at least one qualifying (non-login) event in ``[T, T + 30 days)``).

    For every advocate on the roster as of each ``T`` (``joined_at <= T``), optionally limited to
    ``advocate_ids``. It conditions on everything the simulator knows at ``T``: the advocate's
    constants, the latent state at the end of the last full day before ``T`` and the campaign
    calendar. From there it simulates the latent chain forward ``n_paths`` times with an independent
    stream (the realised future is one more draw of the same chain) and averages the Poisson
    probability of no qualifying event given each path, ``exp(-integrated rate)``.

    Columns: ``advocate_id``, ``as_of``, ``true_probability``.
    """
    stamps = _as_of_list(as_of)
    if n_paths < 1:
        raise ContractError("n_paths must be at least 1")
    origin = config.grid_start
    positions = []
    for stamp in stamps:
        if not config.start <= stamp <= config.end:
            raise ContractError(
                f"as-of {stamp} is outside the simulated period ({config.start} .. {config.end})"
            )
        days = (stamp - origin) / pd.Timedelta(days=1)
        positions.append((int(math.floor(days)), days - math.floor(days)))
    width = _id_width(config)
    wanted: np.ndarray | None = None
    if advocate_ids is not None:
        ids = pd.Series(list(advocate_ids), dtype="str")
        ok = ids.str.fullmatch(rf"A\d{{{width}}}")
        numbers = ids[ok].str.slice(1).astype("int64").to_numpy()
        wanted = np.unique(numbers[numbers < config.n_advocates])
    cal = _calendar(config)
    n_blocks = -(-config.n_advocates // BLOCK_SIZE)
    frames = []
    for block in range(n_blocks):
        lo, hi = _block_range(config, block)
        if wanted is not None and not ((wanted >= lo) & (wanted < hi)).any():
            continue
        st = _static_block(config, block)
        eps, uni = _latent_draws(config, block)
        last = max(t0 for t0, _ in positions)
        _, captured = _run_latent(st, eps, uni, cal, last, capture=[t0 - 1 for t0, _ in positions])
        del eps, uni
        for stamp, (t0, frac) in zip(stamps, positions, strict=True):
            stamp_us = stamp.value // 1000
            # The whole block's roster is always simulated (and then filtered) so that the
            # oracle's random streams, hence its values, do not depend on advocate_ids.
            rows = np.flatnonzero(st.join_us <= stamp_us)
            if not len(rows):
                continue
            sb = st.take(rows)
            state = tuple(np.broadcast_to(a[rows], (n_paths, len(rows))) for a in captured[t0 - 1])
            prob = _forward(config, block, sb, state, t0, frac, n_paths, cal)
            if wanted is not None:
                keep = np.isin(sb.index, wanted)
                sb, prob = sb.take(np.flatnonzero(keep)), prob[keep]
            frames.append(
                pd.DataFrame(
                    {
                        "advocate_id": _advocate_ids(sb.index, config),
                        "as_of": pd.Series([stamp] * len(sb.index), dtype=TIMESTAMP_DTYPE),
                        "true_probability": prob,
                    }
                )
            )
    if not frames:
        return pd.DataFrame(
            {
                "advocate_id": pd.Series([], dtype="str"),
                "as_of": pd.Series([], dtype=TIMESTAMP_DTYPE),
                "true_probability": pd.Series([], dtype="float64"),
            }
        )
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["as_of", "advocate_id"], ignore_index=True)


def _forward(
    config: SimulationConfig,
    block: int,
    st: _Static,
    state: State,
    t0: int,
    frac: float,
    n_paths: int,
    cal: _Calendar,
) -> np.ndarray:
    """Mean over simulated latent paths of P(no qualifying event in the window | path)."""
    rng = _rng(config, block, _ORACLE, t0, int(round(frac * 86_400)))
    n = len(st.index)
    integrated = np.zeros((n_paths, n), np.float64)
    s = st.sums
    for k in range(HORIZON_DAYS + 1):
        g = t0 + k
        lo, hi = (frac, 1.0) if k == 0 else ((0.0, frac) if k == HORIZON_DAYS else (0.0, 1.0))
        if hi <= lo:
            continue
        e = rng.standard_normal((n_paths, n), dtype=np.float32)
        u = rng.random((n_paths, n), dtype=np.float32)
        state = _step(state, g, e, u, st, cal)
        x, dormant, _, f = state
        light, value = _multipliers(x, dormant, f, g, st, cal)
        portal, community = _availability(g, st)
        op, oc = _window_overlap(lo, hi, portal), _window_overlap(lo, hi, community)
        integrated += light * (s["portal_light_q"] * op + s["comm_light"] * oc) + value * (
            s["portal_value"] * op + s["comm_value"] * oc
        )
    return 1.0 - np.exp(-integrated).mean(axis=0)
