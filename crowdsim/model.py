"""CrowdWorkModel: one crowd-work platform simulated hour by hour (UTC).

State is held in numpy columns (``self.workers``, ``self.requesters``, ``self.batches``,
``self.records``); each hour runs the named phases in order, each in one file of
:mod:`crowdsim.market` with its compiled loop beside it, and each handing the next what it needs
(see :meth:`CrowdWorkModel.step` and ``docs/architecture.md``):

1. ``post``    requesters post batches of assignments (money into escrow)       ``market/post.py``
2. ``expire``  unfilled assignments of expired batches are refunded             ``market/post.py``
3. ``search``  online workers search (unpaid), choose among the tasks they see, work, return
               -> :class:`~crowdsim.market.state.HourStats`                    ``market/search.py``
4. ``submit``  finished work becomes records with their review outcome drawn   ``market/submit.py``
5. ``settle``  due records are reviewed, auto-approved, abandoned or re-decided on appeal;
               money moves escrow -> worker pay + platform fees, or back       ``market/settle.py``
6. ``adapt``   once a day: workers leave or arrive, requesters churn           ``market/adapt.py``
7. ``record``  hourly aggregates into preallocated arrays                      ``metrics/record.py``

See ``../README.md`` for the economics and sources.
"""

from __future__ import annotations

import time as _time
from typing import Any

import mesa
import numpy as np

from crowdsim import threads
from crowdsim.agents import REJECTION_KINDS, REVIEW_KINDS, Requester, Worker
from crowdsim.config import (
    TASK_TYPES,
    ConfigError,
    CrowdSimConfig,
    reformed_config,
    to_config,
    validate,
)
from crowdsim.data.countries import CountryTable
from crowdsim.ledger import Ledger
from crowdsim.market import adapt, post, search, settle, submit
from crowdsim.market.profiles import posting_profile, worker_availability_profile
from crowdsim.market.state import Counters, Pool
from crowdsim.metrics.record import Recorder
from crowdsim.metrics.windows import Windows
from crowdsim.policy.min_pay import TopUps
from crowdsim.stores import ColumnStore, DueCalendar, RecyclingStore

PHASES = ("post", "expire", "search", "submit", "settle", "adapt", "record")

# The model's DataCollector: headline metrics of the run so far, as its summary computes them
# (crowdsim/metrics/summary.py, named in crowdsim/metrics/catalogue.py); model-level only, since
# per-agent reporters cost ~70 ms a collection at 100k workers
HEADLINE_KEYS = (
    "wage_median_all_in",
    "wage_median_paid_only",
    "share_above_7_25",
    "unpaid_time_share",
    "rejection_rate",
    "unjustified_rejection_rate",
    "payment_delay_days_mean",
    "tasks_submitted",
    "active_workers_mean",
    "worker_exit_rate",
    "worker_earnings_usd",
    "platform_revenue_usd",
)


def _reporter(key: str):
    return lambda m: m.headline()[key]


MODEL_REPORTERS = {key: _reporter(key) for key in HEADLINE_KEYS} | {
    "seed": lambda m: m.config.seed  # the seed drawn for rng=None, to repeat the run
}

_NOT_GIVEN = object()


def _seed_from_rng(rng: Any, overrides: dict[str, Any]) -> dict[str, Any]:
    """The overrides with ``seed`` set from Mesa's ``rng`` argument (an integer, or None for a
    fresh seed from the operating system's entropy)."""
    if rng is None:
        seed = int(np.random.SeedSequence().entropy % 2**32)
    elif isinstance(rng, int | np.integer) and not isinstance(rng, bool) and rng >= 0:
        seed = int(rng)
    else:
        raise ConfigError(
            "rng", rng, "an integer >= 0 (the seed) or None (a fresh seed from the system)"
        )
    if "seed" in overrides and overrides["seed"] != seed:
        raise ConfigError(
            "rng", rng, f"the same value as seed ({overrides['seed']}), or one of them"
        )
    return overrides | {"seed": seed}


class CrowdWorkModel(mesa.Model):
    """A crowd-work market: workers, requesters and a platform, stepped one hour at a time.

    Mesa's own tools work on it: ``mesa.batch_run(CrowdWorkModel, parameters={
    "platform__commission": [0.1, 0.2], "population__n_workers": 500}, rng=[1, 2],
    max_steps=7 * 24)`` gives one row per run with the headline metrics of
    :data:`MODEL_REPORTERS` (``self.datacollector``, model-level only: no per-agent reporters).

    Args:
        config: a :class:`~crowdsim.config.CrowdSimConfig`, a Hydra/OmegaConf config or a dict
            (validated; bad values raise :class:`~crowdsim.config.ConfigError`).
        create_agents: create Mesa ``Worker``/``Requester`` views (needed for AgentSet access;
            the simulation itself never iterates over them).
        rng: the seed, as Mesa passes it (``mesa.batch_run``): an integer replaces the config's
            ``seed``; ``None`` draws a fresh seed from the operating system, kept in
            ``self.config.seed`` so that the run can be repeated. Not given: the config's seed.
        collect_every_hours: collect the headline metrics into ``self.datacollector`` every this
            many hours (24: once a day). ``None`` (the default, which costs nothing while the
            model runs): they are collected when the run ends and whenever ``datacollector`` is
            read at an hour not yet collected.
        **overrides: dotted options with ``__`` for dots, e.g. ``population__n_workers=500``.
    """

    def __init__(
        self,
        config: Any = None,
        *,
        create_agents: bool = True,
        rng: Any = _NOT_GIVEN,
        collect_every_hours: int | None = None,
        **overrides: Any,
    ):
        if rng is not _NOT_GIVEN:
            overrides = _seed_from_rng(rng, overrides)
        cfg = (
            to_config(config, **overrides)
            if not (isinstance(config, CrowdSimConfig) and not overrides)
            else config
        )
        if isinstance(config, CrowdSimConfig) and not overrides:
            validate(cfg)
        if collect_every_hours is not None and (
            isinstance(collect_every_hours, bool)
            or not isinstance(collect_every_hours, int)
            or collect_every_hours < 1
        ):
            raise ConfigError("collect_every_hours", collect_every_hours, "an integer >= 1 or None")
        super().__init__(rng=cfg.seed)
        self.threads = threads.configure(cfg.population.n_workers)  # results do not depend on it
        # One seed, separate streams per concern (spawned from the model's rng): what requesters
        # post, how workers search, how work is judged and who comes and goes stay aligned across
        # configurations that share a seed (common random numbers), however behaviour diverges.
        self.rng_post, self.rng_match, self.rng_review, self.rng_adapt = self.rng.spawn(4)
        self.config = cfg
        self.initial_config = cfg  # `config` becomes the reform's at sim.reform_day
        self.scenario_name = cfg.scenario_name
        self.hour = 0
        self.n_hours = cfg.sim.days * 24
        self.task_types = [t for t in TASK_TYPES if t in cfg.market.type_shares]
        self.countries = CountryTable.for_population(
            cfg.population.countries, cfg.population.country_mix, dict(cfg.population.shares)
        )
        self.ledger = Ledger()
        self.phase_seconds = dict.fromkeys(PHASES, 0.0)
        self._create_agents = create_agents
        self.counters = Counters()
        self.pool = Pool(self)  # who is present: the one place that keeps it
        self.allowance_periods = (-1, -1)  # the week and month the caps' allowances are for
        self.waitlist = (  # would-be workers waiting for admission (platform.waitlist)
            int(round(cfg.platform.waitlist_initial_share * cfg.population.n_workers))
            if cfg.platform.waitlist
            else 0
        )
        self.waitlist_carry = 0.0  # fraction of an admission carried to the next day
        self.waitlist_seen = (0.0, 0.0)  # online worker-hours and assignment-hours posted so far
        self._prepare_rules()
        self._init_profiles()
        self._init_workers()
        self._init_requesters()
        self._init_market()
        self.top_ups = TopUps() if cfg.platform.min_pay_mode == "median_top_up" else None
        # rules from the reform day on (validated with the config), and the measured windows
        self.reform_config = reformed_config(cfg) if cfg.sim.reform_day is not None else None
        from crowdsim.metrics.summary import fee_rules

        self.base_fees = fee_rules(cfg)  # the fee rules before a reform
        self.recorder = Recorder(self)
        self.windows = Windows(self)
        self.windows.at_hour(self)
        self.running = True
        self._collect_every = collect_every_hours
        self._datacollector = mesa.DataCollector(model_reporters=MODEL_REPORTERS)
        self._collected_hour = -1
        self._auto_collect = True  # False once a subclass sets a collector of its own
        self._headline_cache: tuple[int, dict] | None = None
        if collect_every_hours is not None:
            self._collect()

    # ------------------------------------------------------------------ Mesa's DataCollector
    @property
    def datacollector(self) -> mesa.DataCollector:
        """Mesa ``DataCollector`` of the headline metrics (:data:`MODEL_REPORTERS`), one row per
        collected hour; reading it collects the current hour if it was not yet collected."""
        if self._auto_collect and self._collected_hour != self.hour:
            self._collect()
        return self._datacollector

    @datacollector.setter
    def datacollector(self, value: mesa.DataCollector) -> None:
        # a subclass may collect reporters of its own (the browser app's), when it chooses
        self._datacollector = value
        self._auto_collect = False

    def _collect(self) -> None:
        self._collected_hour = self.hour
        self._datacollector.collect(self)

    def headline(self) -> dict[str, float | None]:
        """The headline metrics of the run so far, as in its summary (cached per hour)."""
        if self._headline_cache is None or self._headline_cache[0] != self.hour:
            from crowdsim.metrics.summary import summarize

            s = summarize(self)
            self._headline_cache = (self.hour, {k: s.get(k) for k in HEADLINE_KEYS})
        return self._headline_cache[1]

    def _prepare_rules(self) -> None:
        """The phases' parameters as the compiled loops take them (from ``self.config``)."""
        cfg = self.config
        self.post_params = post.post_params(cfg)
        self.search_params = search.search_params(cfg)
        self.review_params = submit.review_params(cfg)
        self.settle_params = settle.settle_params(cfg)
        self.day_params = adapt.day_params(cfg)

    def apply_reform(self) -> None:
        """From this hour on, the reform's rules (``sim.reform_day``): the config with the
        reform's options in place, the phases' parameters rebuilt from it."""
        cfg = self.reform_config
        validate(cfg)
        if cfg.platform.waitlist and not self.config.platform.waitlist:  # the gate opens a waitlist
            self.waitlist = int(
                round(cfg.platform.waitlist_initial_share * cfg.population.n_workers)
            )
        self.config = cfg
        self._prepare_rules()
        self._access_rules()
        if cfg.platform.min_pay_mode == "median_top_up" and self.top_ups is None:
            self.top_ups = TopUps()  # submissions from now on are checked at their batch's close
        elif cfg.platform.min_pay_mode != "median_top_up":
            self.top_ups = None

    # ------------------------------------------------------------------ set-up
    def _init_profiles(self) -> None:
        cfg = self.config
        # availability factor by hour of the week (UTC) for each country: (168, n_countries)
        self.availability = np.stack(
            [worker_availability_profile(off) for off in self.countries.utc_offset], axis=1
        ).astype(np.float32)
        # (168,), mean 1: business hours of the requesters' own time zone
        self.posting_weight = posting_profile(cfg.requesters.posting_utc_offset_hours)
        self.n_weeks = int(np.ceil(cfg.sim.days / 7))

    def _new_worker_columns(self, capacity: int) -> ColumnStore:
        f8, i8, i4, b1 = np.float64, np.int64, np.int32, np.bool_
        cols = {
            "country": (np.int8, 0),
            "reservation_wage": (f8, 0.0),
            "main_income": (b1, False),
            "weekly_hours": (f8, 0.0),
            "online_base": (f8, 0.0),
            "skill": (f8, 0.0),
            "log_skill": (f8, 0.0),  # for the quality draw, skill ** requester strictness
            "speed": (f8, 1.0),
            "n_approved": (i8, 0),
            "n_rejected": (i8, 0),
            "n_submitted": (i8, 0),
            "n_returned": (i8, 0),
            "present": (b1, False),
            "joined_hour": (i4, 0),
            "left_hour": (i4, -1),
            "m_paid": (f8, 0.0),
            "m_pending": (f8, 0.0),
            "m_rejected": (f8, 0.0),
            "m_returned": (f8, 0.0),
            "m_search": (f8, 0.0),
            "m_never_paid": (f8, 0.0),
            "m_idle_online": (f8, 0.0),
            "m_logged_off": (f8, 0.0),
            "belief_find": (f8, self.config.workers.initial_belief_find),
            "belief_found_wage": (f8, self.config.workers.initial_belief_found_wage_usd),
            "online_hours": (i8, 0),
            "spill": (f8, 0.0),
            "earned_micro": (i8, 0),
            "fees_paid_micro": (i8, 0),
            "pending_value_micro": (i8, 0),
            "gross_billed_micro": (i8, 0),
            "engagement": (f8, 1.0),
            "belief_ok": (f8, self.config.workers.initial_belief_approval),
            "belief_duration_ratio": (f8, 1.0),
            "belief_delay_days": (f8, self.config.workers.initial_belief_delay_days),
            "win_earn": (f8, 0.0),
            "win_minutes": (f8, 0.0),
            "last_minutes": (f8, 0.0),
            "last_earned": (f8, 0.0),
            "strikes": (i4, 0),
            "slot_ptr": (np.int16, 0),
            # what is left of the caps of this week (minutes worked) and month (reward, micro-USD)
            # where the platform sets them (market/search.py); infinite without a cap
            "week_allowance": (f8, np.inf),
            "month_allowance": (f8, np.inf),
            # the welfare ledger (metrics/welfare.py), on the accrual basis of the summary: for
            # the worker's approved work (counted at submission, when its fate is drawn), its
            # value to the requesters and what they pay for it (reward + requester fee); the
            # worker's inclusive value of the choices it met (search.py), USD
            "work_value_micro": (i8, 0),
            "work_reward_micro": (i8, 0),
            "work_cost_micro": (i8, 0),
            "inclusive_value_usd": (f8, 0.0),
            # productivity tier (quintile - 1 of speed x skill at the starting pool's cuts), as
            # a requester's prescreen or quality tier shows it (market/post.py screening)
            "tier": (np.int8, 0),
        }
        # what settling a submission changes for its worker, kept together (see ColumnStore):
        # 192 bytes a worker, three cache lines
        settled = (
            "earned_micro", "fees_paid_micro", "gross_billed_micro", "pending_value_micro",
            "m_pending", "m_paid", "m_rejected", "m_never_paid", "n_approved", "n_rejected",
            "belief_ok", "belief_delay_days", "slot_req", "slot_ok", "slot_delay",
        )  # fmt: skip
        # ... and what working through an hour reads and changes
        worked = (
            "reservation_wage", "belief_duration_ratio", "speed", "log_skill", "m_search",
            "m_returned", "n_returned", "m_idle_online", "n_submitted", "online_hours",
            "m_logged_off", "belief_find", "belief_found_wage",
        )  # fmt: skip
        k = self.config.workers.belief_slots  # the requesters a worker remembers
        cols |= {
            "slot_req": (np.int32, -1, k),
            "slot_ok": (np.float32, 0.0, k),
            "slot_delay": (np.float32, 0.0, k),
        }
        return ColumnStore(capacity, cols, groups=(settled, worked))

    def _init_workers(self) -> None:
        cfg = self.config
        n0 = cfg.population.n_workers
        expected_arrivals = n0 * cfg.workers.baseline_exit_per_month * cfg.sim.days / 30.0
        self.workers = self._new_worker_columns(int(n0 + 2 * expected_arrivals + 64))
        self.weekly_earnings = (
            np.zeros((self.n_weeks, self.workers.capacity), dtype=np.float32)
            if cfg.sim.record_weekly_earnings
            else None
        )
        self.worker_agents: list[Worker] = []
        self.productivity_cuts = None  # cut at the starting pool, below
        first = self.add_workers(n0)
        # productivity quintiles cut at the starting pool's (metrics/welfare.py): the same cuts
        # in every scenario of a seed
        from crowdsim.metrics.welfare import productivity, relative_speed

        W = self.workers
        prod = productivity(relative_speed(W.speed[first], cfg.workers.speed_sigma), W.skill[first])
        self.productivity_cuts = np.quantile(prod, [0.2, 0.4, 0.6, 0.8])
        self._set_tiers(first)

    def _set_tiers(self, idx: np.ndarray) -> None:
        """Productivity tiers (quintile - 1) of workers ``idx`` (metrics/welfare.py)."""
        from crowdsim.metrics.welfare import productivity, quintile, relative_speed

        W = self.workers
        speed = relative_speed(W.speed[idx], self.config.workers.speed_sigma)
        W.tier[idx] = quintile(productivity(speed, W.skill[idx]), self.productivity_cuts) - 1

    def add_workers(self, k: int, joined_hour: int | None = None) -> np.ndarray:
        """Draw ``k`` new workers (country by pool share) and add them to the pool."""
        cfg, rng, W = self.config, self.rng, self.workers
        old_cap = W.capacity
        idx = W.append(k)
        if W.capacity != old_cap and self.weekly_earnings is not None:
            grown = np.zeros((self.n_weeks, W.capacity), dtype=np.float32)
            grown[:, :old_cap] = self.weekly_earnings
            self.weekly_earnings = grown
        wc = cfg.workers
        country = rng.choice(len(self.countries.codes), size=k, p=self.countries.shares)
        main = rng.random(k) < cfg.population.main_income_share
        res = (
            wc.reservation_wage_median_usd
            * self.countries.reservation_scale[country]
            * np.where(main, wc.main_income_reservation_factor, 1.0)
            * np.exp(wc.reservation_wage_sigma * rng.standard_normal(k))
        )
        hours = np.where(main, wc.weekly_hours_median_main, wc.weekly_hours_median_side) * np.exp(
            wc.weekly_hours_sigma * rng.standard_normal(k)
        )
        hours = np.minimum(hours, wc.max_weekly_hours)
        a = wc.skill_mean * wc.skill_concentration
        b = (1 - wc.skill_mean) * wc.skill_concentration
        W.country[idx] = country
        W.reservation_wage[idx] = res
        W.main_income[idx] = main
        W.weekly_hours[idx] = hours
        W.online_base[idx] = hours / 168.0
        W.skill[idx] = rng.beta(a, b, size=k) if b > 0 else 1.0
        with np.errstate(divide="ignore"):
            W.log_skill[idx] = np.log(W.skill[idx])
        W.speed[idx] = np.exp(wc.speed_sigma * rng.standard_normal(k) - wc.speed_sigma**2 / 2)
        if self.productivity_cuts is not None:
            self._set_tiers(idx)
        W.present[idx] = True
        W.joined_hour[idx] = self.hour if joined_hour is None else joined_hour
        search.new_worker_allowances(self, idx)  # a newcomer has the whole of each cap
        if self._create_agents:
            self.worker_agents.extend(Worker(self, r) for r in idx)
        self.pool.refresh_workers()
        return idx

    def remove_workers(self, rows: np.ndarray, hour: int) -> None:
        """Workers ``rows`` leave the pool at ``hour`` (their rows and results stay)."""
        W = self.workers
        W.present[rows] = False
        W.left_hour[rows] = hour
        self.counters.worker_exits += rows.size
        if self._create_agents:
            for row in rows:
                self.worker_agents[row].remove()
        self.pool.refresh_workers()

    def remove_requesters(self, rows: np.ndarray, hour: int) -> None:
        """Requesters ``rows`` leave the platform at ``hour``."""
        R = self.requesters
        R.present[rows] = False
        R.left_hour[rows] = hour
        self.counters.requester_exits += rows.size
        if self._create_agents:
            for row in rows:
                self.requester_agents[row].remove()
        self.pool.refresh_requesters()

    def attach_agents(self) -> None:
        """Create Mesa's agent views of every worker and requester row (a model built without
        them, e.g. restored from a checkpoint); those no longer present are removed at once, as
        they would have been."""
        if self._create_agents:
            return
        self._create_agents = True
        W, R = self.workers, self.requesters
        self.worker_agents = [Worker(self, r) for r in range(W.n)]
        self.requester_agents = [Requester(self, r) for r in range(R.n)]
        for agents, present in (
            (self.worker_agents, W.present),
            (self.requester_agents, R.present),
        ):
            for row in np.flatnonzero(~present[: len(agents)]):
                agents[row].remove()

    @property
    def present_workers(self) -> np.ndarray:
        """Rows of the workers in the pool."""
        return self.pool.workers

    @property
    def present_requesters(self) -> np.ndarray:
        """Rows of the requesters on the platform."""
        return self.pool.requesters

    def _init_requesters(self) -> None:
        cfg = self.config
        n0 = max(3, int(round(cfg.population.n_workers / cfg.population.workers_per_requester)))
        cols = {
            "present": (np.bool_, False),
            "task_type": (np.int8, 0),
            "activity": (np.float64, 0.0),
            "target_pay": (np.float64, 0.0),
            "initial_pay": (np.float64, 0.0),
            "duration_bias": (np.float64, 1.0),
            "strictness": (np.float64, 1.0),
            "review_kind": (np.int8, 0),
            "rejection_kind": (np.int8, 0),
            "value_per_hour": (np.float64, 0.0),
            # the welfare ledger: value of its approved work and what it pays for it (reward +
            # fee, top-ups included), accrued at submission, micro-USD
            "value_micro": (np.int64, 0),
            "cost_micro": (np.int64, 0),
            "fill_belief": (
                np.float64,
                1.0,
            ),  # share of its batches it expects filled (post.expire)
            "splits": (np.bool_, False),
            "spent_micro": (np.int64, 0),
            "n_approved": (np.int64, 0),
            "n_rejected": (np.int64, 0),
            "n_unjust": (np.int64, 0),
            "n_abandoned": (np.int64, 0),
            "n_posted": (np.int64, 0),
            # what it posted: rewards and fees (micro-USD, per assignment x assignments) and
            # assignment-hours at its own estimate (the same requesters' fee pass-through)
            "reward_posted_micro": (np.int64, 0),
            "pay_posted_usd": (np.float64, 0.0),  # the rewards it chose, before rounding
            "fee_posted_micro": (np.int64, 0),
            "est_hours_posted": (np.float64, 0.0),
            "n_submitted": (np.int64, 0),
            "delay_hours_sum": (np.float64, 0.0),
            "joined_hour": (np.int32, 0),
            "left_hour": (np.int32, -1),
        }
        churn = n0 * cfg.requesters.monthly_churn * cfg.sim.days / 30.0
        self.requesters = ColumnStore(int(n0 + 3 * churn + 16), cols)
        self.requester_agents: list[Requester] = []
        self.n_requesters_initial = n0
        self.activity_cap = cfg.requesters.max_activity  # then the largest starting requester's
        idx = self.add_requesters(n0)
        self.activity_cap = float(self.requesters.activity[idx].max())  # n0 >= 3

    def add_requesters(self, k: int) -> np.ndarray:
        cfg, rng, R = self.config, self.rng, self.requesters
        rc, mc = cfg.requesters, cfg.market
        idx = R.append(k)
        types = np.array([TASK_TYPES.index(t) for t in self.task_types])
        shares = np.array([mc.type_shares[t] for t in self.task_types], dtype=float)
        R.task_type[idx] = rng.choice(types, size=k, p=shares / shares.sum())
        # activity (Pareto) and pay (lognormal) joined by a Gaussian copula: low payers post more
        z1 = rng.standard_normal(k)
        z2 = rc.pay_volume_correlation * z1 + np.sqrt(
            1 - rc.pay_volume_correlation**2
        ) * rng.standard_normal(k)
        from scipy.special import ndtr

        u = np.clip(ndtr(z1), 1e-12, 1 - 1e-12)
        # Pareto activity; an arrival is no larger than the largest requester the market started
        # with: the posting rate is calibrated on the starting requesters' total activity, and with
        # a tail this heavy (infinite variance) a single unbounded draw among a year's arrivals
        # could post many times the whole market's volume (seen at 100k workers: one arrival
        # with 14x the market's activity, 87 M tasks posted a day), which the volume data (top
        # 1% of requesters = 60% of volume) do not show
        R.activity[idx] = np.minimum(
            (1.0 - u) ** (-1.0 / rc.activity_pareto_alpha), self.activity_cap
        )
        sigma_pay = np.sqrt(2.0 * np.log(rc.pay_mean_usd_per_hour / rc.pay_median_usd_per_hour))
        pay = rc.pay_median_usd_per_hour * np.exp(sigma_pay * z2)
        R.target_pay[idx] = pay
        R.initial_pay[idx] = pay
        R.duration_bias[idx] = rc.duration_bias_median * np.exp(
            rc.duration_bias_sigma * rng.standard_normal(k)
        )
        R.strictness[idx] = np.exp(rc.quality_strictness_sigma * rng.standard_normal(k))
        rs = np.array([rc.review_shares.get(x, 0.0) for x in REVIEW_KINDS], dtype=float)
        R.review_kind[idx] = rng.choice(3, size=k, p=rs / rs.sum())
        js = np.array([rc.rejection_shares.get(x, 0.0) for x in REJECTION_KINDS], dtype=float)
        R.rejection_kind[idx] = rng.choice(3, size=k, p=js / js.sum())
        markup = rc.value_markup_median * np.exp(rc.value_markup_sigma * rng.standard_normal(k))
        # the value of the median task of its plan, per hour of (estimated) work (market/post.py)
        R.value_per_hour[idx] = pay * (1.0 + rc.reference_fee) * markup
        R.splits[idx] = rng.random(k) < rc.split_batches_prob
        R.present[idx] = True
        R.joined_hour[idx] = self.hour
        if self._create_agents:
            self.requester_agents.extend(Requester(self, r) for r in idx)
        self.pool.refresh_requesters()
        return idx

    def _init_market(self) -> None:
        cfg = self.config
        i8, f8 = np.int64, np.float64
        n_req = self.requesters.n
        self.batches = RecyclingStore(
            max(256, 4 * n_req),
            {
                "requester": (np.int32, -1),
                "task_type": (np.int8, 0),
                "size": (i8, 0),
                "remaining": (i8, 0),
                "reward_micro": (i8, 0),
                "fee_micro": (i8, 0),
                "est_minutes": (f8, 0.0),
                "true_minutes": (f8, 0.0),
                "gated": (np.bool_, False),
                "restricted": (np.bool_, False),
                "posted_hour": (np.int32, 0),
                "expires_hour": (np.int32, 0),
                "max_per_worker": (i8, 1),
                "covered_floor": (np.bool_, False),
                "value_micro": (i8, 0),  # value of an approved assignment to its requester
                "min_tier": (np.int8, 0),  # productivity quintile - 1 a worker needs (screening)
                "hits": (i8, 1),
                "assignments_per_hit": (i8, 1),
            },
        )
        i4 = np.int32
        self.records = RecyclingStore(
            max(
                1024, 8 * cfg.population.n_workers
            ),  # ~submissions awaiting review at once (measured)
            {
                "worker": (i4, -1),
                "requester": (i4, -1),
                "submit_hour": (i4, 0),
                "resolve_hour": (i4, 0),
                "n_done": (i4, 0),
                "n_approve": (i4, 0),
                "n_rej_just": (i4, 0),
                "n_rej_unjust": (i4, 0),
                "n_overturn": (i4, 0),
                "kind": (np.int8, 0),
                "reward_micro": (i8, 0),
                "fee_micro": (i8, 0),
                "minutes": (f8, 0.0),
            },
            rows=True,  # written and read one record at a time, at scattered rows
        )
        self.due_batches = DueCalendar(self.batches, "expires_hour")
        self.due_records = DueCalendar(self.records, "resolve_hour")
        # expected online worker-hours per hour and batch arrival rate (see market/post.py)
        self.batch_rate_per_activity = post.calibrate_batch_rate(self)
        self._access_rules()

    def _access_rules(self) -> None:
        """Who may take which tasks, from ``self.config`` (at set-up and at a reform)."""
        cfg = self.config
        self.restricted_allowed = np.isin(
            np.array(self.countries.codes), list(cfg.platform.restricted_countries)
        )
        self.type_max_per_worker = np.array(
            [cfg.market.type_max_per_worker.get(t, 1) for t in TASK_TYPES], dtype=np.int64
        )

    # ------------------------------------------------------------------ the hour
    def step(self) -> None:
        """Simulate one hour: the phases in order, each handing the next what it needs."""
        clock = _time.perf_counter
        ps = self.phase_seconds
        if self.hour == self.windows.reform_hour:
            self.apply_reform()
        t0 = clock()
        post.post(self)
        t1 = clock()
        post.expire(self)
        t2 = clock()
        hour = search.search_and_work(self)
        t3 = clock()
        submit.file_submissions(self, hour.submissions)
        t4 = clock()
        settle.review_and_settle(self)
        t5 = clock()
        if (self.hour + 1) % 24 == 0:
            adapt.daily(self)
        t6 = clock()
        self.recorder.record_hour(self, hour)
        t7 = clock()
        marks = (t0, t1, t2, t3, t4, t5, t6, t7)
        for name, a, b in zip(PHASES, marks[:-1], marks[1:], strict=True):
            ps[name] += b - a
        if self.config.sim.check_invariants:
            from crowdsim.metrics.invariants import check_all

            check_all(self)
        self.hour += 1
        self.windows.at_hour(self)
        if self.hour >= self.n_hours:
            self.running = False
        every = self._collect_every
        if (
            self._auto_collect
            and every is not None
            and (self.hour % every == 0 or not self.running)
        ):
            self._collect()

    def run(self, hours: int | None = None) -> CrowdWorkModel:
        """Step until the configured horizon (or ``hours`` more hours)."""
        end = self.n_hours if hours is None else min(self.n_hours, self.hour + hours)
        while self.hour < end:
            self.step()
        return self

    # ------------------------------------------------------------------ views for users
    @property
    def approval_rate(self) -> np.ndarray:
        W = self.workers
        a, r = W.n_approved[: W.n], W.n_rejected[: W.n]
        tot = a + r
        return np.where(tot > 0, a / np.maximum(tot, 1), 1.0)

    def results(self):
        """Frames and summary of the run so far (see :mod:`crowdsim.metrics.summary`)."""
        from crowdsim.metrics.summary import build_results

        return build_results(self)
