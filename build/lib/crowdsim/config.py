"""Structured configuration of a crowdsim run.

Every option is a field of a dataclass below; Hydra validates types against these schemas
(``ConfigStore``) and :func:`validate` checks values. Each default carries its source in the
comment beside it, or is marked ``assumption``.

Units: money in USD, time in hours unless the name says minutes or days, shares in [0, 1].
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any

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


class ConfigError(ValueError):
    """A configuration value is not allowed. The message names option, value and what is allowed."""

    def __init__(self, option: str, value: Any, allowed: str, message: str | None = None):
        self.option, self.value, self.allowed = option, value, allowed
        super().__init__(
            message or f"invalid value for option '{option}': {value!r} (allowed: {allowed})"
        )


@dataclass
class PopulationConfig:
    """Who works on the platform."""

    n_workers: int = (
        2000  # initial pool; MTurk 100k-200k (Difallah et al. 2018); small default for speed
    )
    countries: list[str] = field(default_factory=lambda: list(COUNTRY_CODES))
    # Pool shares: 'mturk' (Ipeirotis 2015: ~80% US / 20% India), 'global' (Online Labour Index),
    # or 'custom' (use `shares`). Shares are renormalised over `countries`.
    country_mix: str = "mturk"
    shares: dict[str, float] = field(default_factory=dict)
    # Share of workers for whom crowd work is the main income. Ipeirotis 2010 survey: ~15% of US
    # and ~27% of Indian workers call MTurk their primary income; 0.2 assumed for the mix.
    main_income_share: float = 0.2
    workers_per_requester: float = 25.0  # assumption: thousands of requesters for 100k+ workers
    currency: str = "USD"  # display currency of reports (EUR for a French platform)
    usd_per_currency: float = 1.0


@dataclass
class SimConfig:
    days: int = 28
    check_invariants: bool = False  # check money and time conservation after every hour (slow)
    record_weekly_earnings: bool = True
    min_hours_for_wage: float = (
        1.0  # workers with less resolved working time are left out of wage stats (assumption)
    )


@dataclass
class PlatformConfig:
    """The platform's rules: fees, rejection transparency, payment guarantee, minimum pay, access."""

    # --- fees ---
    commission: float = 0.20  # MTurk since 21 Jul 2015: 20% of reward, charged to the requester (Amazon fee notice 2015)
    commission_min_usd: float = 0.01  # MTurk minimum fee per assignment (Amazon fee notice 2015)
    batch_surcharge: float = (
        0.20  # MTurk: +20% for HITs with 10 or more assignments (Amazon fee notice 2015)
    )
    batch_surcharge_min_assignments: int = 10
    worker_fee_share: float = 0.0  # share deducted from worker pay (Upwork-style; MTurk: 0)
    commission_tiers_usd: list[float] = field(
        default_factory=list
    )  # worker lifetime billing thresholds, e.g. [500, 10000] (Upwork 2016-2023)
    commission_tier_rates: list[float] = field(
        default_factory=list
    )  # worker-side rates per tier, e.g. [0.2, 0.1, 0.05]
    commission_cap: float | None = (
        None  # cap on the requester fee as a share of reward (None: no cap)
    )
    # --- rejection transparency ---
    reason_required: bool = (
        False  # MTurk: rejection reasons optional, unjustified rejections invisible
    )
    public_requester_stats: bool = (
        False  # MTurk publishes none (workers use Turkopticon); assumption
    )
    appeals: bool = False
    appeal_overturn_prob: float = (
        0.6  # assumption: share of unjustified rejections overturned on appeal
    )
    appeal_delay_days: float = 7.0  # assumption
    appeal_deterrence: float = (
        0.5  # assumption: chance an overturned requester stops rejecting opportunistically
    )
    # --- payment guarantee ---
    payment_guarantee: str = "auto_approval"  # none | auto_approval | escrow
    auto_approval_days: float = 30.0  # MTurk maximum and common default (MTurk API docs)
    escrow_auto_approval_days: float = 3.0  # assumption: a short guaranteed deadline
    abandon_days: float = (
        30.0  # assumption: with no guarantee, unreviewed work is never paid after this
    )
    # --- minimum pay ---
    min_pay_mode: str = "none"  # none | estimated | measured
    min_pay_usd_per_hour: float = 8.0  # Prolific minimum $8/h (Prolific pricing pages, 2026)
    # --- access ---
    qualification_share: float = 0.3  # assumption: share of batches behind the approval gate
    qualification_min_approval_rate: float = 0.95  # common gate (Peer et al. 2014)
    qualification_min_approved: int = 100  # common gate (Peer et al. 2014)
    restricted_share: float = 0.0  # share of batches open only to `restricted_countries`
    restricted_countries: list[str] = field(default_factory=lambda: ["US"])
    # which tasks a worker sees first: 'newest' (MTurk default sort) or 'pay' (highest reward first)
    listing: str = "newest"
    listing_half_life_hours: float = 12.0  # assumption: a group's visibility in a 'newest' listing halves every this many hours
    listing_min_visibility: float = 0.02  # assumption: visibility floor of old groups (search by keyword, bookmarks)


@dataclass
class WorkerBehaviourConfig:
    reservation_wage_median_usd: float = (
        1.38  # Horton & Chilton 2010, MTurk median reservation wage
    )
    reservation_wage_sigma: float = 0.9  # assumption: lognormal dispersion
    main_income_reservation_factor: float = 0.8  # assumption: fewer outside options
    weekly_hours_median_side: float = (
        2.0  # assumption, with main below chosen so 2-5% of the pool is online (Difallah 2018)
    )
    weekly_hours_median_main: float = 15.0  # assumption
    weekly_hours_sigma: float = 0.8  # assumption: heavy-tailed hours
    skill_mean: float = 0.97  # assumption: probability a task meets the quality bar
    skill_concentration: float = 40.0  # assumption: beta concentration
    speed_sigma: float = 0.373  # calibrated (docs/calibration.md): SMM fit to Hara et al. 2018 and Difallah et al. 2018
    search_minutes: float = 0.764  # calibrated (docs/calibration.md): SMM fit to Hara et al. 2018 and Difallah et al. 2018
    search_congestion: float = (
        1.0  # assumption: search time grows with searchers per open assignment
    )
    max_searches_per_hour: int = 4  # assumption
    candidates_seen: int = 5  # assumption: task groups a worker compares per search
    learning_rate: float = 0.256  # calibrated (docs/calibration.md): SMM fit to Hara et al. 2018 and Difallah et al. 2018
    return_threshold: float = (
        2.0  # assumption: return a task once it runs this many times over the expected time
    )
    duration_noise_sigma: float = 0.367  # calibrated (docs/calibration.md): SMM fit to Hara et al. 2018 and Difallah et al. 2018
    return_base_prob: float = 0.0217  # calibrated (docs/calibration.md): SMM fit to Hara et al. 2018 and Difallah et al. 2018
    impatience_per_day: float = (
        0.02  # assumption: discount of expected pay per day of payment delay
    )
    exit_wage_ratio: float = 1.0  # leave when recent all-in wage < this x reservation wage ...
    exit_days: int = 21  # ... for this many consecutive days (assumption)
    exit_prob_side: float = 0.0567  # calibrated (docs/calibration.md): SMM fit to Hara et al. 2018 and Difallah et al. 2018
    exit_prob_main: float = 0.1  # assumption: dependent workers stay longer
    baseline_exit_per_month: float = (
        0.04  # Difallah et al. 2018: half-life 12-18 months -> ~4%/month
    )
    # Hours respond to success (intensive margin): a worker whose recent all-in wage is below
    # `discouragement_threshold` x reservation wage logs on less, by `discouragement_per_day` a day
    # down to `min_engagement` of its usual hours, and recovers at the same pace once work pays.
    # Assumption (direction as in Horton & Chilton 2010 and reference-dependent labour supply, Farber 2015).
    discouragement_threshold: float = 0.5
    discouragement_per_day: float = 0.15
    min_engagement: float = 0.1
    belief_slots: int = 8  # requesters a worker remembers (assumption)
    initial_belief_approval: float = 0.97  # assumption: a newcomer's belief that work is approved and paid (~ the platform's approval rates)
    initial_belief_delay_days: float = 3.0  # assumption: a newcomer's expected payment delay
    general_belief_learning_share: float = 0.5  # assumption: general beliefs learn at this share of learning_rate (beliefs about one requester at the full rate)
    reputation_penalty: float = 2.0  # assumption: weight of a visible unjustified rejection in the belief about its requester
    public_stats_prior_tasks: float = 20.0  # assumption: reviewed tasks at which public requester statistics weigh as much as own belief
    return_other_time_share: float = 0.5  # assumption: share of a task's time spent before returning it for reasons other than its length
    wage_window_days: float = 7.0  # assumption: memory of the recent-wage window behind exit and discouragement
    min_window_minutes: float = 30.0  # assumption: working time in the window below which it says nothing
    max_weekly_hours: float = 70.0  # assumption: cap on drawn weekly hours


@dataclass
class RequesterBehaviourConfig:
    pay_median_usd_per_hour: float = 4.57  # Hara et al. 2018, requester-level median
    pay_mean_usd_per_hour: float = 11.58  # Hara et al. 2018, requester-level mean
    pay_volume_correlation: float = (
        -0.704
    )  # calibrated (docs/calibration.md): SMM fit to Hara et al. 2018 and Difallah et al. 2018
    activity_pareto_alpha: float = (
        1.125  # top 1% = 60% of volume (Ipeirotis 2010): 0.01^(1-1/a) = 0.6
    )
    duration_bias_median: float = 0.648  # calibrated (docs/calibration.md): SMM fit to Hara et al. 2018 and Difallah et al. 2018
    duration_bias_sigma: float = 0.3  # assumption
    review_shares: dict[str, float] = field(
        default_factory=lambda: {"prompt": 0.6, "slow": 0.3, "never": 0.1}
    )  # assumption
    review_delay_hours_prompt: float = 24.0  # assumption: median
    review_delay_hours_slow: float = 168.0  # assumption: median
    review_delay_sigma_prompt: float = 0.8  # assumption: lognormal dispersion of prompt reviewers' delays
    review_delay_sigma_slow: float = 0.5  # assumption: lognormal dispersion of slow reviewers' delays
    rejection_shares: dict[str, float] = field(
        default_factory=lambda: {"honest": 0.86, "strict": 0.10, "opportunistic": 0.04}
    )  # CloudResearch (Litman & Robinson 2020): 4% of requesters ever reject > 5% of work
    honest_reject_bad_prob: float = 0.123  # calibrated (docs/calibration.md): SMM fit to Hara et al. 2018 and Difallah et al. 2018
    strict_reject_bad_prob: float = 1.0
    strict_reject_good_prob: float = 0.03  # assumption
    opportunistic_reject_good_prob: float = 0.2  # calibrated (docs/calibration.md): SMM fit to Hara et al. 2018 and Difallah et al. 2018
    quality_strictness_sigma: float = 0.3  # assumption
    fee_pass_through: float = (
        0.5  # assumption: half of a fee change is passed to workers through rewards
    )
    demand_elasticity: float = (
        1.0  # assumption: posted volume falls 1% per 1% rise in cost per task
    )
    reference_fee: float = (
        0.20  # fee level at which Hara et al. measured pay (2014-2017 mixes 10% and 20%)
    )
    value_markup_median: float = 4.0  # assumption: value of a task over its reference cost; Dube et al. 2020 (supply elasticity ~0.1) imply a large markdown of pay below marginal value
    value_markup_sigma: float = 0.4  # assumption
    split_batches_prob: float = (
        0.8  # assumption: share of requesters who split batches to dodge a surcharge
    )
    batch_lifetime_days: float = 3.0  # assumption
    reprice_step: float = 0.05  # assumption: +5% target pay after a batch expires mostly unfilled, -2.5% after one fills
    reprice_max_factor: float = 1.5  # assumption: bounds of repricing around the initial target
    reprice_unfilled_share: float = 0.5  # assumption: a batch expiring with more than this share unfilled raises target pay
    reprice_down_share: float = 0.5  # assumption: after a batch fills, target pay falls by this share of reprice_step
    max_activity: float = 1e6  # numerical cap on a requester's Pareto activity draw (the tail is unbounded)
    monthly_churn: float = 0.05  # assumption: requesters leaving and arriving per month


@dataclass
class MarketConfig:
    # Assignment-hours posted per online worker-hour (assumption, sets how scarce work is).
    demand_ratio: float = 0.333  # calibrated (docs/calibration.md): SMM fit to Hara et al. 2018 and Difallah et al. 2018
    # Task types: share of batches, median duration (minutes), median assignments per batch,
    # max assignments per worker. Assumptions typical of MTurk (Hara et al. 2018 report a
    # median task time of about 1-2 minutes; surveys run longer and allow one response).
    type_shares: dict[str, float] = field(
        default_factory=lambda: {
            "survey": 0.25,
            "data_lookup": 0.2,
            "transcription": 0.1,
            "image_labelling": 0.25,
            "content_moderation": 0.1,
            "engagement_clicks": 0.1,
        }
    )
    type_duration_minutes: dict[str, float] = field(
        default_factory=lambda: {
            "survey": 10.0,
            "data_lookup": 2.0,
            "transcription": 5.0,
            "image_labelling": 0.5,
            "content_moderation": 0.5,
            "engagement_clicks": 0.3,
        }
    )
    type_batch_median: dict[str, float] = field(
        default_factory=lambda: {
            "survey": 100.0,
            "data_lookup": 100.0,
            "transcription": 30.0,
            "image_labelling": 500.0,
            "content_moderation": 300.0,
            "engagement_clicks": 300.0,
        }
    )
    type_max_per_worker: dict[str, int] = field(
        default_factory=lambda: {
            "survey": 1,
            "data_lookup": 50,
            "transcription": 20,
            "image_labelling": 200,
            "content_moderation": 200,
            "engagement_clicks": 1,
        }
    )
    duration_sigma: float = 0.6  # assumption: dispersion of task durations within a type
    batch_size_sigma: float = 1.2  # assumption: heavy-tailed batch sizes
    max_batch_size: int = 5000
    max_task_minutes: float = 60.0  # micro-tasks; longer ones are capped (assumption)


@dataclass
class CrowdSimConfig:
    scenario_name: str = "status_quo"
    description: str = ""
    seed: int = 0
    population: PopulationConfig = field(default_factory=PopulationConfig)
    sim: SimConfig = field(default_factory=SimConfig)
    platform: PlatformConfig = field(default_factory=PlatformConfig)
    workers: WorkerBehaviourConfig = field(default_factory=WorkerBehaviourConfig)
    requesters: RequesterBehaviourConfig = field(default_factory=RequesterBehaviourConfig)
    market: MarketConfig = field(default_factory=MarketConfig)


def register_configs() -> None:
    """Register the schema in Hydra's ConfigStore under a name `glob(*)` on groups will not pick up."""
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="crowdsim_schema", node=CrowdSimConfig)


def to_config(cfg: Any = None, **overrides: Any) -> CrowdSimConfig:
    """Turn a DictConfig, dict, dataclass or None into a validated :class:`CrowdSimConfig`.

    Keyword overrides use dotted names with ``__`` for dots, e.g. ``population__n_workers=500``.
    """
    base = OmegaConf.structured(CrowdSimConfig)
    if cfg is None:
        merged = base
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
            raise _translate_omegaconf_error(exc) from None
    else:
        raise TypeError(f"cannot build a config from {type(cfg).__name__}")
    for dotted, value in overrides.items():
        key = dotted.replace("__", ".")
        _check_key_exists(merged, key)
        try:
            OmegaConf.update(merged, key, value, merge=False)
        except Exception as exc:
            raise _translate_omegaconf_error(exc) from None
        _check_key_exists(merged, key)
    obj = OmegaConf.to_object(merged)
    validate(obj)
    return obj


def _check_key_exists(cfg: DictConfig, key: str) -> None:
    node: Any = CrowdSimConfig()
    for part in key.split("."):
        if is_dataclass(node):
            names = [f.name for f in fields(node)]
            if part not in names:
                close = difflib.get_close_matches(part, names, n=1)
                prefix = key.rsplit(".", 1)[0] + "." if "." in key else ""
                hint = f"did you mean '{prefix}{close[0]}'? " if close else ""
                raise ConfigError(
                    key,
                    None,
                    ", ".join(names),
                    message=f"unknown option '{key}' ({hint}options here: {', '.join(names)})",
                )
            node = getattr(node, part)
        else:
            return


def _translate_omegaconf_error(exc: Exception) -> ConfigError:
    msg = str(exc).splitlines()[0]
    key = getattr(exc, "full_key", None) or "?"
    value = getattr(exc, "value", None)
    return ConfigError(str(key), value if value is not None else "?", msg)


def _in_unit(option: str, value: float, low: float = 0.0, high: float = 1.0) -> None:
    if not (low <= value <= high):
        raise ConfigError(option, value, f"a number between {low} and {high}")


def _positive(option: str, value: float, strict: bool = True) -> None:
    if value is None or (value <= 0 if strict else value < 0):
        raise ConfigError(option, value, "a number > 0" if strict else "a number >= 0")


def _shares(option: str, shares: dict[str, float], keys: list[str]) -> None:
    for k, v in shares.items():
        if k not in keys:
            raise ConfigError(f"{option}.{k}", v, f"keys among {', '.join(keys)}")
        if v < 0:
            raise ConfigError(f"{option}.{k}", v, "a share >= 0")
    if sum(shares.values()) <= 0:
        raise ConfigError(option, dict(shares), "shares summing to more than 0")


def validate(cfg: CrowdSimConfig) -> None:
    """Check every value; raise :class:`ConfigError` naming the first bad option."""
    p, w, r, m, pop = cfg.platform, cfg.workers, cfg.requesters, cfg.market, cfg.population
    if not isinstance(cfg.seed, int) or cfg.seed < 0:
        raise ConfigError("seed", cfg.seed, "an integer >= 0")
    if pop.n_workers < 1:
        raise ConfigError("population.n_workers", pop.n_workers, "an integer >= 1")
    if not pop.countries:
        raise ConfigError(
            "population.countries", pop.countries, f"a non-empty list of {COUNTRY_CODES}"
        )
    for c in pop.countries:
        if c not in COUNTRY_CODES:
            raise ConfigError(
                "population.countries",
                c,
                f"ISO codes in the country table: {', '.join(COUNTRY_CODES)}",
            )
    if len(set(pop.countries)) != len(pop.countries):
        raise ConfigError("population.countries", pop.countries, "each country once")
    if pop.country_mix not in ("mturk", "global", "custom", "uniform"):
        raise ConfigError(
            "population.country_mix", pop.country_mix, "mturk, global, uniform, custom"
        )
    if pop.country_mix == "custom":
        _shares("population.shares", pop.shares, pop.countries)
    _in_unit("population.main_income_share", pop.main_income_share)
    _positive("population.workers_per_requester", pop.workers_per_requester)
    _positive("population.usd_per_currency", pop.usd_per_currency)
    if cfg.sim.days < 1:
        raise ConfigError("sim.days", cfg.sim.days, "an integer >= 1")
    _positive("sim.min_hours_for_wage", cfg.sim.min_hours_for_wage, strict=False)
    # platform
    _in_unit("platform.commission", p.commission)
    _in_unit("platform.batch_surcharge", p.batch_surcharge)
    _in_unit("platform.worker_fee_share", p.worker_fee_share, 0.0, 0.99)
    _positive("platform.commission_min_usd", p.commission_min_usd, strict=False)
    if p.batch_surcharge_min_assignments < 2:
        raise ConfigError(
            "platform.batch_surcharge_min_assignments",
            p.batch_surcharge_min_assignments,
            "an integer >= 2",
        )
    if len(p.commission_tier_rates) != (
        len(p.commission_tiers_usd) + 1 if p.commission_tier_rates else 0
    ):
        raise ConfigError(
            "platform.commission_tier_rates",
            list(p.commission_tier_rates),
            f"one rate more than thresholds in platform.commission_tiers_usd ({len(p.commission_tiers_usd)} given)",
        )
    for rate in p.commission_tier_rates:
        _in_unit("platform.commission_tier_rates", rate, 0.0, 0.99)
    if list(p.commission_tiers_usd) != sorted(p.commission_tiers_usd):
        raise ConfigError(
            "platform.commission_tiers_usd",
            list(p.commission_tiers_usd),
            "increasing thresholds in USD",
        )
    if p.commission_cap is not None:
        _in_unit("platform.commission_cap", p.commission_cap)
    _in_unit("platform.appeal_overturn_prob", p.appeal_overturn_prob)
    _in_unit("platform.appeal_deterrence", p.appeal_deterrence)
    _positive("platform.appeal_delay_days", p.appeal_delay_days)
    if p.payment_guarantee not in ("none", "auto_approval", "escrow"):
        raise ConfigError(
            "platform.payment_guarantee", p.payment_guarantee, "none, auto_approval, escrow"
        )
    for name in ("auto_approval_days", "escrow_auto_approval_days", "abandon_days"):
        _positive(f"platform.{name}", getattr(p, name))
    if p.min_pay_mode not in ("none", "estimated", "measured"):
        raise ConfigError("platform.min_pay_mode", p.min_pay_mode, "none, estimated, measured")
    _positive("platform.min_pay_usd_per_hour", p.min_pay_usd_per_hour, strict=False)
    _in_unit("platform.qualification_share", p.qualification_share)
    _in_unit("platform.qualification_min_approval_rate", p.qualification_min_approval_rate)
    if p.qualification_min_approved < 0:
        raise ConfigError(
            "platform.qualification_min_approved", p.qualification_min_approved, "an integer >= 0"
        )
    _in_unit("platform.restricted_share", p.restricted_share)
    for c in p.restricted_countries:
        if c not in COUNTRY_CODES:
            raise ConfigError(
                "platform.restricted_countries",
                c,
                f"ISO codes in the country table: {', '.join(COUNTRY_CODES)}",
            )
    if p.listing not in ("newest", "pay"):
        raise ConfigError("platform.listing", p.listing, "newest, pay")
    # workers
    for name in (
        "reservation_wage_median_usd",
        "reservation_wage_sigma",
        "weekly_hours_median_side",
        "weekly_hours_median_main",
        "weekly_hours_sigma",
        "skill_concentration",
        "return_threshold",
        "duration_noise_sigma",
    ):
        _positive(f"workers.{name}", getattr(w, name))
    for name in (
        "search_minutes",
        "search_congestion",
        "speed_sigma",
        "impatience_per_day",
        "exit_wage_ratio",
        "discouragement_threshold",
    ):
        _positive(f"workers.{name}", getattr(w, name), strict=False)
    for name in (
        "skill_mean",
        "learning_rate",
        "return_base_prob",
        "exit_prob_side",
        "exit_prob_main",
        "baseline_exit_per_month",
        "discouragement_per_day",
        "min_engagement",
    ):
        _in_unit(f"workers.{name}", getattr(w, name))
    if w.return_threshold <= 1.0:
        raise ConfigError("workers.return_threshold", w.return_threshold, "a number > 1")
    for name in ("max_searches_per_hour", "candidates_seen", "belief_slots", "exit_days"):
        if getattr(w, name) < 1:
            raise ConfigError(f"workers.{name}", getattr(w, name), "an integer >= 1")
    # requesters
    if r.pay_mean_usd_per_hour < r.pay_median_usd_per_hour:
        raise ConfigError(
            "requesters.pay_mean_usd_per_hour",
            r.pay_mean_usd_per_hour,
            f"a mean >= requesters.pay_median_usd_per_hour ({r.pay_median_usd_per_hour}) for a lognormal",
        )
    _positive("requesters.pay_median_usd_per_hour", r.pay_median_usd_per_hour)
    _in_unit("requesters.pay_volume_correlation", r.pay_volume_correlation, -0.99, 0.99)
    if r.activity_pareto_alpha <= 1.0:
        raise ConfigError(
            "requesters.activity_pareto_alpha", r.activity_pareto_alpha, "a number > 1"
        )
    _positive("requesters.duration_bias_median", r.duration_bias_median)
    _shares("requesters.review_shares", r.review_shares, ["prompt", "slow", "never"])
    _shares(
        "requesters.rejection_shares", r.rejection_shares, ["honest", "strict", "opportunistic"]
    )
    for name in (
        "honest_reject_bad_prob",
        "strict_reject_bad_prob",
        "strict_reject_good_prob",
        "opportunistic_reject_good_prob",
        "fee_pass_through",
        "split_batches_prob",
        "monthly_churn",
    ):
        _in_unit(f"requesters.{name}", getattr(r, name))
    for name in (
        "review_delay_hours_prompt",
        "review_delay_hours_slow",
        "value_markup_median",
        "batch_lifetime_days",
        "reprice_max_factor",
    ):
        _positive(f"requesters.{name}", getattr(r, name))
    _positive("requesters.demand_elasticity", r.demand_elasticity, strict=False)
    _in_unit("requesters.reference_fee", r.reference_fee)
    # market
    _positive("market.demand_ratio", m.demand_ratio)
    _shares("market.type_shares", m.type_shares, TASK_TYPES)
    for name in ("type_duration_minutes", "type_batch_median", "type_max_per_worker"):
        d = getattr(m, name)
        for t in m.type_shares:
            if t not in d or d[t] <= 0:
                raise ConfigError(
                    f"market.{name}.{t}",
                    d.get(t),
                    "a number > 0 for every task type in market.type_shares",
                )
    if m.max_batch_size < 1:
        raise ConfigError("market.max_batch_size", m.max_batch_size, "an integer >= 1")
    _positive("market.max_task_minutes", m.max_task_minutes)


def config_to_dict(cfg: CrowdSimConfig) -> dict:
    return asdict(cfg)
