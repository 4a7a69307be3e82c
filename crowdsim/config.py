"""Structured configuration of a crowdsim run.

Every option is a field of a dataclass below, declared with :func:`opt`: its default, the values
it allows (bounds, choices, keys) and its source (``doc``: a reference, or ``assumption``).
Hydra validates types against these schemas (``ConfigStore``); :func:`validate` walks the schema
and checks every value against what its field declares, rejects NaN and infinities in every
float unless the field says ``finite=False``, then applies the cross-field :data:`RULES`.

To add an option, add one line to its dataclass, e.g.::

    review_patience_days: float = opt(7.0, gt=0, le=365, doc="assumption: ...")

Units: money in USD, time in hours unless the name says minutes or days, shares in [0, 1].
"""

from __future__ import annotations

import copy
import difflib
import math
import os
import re
import typing
from collections.abc import Callable, Iterator
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from functools import cache
from typing import Any, NamedTuple

from omegaconf import DictConfig, OmegaConf

COUNTRY_CODES = ["US", "IN", "PH", "BD", "PK", "KE", "VE", "FR", "GB"]
TASK_TYPES = [
    "survey",
    "data_lookup",
    "transcription",
    "image_labelling",
    "content_moderation",
    "engagement_clicks",
]
COUNTRY_TABLE = f"ISO codes in the country table: {', '.join(COUNTRY_CODES)}"
# Money options are bounded so that sums in integer micro-dollars (crowdsim/ledger.py, int64)
# cannot overflow: $10,000 per hour or per task is far above any micro-task market.
MAX_USD = 10_000


class ConfigError(ValueError):
    """A configuration value is not allowed. The message names option, value and what is allowed."""

    def __init__(self, option: str, value: Any, allowed: str, message: str | None = None):
        self.option, self.value, self.allowed = option, value, allowed
        super().__init__(
            message or f"invalid value for option '{option}': {value!r} (allowed: {allowed})"
        )


def opt(
    default: Any = MISSING,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: typing.Sequence[str] | None = None,
    keys: typing.Sequence[str] | None = None,
    finite: bool = True,
    allowed: str | None = None,
    doc: str = "",
) -> Any:
    """A config field with the values it allows declared beside it.

    Bounds (``ge`` >=, ``gt`` >, ``le`` <=, ``lt`` <) and ``choices`` apply to the value, or to
    each item of a list or each value of a dict; ``keys`` lists the keys a dict may have.
    Floats must be finite unless ``finite=False``. ``allowed`` replaces the generated text of
    what is allowed in error messages; ``doc`` is the source of the default or ``assumption``.
    A list or dict default is copied for each new config.
    """
    meta = {
        "ge": ge,
        "gt": gt,
        "le": le,
        "lt": lt,
        "choices": None if choices is None else tuple(choices),
        "keys": None if keys is None else tuple(keys),
        "finite": finite,
        "allowed": allowed,
        "doc": doc,
    }
    if isinstance(default, list | dict):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return field(default=default, metadata=meta)


def share(default: float, doc: str = "") -> Any:
    """A share or probability: a number between 0 and 1."""
    return opt(default, ge=0.0, le=1.0, doc=doc)


@dataclass
class PopulationConfig:
    """Who works on the platform."""

    n_workers: int = opt(
        2000,
        ge=1,
        doc="initial pool; MTurk 100k-200k (Difallah et al. 2018); small default for speed",
    )
    countries: list[str] = opt(
        list(COUNTRY_CODES), choices=COUNTRY_CODES, allowed=COUNTRY_TABLE,
        doc="every country of the country table (crowdsim/data/countries.csv, sources there)",
    )  # fmt: skip
    # Pool shares: 'mturk' (Ipeirotis 2015: ~80% US / 20% India), 'global' (Online Labour Index),
    # or 'custom' (use `shares`). Shares are renormalised over `countries`.
    country_mix: str = opt(
        "mturk", choices=("mturk", "global", "uniform", "custom"),
        doc="MTurk's pool: ~80% US / 20% India (Ipeirotis 2015)",
    )  # fmt: skip
    shares: dict[str, float] = opt(
        {}, ge=0, keys=COUNTRY_CODES, allowed="a share >= 0",
        doc="pool shares by country with country_mix 'custom' (none: the mix's own)",
    )  # fmt: skip
    # Share of workers for whom crowd work is the main income. Ipeirotis 2010 survey: ~15% of US
    # and ~27% of Indian workers call MTurk their primary income; 0.2 assumed for the mix.
    main_income_share: float = share(
        0.2, "Ipeirotis 2010: ~15% of US and ~27% of Indian workers (assumption: 0.2 for the mix)"
    )
    workers_per_requester: float = opt(
        25.0, gt=0, le=1_000_000, doc="assumption: thousands of requesters for 100k+ workers"
    )
    currency: str = opt("USD", doc="display currency of reports (EUR for a French platform)")
    usd_per_currency: float = opt(
        1.0, gt=0, le=1_000_000, doc="exchange rate of the display currency (1: USD)"
    )


@dataclass
class SimConfig:
    days: int = opt(28, ge=1, le=3650, doc="length of a run; up to ten years")
    check_invariants: bool = opt(
        False, doc="check money and time conservation after every hour (slow)"
    )
    record_weekly_earnings: bool = opt(True)
    min_hours_for_wage: float = opt(
        1.0,
        ge=0,
        le=10_000,
        doc="workers with less resolved working time are left out of wage stats (assumption)",
    )
    warmup_days: int = opt(
        0,
        ge=0,
        le=3650,
        doc="first days of the run simulated but not counted in the summary (the market settles "
        "from its arbitrary initial state); the summary covers days warmup_days..days",
    )
    steady_window_days: int = opt(
        7,
        ge=1,
        le=365,
        doc="assumption: length of the consecutive windows of the convergence diagnostic (a week, "
        "so that the weekly posting cycle averages out)",
    )
    steady_drift_tolerance: float = opt(
        0.05,
        gt=0,
        le=10,
        doc="assumption: a headline metric drifts when its trend over the measured window "
        "changes it by more than this share of its mean and the trend is significant at 5% "
        "(Student's t on windows - 2 degrees of freedom: |t| > 4.30 for four windows)",
    )
    reform_day: int | None = opt(
        None,
        ge=1,
        le=3650,
        doc="day of the run at whose first hour the rules of `reform` apply (None: no reform)",
    )
    checkpoint_days: int | None = opt(
        None,
        ge=1,
        le=3650,
        doc="write a checkpoint of the whole market every this many simulated days into the run "
        "folder's checkpoints/ (None: none); the same command again in that folder resumes from "
        "the latest (crowdsim/checkpoint.py)",
    )
    checkpoint_keep: int = opt(
        2, ge=1, le=1000, doc="checkpoints kept in a run folder (the latest ones); disk use bound"
    )
    share_warmup: bool = opt(
        False,
        doc="in a sweep, runs with a reform at sim.reform_day share the market's state at that "
        "day: the first run of a warm-up (same config but the reform) simulates it and saves it "
        "in the sweep folder's warmups/, the others start from it; a run without a reform starts "
        "from its market at sim.warmup_days if a warm-up of it is there; results identical to "
        "replaying it (crowdsim-compare's short runs and long-run baseline use it)",
    )
    start_from: str | None = opt(
        None,
        doc="a checkpoint (.npz) to start from instead of day 0: a market warmed up by another run "
        "whose config differs only by its reform (e.g. the status quo), branched here with this "
        "run's reform at sim.reform_day (None: start at day 0)",
    )


@dataclass
class PlatformConfig:
    """The platform's rules: fees, rejection transparency, payment guarantee, minimum pay, access."""

    # --- fees ---
    commission: float = share(
        0.20,
        "MTurk since 21 Jul 2015: 20% of reward, charged to the requester (Amazon fee notice 2015)",
    )
    commission_min_usd: float = opt(
        0.01, ge=0, le=MAX_USD, doc="MTurk minimum fee per assignment (Amazon fee notice 2015)"
    )
    batch_surcharge: float = share(
        0.20, "MTurk: +20% for HITs with 10 or more assignments (Amazon fee notice 2015)"
    )
    batch_surcharge_min_assignments: int = opt(
        10, ge=2, doc="MTurk: 10 or more assignments (Amazon fee notice 2015)"
    )
    batch_surcharge_counts: str = opt(
        "hit",
        choices=("batch", "hit"),
        doc="what the surcharge counts: 'batch', a batch's assignments as those of one HIT; "
        "'hit', Amazon's rule (fee notice 2015): the assignments of one HIT, and as a worker may "
        "do only one assignment of a HIT (MTurk API docs), a batch whose workers may each do "
        "several assignments (market.type_max_per_worker > 1) is that many HITs of one "
        "assignment, never surcharged; only single-response tasks (surveys, clicks) form HITs "
        "of many assignments, and their reward is priced at the fee of the HIT really posted",
    )
    worker_fee_share: float = opt(
        0.0, ge=0.0, le=0.99, doc="share deducted from worker pay (Upwork-style; MTurk: 0)"
    )
    commission_tiers_usd: list[float] = opt(
        [],
        ge=0,
        le=1_000_000_000,
        doc="worker lifetime billing thresholds, e.g. [500, 10000] (Upwork 2016-2023)",
    )
    commission_tier_rates: list[float] = opt(
        [], ge=0.0, le=0.99, doc="worker-side rates per tier, e.g. [0.2, 0.1, 0.05]"
    )
    commission_cap: float | None = share(
        None, "cap on the requester fee as a share of reward (None: no cap)"
    )
    reward_increment_usd: float = opt(
        0.01,
        ge=0.000001,
        le=1.0,
        doc="rewards are whole multiples of this, at least one (MTurk: whole cents, at least "
        "$0.01, MTurk API); sub-cent where a platform pays per engagement action",
    )
    # --- rejection transparency ---
    reason_required: bool = opt(
        False, doc="MTurk: rejection reasons optional, unjustified rejections invisible"
    )
    public_requester_stats: bool = opt(
        False, doc="MTurk publishes none (workers use Turkopticon); assumption"
    )
    appeals: bool = opt(False, doc="MTurk: no appeal of a rejection to the platform")
    appeal_overturn_prob: float = share(
        0.6, "assumption: share of unjustified rejections overturned on appeal"
    )
    appeal_delay_days: float = opt(7.0, gt=0, le=3650, doc="assumption")
    appeal_deterrence: float = share(
        0.5, "assumption: chance an overturned requester stops rejecting opportunistically"
    )
    # --- payment guarantee ---
    payment_guarantee: str = opt(
        "auto_approval", choices=("none", "auto_approval", "escrow"),
        doc="MTurk: unreviewed work is approved after auto_approval_days (MTurk API docs)",
    )  # fmt: skip
    auto_approval_days: float = opt(
        30.0, gt=0, le=3650, doc="MTurk maximum and common default (MTurk API docs)"
    )
    escrow_auto_approval_days: float = opt(
        3.0, gt=0, le=3650, doc="assumption: a short guaranteed deadline"
    )
    abandon_days: float = opt(
        30.0,
        gt=0,
        le=3650,
        doc="assumption: with no guarantee, unreviewed work is never paid after this",
    )
    # --- minimum pay ---
    min_pay_mode: str = opt(
        "none",
        choices=("none", "estimated", "measured", "median_top_up"),
        doc="'estimated': the floor applies to the requester's estimated duration at posting; "
        "'measured': to the task's true median duration; 'median_top_up' (Prolific's rule, "
        "Prolific help pages): the floor applies to the estimate at posting, and when the batch "
        "closes, if its reward per *median completion time* of its submissions is below the "
        "floor, the requester tops up every approved submission to the floor (as a bonus, on "
        "which the platform charges its commission)",
    )
    min_pay_usd_per_hour: float = opt(
        8.0, ge=0, le=MAX_USD, doc="Prolific minimum $8/h (Prolific pricing pages, 2026)"
    )
    # --- pay by the hour and caps on work (vetted programmes, French platforms) ---
    pay_basis: str = opt(
        "task",
        choices=("task", "hourly"),
        doc="'task': pay per approved assignment (MTurk, Prolific); 'hourly': pay per hour "
        "worked on tasks at platform.hourly_rate_usd, as vetted AI-rating programmes pay their "
        "raters (press reports 2023, MODEL.md); the requester's deposit at posting is the rate x "
        "its estimated time and is settled to the time really worked when work is submitted",
    )
    hourly_rate_usd: float = opt(
        14.0,
        gt=0,
        le=MAX_USD,
        doc="pay per hour worked with pay_basis 'hourly': US raters' rates reported at $10-12/h, "
        "raised to about $14-14.50/h in 2023 (press reports 2023, MODEL.md)",
    )
    weekly_hours_cap: float | None = opt(
        None,
        gt=0,
        le=168,
        doc="most hours a worker may work (search and tasks) in a week (from hour 0, Monday 00:00 "
        "UTC); the worker stops at the cap and what it had not finished goes back to the "
        "listing (AI-rating programmes: about 26 h a week, press reports 2023; None: no cap)",
    )
    monthly_earnings_cap_usd: float | None = opt(
        None,
        gt=0,
        le=MAX_USD,
        doc="most reward a worker may earn in a month of 30 days (from hour 0): work that would "
        "take it over the cap is not offered and a worker at the cap stops working until the "
        "next month (Foule Factory: EUR 250 a month reported, MODEL.md; None: no cap)",
    )
    # --- entry ---
    waitlist: bool = opt(
        False,
        doc="gated entry (Prolific's participant waitlist, Prolific help pages): new workers join "
        "a waitlist and the platform admits them each day at the pool's turnover rate x "
        "(assignment-hours posted per online worker-hour yesterday / "
        "waitlist_target_work_per_online_hour), i.e. at the rate demand supports",
    )
    waitlist_initial_share: float = opt(
        0.0,
        ge=0,
        le=100,
        doc="would-be workers waiting when the run starts, per worker of population.n_workers "
        "(with platform.waitlist)",
    )
    waitlist_target_work_per_online_hour: float | None = opt(
        None,
        gt=0,
        le=100,
        doc="assumption: the demand at which the platform admits at the turnover rate (None: "
        "market.demand_ratio, the demand the market is set up with)",
    )
    # --- access ---
    qualification_share: float = share(0.3, "assumption: share of batches behind the approval gate")
    qualification_min_approval_rate: float = share(0.95, "common gate (Peer et al. 2014)")
    qualification_min_approved: int = opt(100, ge=0, doc="common gate (Peer et al. 2014)")
    restricted_share: float = share(0.0, "share of batches open only to `restricted_countries`")
    restricted_countries: list[str] = opt(
        ["US"], choices=COUNTRY_CODES, allowed=COUNTRY_TABLE,
        doc="assumption: US-only tasks, the common restriction on MTurk",
    )  # fmt: skip
    listing: str = opt(
        "newest",
        choices=("newest", "pay"),
        doc="which tasks a worker sees first: 'newest' (MTurk default sort) or 'pay' (highest reward first)",
    )
    listing_half_life_hours: float = opt(
        12.0, gt=0, le=87_600,
        doc="assumption: a group's visibility in a 'newest' listing halves every this many hours",
    )  # fmt: skip
    listing_min_visibility: float = opt(
        0.02,
        ge=0,
        le=1_000,
        doc="assumption: visibility floor of old groups (keyword search, bookmarks)",
    )


@dataclass
class ReformConfig:
    """A change of rules during a run (files in crowdsim/conf/reform/): options of any section
    (``platform``, ``requesters``...) that replace the run's own from ``sim.reform_day`` on."""

    name: str = opt("none", doc="the reform's file name, 'none' for a run without one")
    description: str = opt("")
    rules: dict[str, Any] = opt(
        {}, allowed="a mapping of sections to options, e.g. {platform: {commission: 0.2}}"
    )


CALIBRATED = (
    "calibrated (docs/calibration.md): SMM fit to Hara et al. 2018 and Difallah et al. 2018"
)


@dataclass
class WorkerBehaviourConfig:
    reservation_wage_median_usd: float = opt(
        1.38, gt=0, le=MAX_USD, doc="Horton & Chilton 2010, MTurk median reservation wage"
    )
    reservation_wage_sigma: float = opt(0.9, gt=0, le=5, doc="assumption: lognormal dispersion")
    main_income_reservation_factor: float = opt(
        0.8, gt=0, le=100, doc="assumption: fewer outside options"
    )
    weekly_hours_median_side: float = opt(
        2.0,
        gt=0,
        le=168,
        doc="assumption, with main below chosen so 2-5% of the pool is online (Difallah 2018)",
    )
    weekly_hours_median_main: float = opt(15.0, gt=0, le=168, doc="assumption")
    weekly_hours_sigma: float = opt(0.8, gt=0, le=5, doc="assumption: heavy-tailed hours")
    skill_mean: float = opt(
        0.97, gt=0, lt=1,
        doc="assumption: probability a task meets the quality bar (a beta mean: between 0 and 1)",
    )  # fmt: skip
    skill_concentration: float = opt(40.0, gt=0, doc="assumption: beta concentration")
    speed_sigma: float = opt(0.549, ge=0, le=5, doc=CALIBRATED)
    search_minutes: float = opt(1.87, ge=0, le=600, doc=CALIBRATED)
    search_learning_rate: float = share(
        0.175,
        "calibrated (docs/calibration.md): how fast a worker's belief about how often a look finds a task, and what such tasks pay, follows its looks",
    )
    initial_belief_find: float = share(
        0.648,
        "calibrated (docs/calibration.md): a newcomer's belief that a look finds a task it takes",
    )
    initial_belief_found_wage_usd: float = opt(
        3.18, gt=0, le=MAX_USD,
        doc="a newcomer's belief about the pay per hour of tasks it finds: Hara et al. 2018 median paid-only wage",
    )  # fmt: skip
    belief_find_recovery_per_day: float = share(
        0.1,
        "assumption: daily share by which the belief about finding tasks returns to the newcomer's (a worker who logged off tries again)",
    )
    market_look_prob_per_day: float = share(
        0.1,
        "assumption: daily probability that a worker with no recent work looks at what the market pays (public statistics, forums, an occasional look) and sets its beliefs from it, so no one is locked out by a newcomer's belief (market/adapt.py)",
    )
    choice_pay_sensitivity: float = opt(
        0.15, ge=0, le=100,
        doc="pay coefficient of the logit task choice (log expected pay per hour): fitted so that the labour-supply elasticity facing one requester measured by crowdsim-validate's honeypot is about 0.1, as on MTurk (Dube, Jacobs, Naidu & Suri 2020): 0.131 [0.086, 0.173] with the defaults at 20,000 workers x 21 days (docs/calibration.md)",
    )  # fmt: skip
    max_searches_per_hour: int = opt(4, ge=1, le=60, doc="assumption")
    candidates_seen: int = opt(
        5, ge=1, le=1000, doc="assumption: task groups a worker compares per search"
    )
    learning_rate: float = share(0.256, CALIBRATED)
    return_threshold: float = opt(
        2.0,
        gt=1,
        doc="assumption: return a task once it runs this many times over the expected time",
    )
    duration_noise_sigma: float = opt(0.235, gt=0, le=5, doc=CALIBRATED)
    return_base_prob: float = share(0.0237, CALIBRATED)
    impatience_per_day: float = opt(
        0.02, ge=0, doc="assumption: discount of expected pay per day of payment delay"
    )
    exit_wage_ratio: float = opt(
        0.277,
        ge=0,
        doc="leave when recent all-in wage < this x reservation wage ... (calibrated, docs/calibration.md: with exit_prob_side, to Difallah et al. 2018's pool half-life)",
    )
    exit_days: int = opt(21, ge=1, doc="... for this many consecutive days (assumption)")
    exit_prob_side: float = share(0.154, CALIBRATED)
    exit_prob_main: float = share(0.1, "assumption: dependent workers stay longer")
    baseline_exit_per_month: float = share(
        0.04, "Difallah et al. 2018: half-life 12-18 months -> ~4%/month"
    )
    # Hours respond to success (intensive margin): a worker whose recent all-in wage is below
    # `discouragement_threshold` x reservation wage logs on less, by `discouragement_per_day` a day
    # down to `min_engagement` of its usual hours, and recovers at the same pace once work pays.
    # Assumption (direction as in Horton & Chilton 2010 and reference-dependent labour supply, Farber 2015).
    discouragement_threshold: float = opt(0.5, ge=0, doc="assumption")
    discouragement_per_day: float = share(0.15, "assumption")
    min_engagement: float = share(0.1, "assumption")
    belief_slots: int = opt(8, ge=1, le=1000, doc="requesters a worker remembers (assumption)")
    initial_belief_approval: float = share(
        0.97,
        "assumption: a newcomer's belief that work is approved and paid (~ platform approval rates)",
    )
    initial_belief_delay_days: float = opt(
        3.0, ge=0, le=3650, doc="assumption: a newcomer's expected payment delay"
    )
    general_belief_learning_share: float = share(
        0.5,
        "assumption: general beliefs learn at this share of learning_rate (one requester's at the full rate)",
    )
    reputation_penalty: float = opt(
        2.0, ge=0, le=100,
        doc="assumption: weight of a visible unjustified rejection in the belief about its requester",
    )  # fmt: skip
    public_stats_prior_tasks: float = opt(
        20.0, gt=0, le=1e9,
        doc="assumption: reviewed tasks at which public requester statistics weigh as much as own belief",
    )  # fmt: skip
    return_other_time_share: float = share(
        0.5,
        "assumption: share of a task's time spent before returning it for other reasons than its length",
    )
    wage_window_days: float = opt(
        7.0, gt=0, le=3650,
        doc="assumption: memory of the recent-wage window behind exit and discouragement",
    )  # fmt: skip
    min_window_minutes: float = opt(
        30.0, ge=0, le=1e6, doc="assumption: working time in the window below which it says nothing"
    )
    max_weekly_hours: float = opt(70.0, gt=0, le=168, doc="assumption: cap on drawn weekly hours")
    entry_wage_elasticity: float = opt(
        1.0, ge=0, le=20,
        doc="assumption: elasticity of new workers' arrivals to the platform's recent median wage (relative to entry_reference_wage_usd)",
    )  # fmt: skip
    entry_reference_wage_usd: float = opt(
        1.77, gt=0, le=MAX_USD,
        doc="wage at which arrivals run at the baseline rate: Hara et al. 2018 median all-in wage",
    )  # fmt: skip


REVIEW_STYLES = ("prompt", "slow", "never")
REJECTION_STYLES = ("honest", "strict", "opportunistic")


@dataclass
class RequesterBehaviourConfig:
    pay_median_usd_per_hour: float = opt(
        4.57, gt=0, le=MAX_USD, doc="Hara et al. 2018, requester-level median"
    )
    pay_mean_usd_per_hour: float = opt(
        11.58, gt=0, le=MAX_USD, doc="Hara et al. 2018, requester-level mean"
    )
    pay_volume_correlation: float = opt(-0.771, ge=-0.99, le=0.99, doc=CALIBRATED)
    activity_pareto_alpha: float = opt(
        1.125, gt=1, doc="top 1% = 60% of volume (Ipeirotis 2010): 0.01^(1-1/a) = 0.6"
    )
    duration_bias_median: float = opt(0.812, gt=0, le=100, doc=CALIBRATED)
    duration_bias_sigma: float = opt(0.3, ge=0, le=5, doc="assumption")
    review_shares: dict[str, float] = opt(
        {"prompt": 0.6, "slow": 0.3, "never": 0.1},
        ge=0,
        keys=REVIEW_STYLES,
        allowed="a share >= 0",
        doc="assumption",
    )
    review_delay_hours_prompt: float = opt(24.0, gt=0, le=87_600, doc="assumption: median")
    review_delay_hours_slow: float = opt(168.0, gt=0, le=87_600, doc="assumption: median")
    review_delay_sigma_prompt: float = opt(
        0.8, ge=0, le=5, doc="assumption: lognormal dispersion of prompt reviewers' delays"
    )
    review_delay_sigma_slow: float = opt(
        0.5, ge=0, le=5, doc="assumption: lognormal dispersion of slow reviewers' delays"
    )
    rejection_shares: dict[str, float] = opt(
        {"honest": 0.86, "strict": 0.10, "opportunistic": 0.04},
        ge=0,
        keys=REJECTION_STYLES,
        allowed="a share >= 0",
        doc="CloudResearch (Litman & Robinson 2020): 4% of requesters ever reject > 5% of work",
    )
    honest_reject_bad_prob: float = share(0.0325, CALIBRATED)
    strict_reject_bad_prob: float = share(1.0, "assumption: strict requesters reject all bad work")
    strict_reject_good_prob: float = share(0.01, "assumption")
    opportunistic_reject_good_prob: float = share(
        0.08,
        "assumption: above 5%, as the 4% of requesters who ever reject more than 5% (Litman & Robinson 2020); with the other kinds it gives about 0.7% of tasks rejected (Hara et al. 2018)",
    )
    quality_strictness_sigma: float = opt(0.3, ge=0, le=5, doc="assumption")
    reference_fee: float = share(
        0.20, "fee level at which Hara et al. measured pay (2014-2017 mixes 10% and 20%)"
    )
    value_markup_median: float = opt(
        0.85,
        gt=0,
        le=1000,
        doc="value of the median task of a requester's plan over what it costs at the reference terms (reward + fee at its pay): calibrated so that workers capture about 40-46% of the surplus of the work done at the status quo, as Stanton & Thomas (NBER w29477) measure on an online labour market (0.44, 0.45 on seeds 1-2 at 2,000 workers x 21 days); not the static monopsony markup (1 + e) / e ~ 11 for Dube et al.'s e ~ 0.1, which gives requesters ~94% of the surplus (see docs/welfare.md)",
    )
    value_markup_sigma: float = opt(0.4, ge=0, le=5, doc="assumption")
    task_value_sigma: float = opt(
        0.75,
        ge=0,
        le=5,
        doc="assumption: lognormal dispersion of the value of the tasks in a requester's plan around its median task; sets how much volume falls as the cost per accepted task rises (in the sensitivity space)",
    )
    exit_plan_share: float = share(
        0.2,
        "assumption: a requester leaves when less than this share of its plan (relative to the reference terms) is worth its cost (in the sensitivity space)",
    )
    split_batches_prob: float = share(
        0.8, "assumption: share of requesters who split batches to dodge a surcharge"
    )
    batch_lifetime_days: float = opt(3.0, gt=0, le=3650, doc="assumption")
    posting_utc_offset_hours: float = opt(
        -5.0,
        ge=-12,
        le=14,
        doc="requesters' time zone: they post in its business hours (MTurk: US Eastern, assumption)",
    )
    screening_elasticity: float = opt(
        3.0,
        ge=0,
        le=20,
        doc="assumption: a requester whose pay per hour the rules raise by a factor r above its own (a floor) admits only the most productive share r ** -screening_elasticity of workers (by quintile of speed x skill, as a prescreen or quality tier would show): at a higher pay more workers want its tasks, so it can be choosy without losing fill, as firms facing random floors on oDesk hired more productive workers (Horton, AER 2025). 3 is chosen so that a binding $8 floor shifts work towards the top quintiles against the thinner market's levelling (at 1 it does not, 800 workers, seed 1); in the sensitivity space",
    )
    fill_learning_rate: float = share(
        0.3,
        "assumption: weight of an expired batch's filled share in its requester's belief about the supply it faces (0: never reprices)",
    )
    fill_target: float = share(
        0.5,
        "assumption: share of a batch a requester wants filled within its lifetime; it pays its norm while its batches fill at least that much",
    )
    supply_elasticity_belief: float = opt(
        0.13,
        gt=0,
        le=100,
        doc="elasticity of the labour supply a requester believes it faces, by which it raises pay to fill its batches: Dube, Jacobs, Naidu & Suri 2020 measure ~0.1 on MTurk; crowdsim's honeypot test measures 0.13-0.15 (docs/calibration.md)",
    )
    max_activity: float = opt(
        1e6,
        gt=0,
        doc="numerical cap on a starting requester's Pareto activity draw (the tail is"
        " unbounded); an arriving requester is capped at the largest starting one",
    )
    monthly_churn: float = share(0.05, "assumption: requesters leaving and arriving per month")


EVERY_TYPE = "a number > 0 for every task type in market.type_shares"


@dataclass
class MarketConfig:
    # Assignment-hours posted per online worker-hour (assumption, sets how scarce work is).
    demand_ratio: float = opt(0.597, gt=0, le=100, doc=CALIBRATED)
    # Task types: share of batches, median duration (minutes), median assignments per batch,
    # max assignments per worker. Assumptions typical of MTurk (Hara et al. 2018 report a
    # median task time of about 1-2 minutes; surveys run longer and allow one response).
    type_shares: dict[str, float] = opt(
        {
            "survey": 0.25,
            "data_lookup": 0.2,
            "transcription": 0.1,
            "image_labelling": 0.25,
            "content_moderation": 0.1,
            "engagement_clicks": 0.1,
        },
        ge=0,
        keys=TASK_TYPES,
        allowed="a share >= 0",
        doc="assumption: a mix typical of MTurk",
    )
    type_duration_minutes: dict[str, float] = opt(
        {
            "survey": 10.0,
            "data_lookup": 2.0,
            "transcription": 5.0,
            "image_labelling": 0.5,
            "content_moderation": 0.5,
            "engagement_clicks": 0.3,
        },
        gt=0,
        le=24 * 60,
        keys=TASK_TYPES,
        allowed=EVERY_TYPE,
        doc="assumption: median task time of about 1-2 minutes (Hara et al. 2018), surveys longer",
    )
    type_batch_median: dict[str, float] = opt(
        {
            "survey": 100.0,
            "data_lookup": 100.0,
            "transcription": 30.0,
            "image_labelling": 500.0,
            "content_moderation": 300.0,
            "engagement_clicks": 300.0,
        },
        gt=0,
        le=1_000_000,
        keys=TASK_TYPES,
        allowed=EVERY_TYPE,
        doc="assumption: assignments per batch, typical of MTurk",
    )
    type_max_per_worker: dict[str, int] = opt(
        {
            "survey": 1,
            "data_lookup": 50,
            "transcription": 20,
            "image_labelling": 200,
            "content_moderation": 200,
            "engagement_clicks": 1,
        },
        gt=0,
        keys=TASK_TYPES,
        allowed=EVERY_TYPE,
        doc="assumption: surveys and clicks allow one response per worker",
    )
    duration_sigma: float = opt(
        0.6, ge=0, le=5, doc="assumption: dispersion of task durations within a type"
    )
    batch_size_sigma: float = opt(1.2, ge=0, le=5, doc="assumption: heavy-tailed batch sizes")
    max_batch_size: int = opt(5000, ge=1, le=1_000_000, doc="assumption: cap on drawn batch sizes")
    max_task_minutes: float = opt(
        60.0, gt=0, le=24 * 60, doc="micro-tasks; longer ones are capped (assumption)"
    )


@dataclass
class CrowdSimConfig:
    scenario_name: str = opt("status_quo")
    title: str = opt("", doc="the scenario's title, as the app and the report show it")
    description: str = opt("")
    # numpy takes any integer >= 0, but results store the seed as a 64-bit integer (parquet)
    seed: int = opt(0, ge=0, le=2**63 - 1)
    population: PopulationConfig = field(default_factory=PopulationConfig)
    sim: SimConfig = field(default_factory=SimConfig)
    platform: PlatformConfig = field(default_factory=PlatformConfig)
    workers: WorkerBehaviourConfig = field(default_factory=WorkerBehaviourConfig)
    requesters: RequesterBehaviourConfig = field(default_factory=RequesterBehaviourConfig)
    market: MarketConfig = field(default_factory=MarketConfig)
    reform: ReformConfig = field(default_factory=ReformConfig)


def register_configs() -> None:
    """Register the schema in Hydra's ConfigStore under a name `glob(*)` on groups will not pick up."""
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    if "crowdsim_schema.yaml" not in cs.repo:  # stored once per process (~20 ms each time)
        cs.store(name="crowdsim_schema", node=CrowdSimConfig)


@cache
def _schema() -> DictConfig:
    """The schema with its defaults as a config, built once per process (~40 ms each time; a
    sweep's worker builds one config a job). Never changed: callers merge onto it or copy it."""
    return OmegaConf.structured(CrowdSimConfig)


def to_config(cfg: Any = None, **overrides: Any) -> CrowdSimConfig:
    """Turn a DictConfig, dict, dataclass or None into a validated :class:`CrowdSimConfig`.

    Keyword overrides use dotted names with ``__`` for dots, e.g. ``population__n_workers=500``.
    """
    base = _schema()  # merge copies it; only the bare defaults are copied here
    if cfg is None:
        merged = copy.deepcopy(base)
    elif isinstance(cfg, CrowdSimConfig):
        merged = OmegaConf.merge(base, OmegaConf.structured(cfg))
    elif isinstance(cfg, DictConfig | dict):
        src = OmegaConf.create(cfg) if isinstance(cfg, dict) else cfg
        src = (
            OmegaConf.masked_copy(src, [k for k in src.keys() if k != "hydra"])
            if "hydra" in src
            else src
        )
        try:
            merged = OmegaConf.merge(base, src)
        except Exception as exc:  # unknown keys or wrong types
            raise translate_omegaconf_error(exc) from None
    else:
        raise TypeError(f"cannot build a config from {type(cfg).__name__}")
    for dotted, value in overrides.items():
        key = dotted.replace("__", ".")
        check_key_exists(merged, key)
        try:
            OmegaConf.update(merged, key, value, merge=False)
        except Exception as exc:
            raise translate_omegaconf_error(exc) from None
        check_key_exists(merged, key)
    obj = OmegaConf.to_object(merged)
    validate(obj)
    return obj


# --- the schema, walked -------------------------------------------------------------------------


class Option(NamedTuple):
    """One option of the schema: dotted name, declared type, field metadata."""

    name: str
    type: Any
    meta: Any


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def schema(cls: type = CrowdSimConfig, prefix: str = "") -> Iterator[Option]:
    """Every leaf option of the schema, in declaration order."""
    hints = _hints(cls)
    for f in fields(cls):
        tp = hints[f.name]
        if is_dataclass(tp):
            yield from schema(tp, f"{prefix}{f.name}.")
        else:
            yield Option(prefix + f.name, tp, f.metadata)


@cache
def option_names() -> tuple[str, ...]:
    """Dotted names of every option and section, e.g. ``platform`` and ``platform.commission``."""
    leaves = [o.name for o in schema()]
    sections = sorted({n.rsplit(".", 1)[0] for n in leaves if "." in n})
    return tuple(sections + leaves)


def check_key_exists(cfg: DictConfig | None, key: str, value: Any = None) -> None:
    """Raise ConfigError if ``key`` (dotted) is not an option of the schema, with a suggestion.

    A key inside a dict option whose keys are declared (``market.type_shares.survey``) must be
    one of them; the values themselves are checked by :func:`validate`.
    """
    node: Any = CrowdSimConfig
    done: list[str] = []
    parts = key.split(".")
    for i, part in enumerate(parts):
        if not is_dataclass(node):
            inner, _ = unwrap_optional(node)
            if node is Any or typing.get_origin(inner) is dict:
                return  # keys inside a mapping option: checked against its declared keys
            option = ".".join(done)
            raise ConfigError(
                key,
                value,
                f"'{option}' itself",
                message=f"unknown option '{key}' ('{option}' has no options under it: "
                f"set {option}=VALUE; allowed: {describe(node, option_of(option).meta)})",
            )
        by_name = {f.name: f for f in fields(node)}
        if part not in by_name:
            close = difflib.get_close_matches(key, option_names(), n=1, cutoff=0.6)
            if not close:
                near = difflib.get_close_matches(part, list(by_name), n=1)
                close = [".".join([*done, near[0]])] if near else []
            hint = f"did you mean '{close[0]}'? " if close else ""
            names = ", ".join(by_name)
            raise ConfigError(
                key, None, names, message=f"unknown option '{key}' ({hint}options here: {names})"
            )
        allowed_keys = by_name[part].metadata.get("keys")
        if allowed_keys and i + 1 < len(parts) and parts[i + 1] not in allowed_keys:
            raise ConfigError(
                ".".join(parts[: i + 2]), value, f"keys among {', '.join(allowed_keys)}"
            ) from None
        node = _hints(node)[part]
        done.append(part)


def option_of(dotted: str) -> Option | None:
    return next((o for o in schema() if o.name == dotted), None)


def translate_omegaconf_error(exc: Exception, value: Any = MISSING) -> ConfigError:
    """A ConfigError from an OmegaConf error: the option it names and what that option allows."""
    key = str(getattr(exc, "full_key", None) or "?")
    if value is MISSING:
        value = getattr(exc, "value", None)
        value = value if value is not None else "?"
    if "Interpolation" in type(exc).__name__:  # ${oc.env:UNSET} and other unresolvable values
        return ConfigError(key, value, f"a value that resolves ({str(exc).splitlines()[0]})")
    option = option_of(key)
    if option is not None:
        return ConfigError(key, value, describe(option.type, option.meta))
    return ConfigError(key, value, str(exc).splitlines()[0])


# --- checking one value against its field -------------------------------------------------------


def unwrap_optional(tp: Any) -> tuple[Any, bool]:
    args = typing.get_args(tp)
    if type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0], True
    return tp, False


def describe(tp: Any, meta: Any, finite_word: bool = False) -> str:
    """What a field allows, in words: ``a number between 0.0 and 1.0``, ``none, escrow``..."""
    if meta.get("allowed"):
        return meta["allowed"]
    tp, _ = unwrap_optional(tp)
    origin = typing.get_origin(tp)
    if origin in (list, dict):
        tp = typing.get_args(tp)[-1]
    if meta.get("choices"):
        return ", ".join(meta["choices"])
    if tp is bool:
        return "true or false"
    if tp is str:
        return "a string"
    kind = "an integer" if tp is int else ("a finite number" if finite_word else "a number")
    ge, gt, le, lt = (meta.get(k) for k in ("ge", "gt", "le", "lt"))
    if ge is not None and le is not None:
        return f"{kind} between {ge} and {le}"
    bounds = [
        f"{op} {b}" for op, b in ((">=", ge), (">", gt), ("<=", le), ("<", lt)) if b is not None
    ]
    return " and ".join([f"{kind} {bounds[0]}", *bounds[1:]]) if bounds else kind


def _check_scalar(option: str, tp: Any, meta: Any, value: Any) -> None:
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(option, value, describe(tp, meta))
        return
    if tp is str:
        if not isinstance(value, str) or (meta.get("choices") and value not in meta["choices"]):
            raise ConfigError(option, value, describe(tp, meta))
        return
    if tp not in (int, float):
        return
    number = int if tp is int else int | float
    if isinstance(value, bool) or not isinstance(value, number):
        raise ConfigError(option, value, describe(tp, meta))
    if not math.isfinite(value) and meta.get("finite", True):
        raise ConfigError(option, value, describe(tp, meta, finite_word=True))
    ge, gt, le, lt = (meta.get(k) for k in ("ge", "gt", "le", "lt"))
    if (
        (ge is not None and not value >= ge)
        or (gt is not None and not value > gt)
        or (le is not None and not value <= le)
        or (lt is not None and not value < lt)
    ):
        raise ConfigError(option, value, describe(tp, meta))


def check_option(option: Option, value: Any) -> None:
    """Check one value against what its field declares; raise :class:`ConfigError`."""
    tp, nullable = unwrap_optional(option.type)
    meta, name = option.meta, option.name
    if value is None:
        if nullable:
            return
        raise ConfigError(name, value, describe(tp, meta))
    origin = typing.get_origin(tp)
    if origin is list:
        if not isinstance(value, list | tuple):
            raise ConfigError(name, value, f"a list of {describe(tp, meta)}")
        for item in value:
            _check_scalar(name, typing.get_args(tp)[0], meta, item)
    elif origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(name, value, f"a mapping of {describe(tp, meta)}")
        keys = meta.get("keys")
        for k, v in value.items():
            if keys and k not in keys:
                raise ConfigError(f"{name}.{k}", v, f"keys among {', '.join(keys)}")
            _check_scalar(f"{name}.{k}", typing.get_args(tp)[1], meta, v)
    else:
        _check_scalar(name, tp, meta, value)


def _get(cfg: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        cfg = getattr(cfg, part)
    return cfg


# --- cross-field rules --------------------------------------------------------------------------


class Rule(NamedTuple):
    """A check that involves more than one option (or a whole list): a name and a function that
    raises :class:`ConfigError` naming the option to change."""

    name: str
    check: Callable[[CrowdSimConfig], None]


def _countries_listed_once(cfg: CrowdSimConfig) -> None:
    countries = cfg.population.countries
    if not countries:
        raise ConfigError("population.countries", countries, f"a non-empty list of {COUNTRY_CODES}")
    if len(set(countries)) != len(countries):
        raise ConfigError("population.countries", countries, "each country once")


def _sum_positive(option: str, shares: dict[str, float]) -> None:
    if sum(shares.values()) <= 0:
        raise ConfigError(option, dict(shares), "shares summing to more than 0")


def _custom_shares_over_countries(cfg: CrowdSimConfig) -> None:
    pop = cfg.population
    if pop.country_mix != "custom":
        return
    for k, v in pop.shares.items():
        if k not in pop.countries:
            raise ConfigError(f"population.shares.{k}", v, f"keys among {', '.join(pop.countries)}")
    _sum_positive("population.shares", pop.shares)


def _one_rate_per_tier(cfg: CrowdSimConfig) -> None:
    p = cfg.platform
    if len(p.commission_tier_rates) != (
        len(p.commission_tiers_usd) + 1 if p.commission_tier_rates else 0
    ):
        raise ConfigError(
            "platform.commission_tier_rates",
            list(p.commission_tier_rates),
            f"one rate more than thresholds in platform.commission_tiers_usd ({len(p.commission_tiers_usd)} given)",
        )


def _tiers_increasing(cfg: CrowdSimConfig) -> None:
    tiers = list(cfg.platform.commission_tiers_usd)
    if tiers != sorted(tiers):
        raise ConfigError("platform.commission_tiers_usd", tiers, "increasing thresholds in USD")


def _pay_mean_above_median(cfg: CrowdSimConfig) -> None:
    r = cfg.requesters
    if r.pay_mean_usd_per_hour < r.pay_median_usd_per_hour:
        raise ConfigError(
            "requesters.pay_mean_usd_per_hour",
            r.pay_mean_usd_per_hour,
            f"a mean >= requesters.pay_median_usd_per_hour ({r.pay_median_usd_per_hour}) for a lognormal",
        )


def _shares_sum_positive(cfg: CrowdSimConfig) -> None:
    for option in ("requesters.review_shares", "requesters.rejection_shares", "market.type_shares"):
        _sum_positive(option, _get(cfg, option))


def _every_task_type_described(cfg: CrowdSimConfig) -> None:
    m = cfg.market
    for name in ("type_duration_minutes", "type_batch_median", "type_max_per_worker"):
        table = getattr(m, name)
        for t in m.type_shares:
            if t not in table:
                raise ConfigError(f"market.{name}.{t}", None, EVERY_TYPE)


def _windows_inside_run(cfg: CrowdSimConfig) -> None:
    sim = cfg.sim
    if sim.warmup_days >= sim.days:
        raise ConfigError(
            "sim.warmup_days", sim.warmup_days, f"fewer days than sim.days ({sim.days})"
        )
    # a reform on the last day of warm-up applies from the first measured hour: the whole summary
    # is then the short run after it (crowdsim-compare's short-run effects), with no before_reform
    if sim.reform_day is not None and not max(1, sim.warmup_days) <= sim.reform_day < sim.days:
        raise ConfigError(
            "sim.reform_day",
            sim.reform_day,
            f"a day from sim.warmup_days ({sim.warmup_days}, and at least 1) and before sim.days ({sim.days})",
        )


def _reform_has_a_day(cfg: CrowdSimConfig) -> None:
    if (cfg.reform.name != "none" or cfg.reform.rules) and cfg.sim.reform_day is None:
        raise ConfigError(
            "sim.reform_day", None, f"a day of the run for reform '{cfg.reform.name}' to apply"
        )
    if cfg.sim.reform_day is not None and not cfg.reform.rules:
        raise ConfigError(
            "reform",
            cfg.reform.name,
            "a reform with rules (reform=NAME) when sim.reform_day is set",
        )


def _dotted(tree: dict, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and is_dataclass(_get_type(key)):
            yield from _dotted(v, key + ".")
        else:
            yield key, v


def _get_type(dotted: str) -> Any:
    node: Any = CrowdSimConfig
    for part in dotted.split("."):
        if not is_dataclass(node) or part not in _hints(node):
            return None
        node = _hints(node)[part]
    return node


def reformed_config(cfg: CrowdSimConfig) -> CrowdSimConfig:
    """The run's config with the reform's rules in place of its own (validated like any config;
    a bad rule raises :class:`ConfigError` naming ``reform.rules.OPTION``)."""
    rules = OmegaConf.to_container(OmegaConf.create(dict(cfg.reform.rules)))
    base = OmegaConf.structured(cfg)
    _apply_rules(base, rules, f"reform '{cfg.reform.name}'")
    out = OmegaConf.to_object(base)
    for rule in RULES[3:]:  # those of one config (not the reform rules again)
        rule.check(out)
    return out


def check_rules(rules: dict) -> None:
    """Reform rules given on a command line (``reform.rules={platform: {commission: 0.1}}``),
    each checked as the option it sets (misspelt keys, NaN, out of range); raise ConfigError."""
    _apply_rules(OmegaConf.structured(CrowdSimConfig), rules, "reform.rules")


def _apply_rules(base: DictConfig, rules: dict, label: str) -> None:
    """Set each rule (an option of the schema and its value) in ``base``, checking it; a bad one
    raises :class:`ConfigError` naming ``reform.rules.OPTION``, its message led by ``label``."""
    for key, value in _dotted(rules):
        try:
            check_key_exists(None, key)
            OmegaConf.update(base, key, value, merge=True)
            after = OmegaConf.to_object(base)
            option = next((o for o in schema() if o.name == key), None)
            if option is not None:
                check_option(option, _get(after, key))
        except ConfigError as exc:
            raise ConfigError(
                f"reform.rules.{exc.option}", exc.value, exc.allowed, message=f"{label}: {exc}"
            ) from None
        except Exception as exc:
            err = translate_omegaconf_error(exc)
            raise ConfigError(f"reform.rules.{key}", value, err.allowed) from None


def _start_from_exists(cfg: CrowdSimConfig) -> None:
    path = cfg.sim.start_from
    if path is not None and not (path.endswith(".npz") and os.path.isfile(path)):
        raise ConfigError(
            "sim.start_from", path, "the path of a checkpoint file (.npz) written by crowdsim"
        )


def _reform_rules_valid(cfg: CrowdSimConfig) -> None:
    if cfg.reform.rules:
        reformed_config(cfg)


def _scenario_name_is_a_folder_name(cfg: CrowdSimConfig) -> None:
    # it names the run's folder (outputs/<scenario_name>/...) and a comparison's job folders: a
    # file could otherwise choose a folder outside them ("../..")
    name = cfg.scenario_name
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}", name) or ".." in name:
        raise ConfigError(
            "scenario_name",
            name,
            "a name of letters, digits, '_', '-', '.' and '+' (at most 100, no '..'), used as a "
            "folder name",
        )


RULES: tuple[Rule, ...] = (
    Rule("warm-up and reform day: inside the run", _windows_inside_run),
    Rule("a reform and its day: both or neither", _reform_has_a_day),
    Rule("reform rules: options of the schema, allowed values", _reform_rules_valid),
    Rule("sim.start_from: an existing checkpoint file", _start_from_exists),
    Rule("countries: a non-empty list, each country once", _countries_listed_once),
    Rule("custom country shares: over the listed countries", _custom_shares_over_countries),
    Rule("commission tiers: one rate more than thresholds", _one_rate_per_tier),
    Rule("commission tiers: increasing thresholds", _tiers_increasing),
    Rule("requester pay: a lognormal's mean >= its median", _pay_mean_above_median),
    Rule("review, rejection and task-type shares: summing to more than 0", _shares_sum_positive),
    Rule(
        "task-type tables: a value for every type in market.type_shares", _every_task_type_described
    ),
    Rule("scenario name: one folder name", _scenario_name_is_a_folder_name),
)


def validate(cfg: CrowdSimConfig) -> None:
    """Check every value against its field, then the cross-field :data:`RULES`; raise
    :class:`ConfigError` naming the first bad option."""
    for option in schema():
        check_option(option, _get(cfg, option.name))
    for rule in RULES:
        rule.check(cfg)


def config_to_dict(cfg: CrowdSimConfig) -> dict:
    return asdict(cfg)


def flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    """``{'workers': {'search_minutes': 1.0}}`` -> ``{'workers.search_minutes': 1.0}``."""
    out = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out |= flatten(value, dotted + ".")
        else:
            out[dotted] = value
    return out


def nested(dotted: dict[str, Any]) -> dict:
    """``{'workers.search_minutes': 1.0}`` -> ``{'workers': {'search_minutes': 1.0}}`` (numpy
    floats as Python floats, so that YAML can write them)."""
    out: dict = {}
    for key, value in dotted.items():
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = float(value) if isinstance(value, float) else value
    return out
