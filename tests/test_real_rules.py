"""Scenario files that stand for real rules, each with a test of its mechanism."""

from __future__ import annotations

import numpy as np
from hydra import compose, initialize_config_dir

from crowdsim import CrowdWorkModel
from crowdsim.cli.overrides import CONFIG_DIR
from crowdsim.ledger import MICRO
from crowdsim.metrics.invariants import check_all


def _model(*overrides):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(
            config_name="config", overrides=["population.n_workers=200", "sim.days=1", *overrides]
        )
    return CrowdWorkModel(cfg, create_agents=False)


def _posted_rewards(model, hours=24):
    B, rewards = model.batches, []
    for _ in range(hours):
        h = model.hour
        model.step()
        rows = np.flatnonzero(B.in_use[: B.n] & (B.posted_hour[: B.n] == h))
        rewards.append(B.reward_micro[rows].copy())
    return np.concatenate(rewards)


def test_click_farm_pays_fractions_of_a_cent_per_action():
    farm = _model("scenario=click_farm")
    micro = _posted_rewards(farm)
    assert micro.size
    assert (micro < 10_000).any()  # below one cent: representable where the scenario says so
    assert (micro % 100 == 0).all() and micro.min() >= 100  # whole $0.0001, at least one
    check_all(farm)  # money still adds up to the micro-dollar
    # whole cents, at least $0.01, everywhere else (MTurk's rule)
    mturk = _posted_rewards(_model("scenario=status_quo"))
    assert (mturk % 10_000 == 0).all() and mturk.min() >= 0.01 * MICRO


def test_requesters_post_in_their_own_business_hours():
    """A French platform posts in French business hours (UTC+1), MTurk's requesters in US
    Eastern ones (UTC-5): the hour of the week with the most posting moves by six hours."""

    def posted_by_utc_hour(*overrides):
        model = _model("sim.days=2", *overrides).run()
        posted = model.results().timeseries["tasks_posted"].to_numpy()
        return np.bincount(np.arange(posted.size) % 24, weights=posted, minlength=24)

    # business hours 9:00-18:00 local: 8-17 UTC in Paris, 14-23 UTC in New York (winter time)
    paris = posted_by_utc_hour("scenario=foule_factory", "population.n_workers=300")
    assert paris[8:17].sum() > 0.6 * paris.sum() and paris[17:].sum() < paris[8:17].sum()
    weekday = slice(0, 24)  # Monday, UTC
    for scenario, business in (("foule_factory", slice(8, 17)), ("status_quo", slice(14, 23))):
        w = _model(f"scenario={scenario}").posting_weight[weekday]
        assert w[business].sum() > 0.6 * w.sum()


def test_every_scenario_posts_in_the_business_hours_of_its_requesters_time_zone():
    """Each scenario file's requesters post most in 9:00-18:00 on weekdays of the time zone it
    gives (requesters.posting_utc_offset_hours; US Eastern where a file says nothing)."""
    from crowdsim.viz.app import available_scenarios

    for scenario in available_scenarios():
        m = _model(f"scenario={scenario}", "population.n_workers=50")
        offset = m.config.requesters.posting_utc_offset_hours
        local = np.floor(np.arange(168) + offset).astype(int)
        business = (local % 24 >= 9) & (local % 24 < 18) & ((local // 24) % 7 < 5)
        w = m.posting_weight
        assert w[business].sum() > 2 * business.mean() * w.sum(), scenario  # 45 of 168 hours
        assert w[business].min() > w[~business].max(), (
            scenario
        )  # every business hour above the rest
        if scenario == "foule_factory":
            assert offset == 1.0  # Paris (CET)


# ---------------------------------------------------------------------------- Prolific
def test_median_and_top_up_rules_on_hand_worked_cases():
    from crowdsim.policy.min_pay import median_minutes, top_up_per_assignment

    # batch 7: times 2, 4, 9 minutes, weights 1, 1, 1 -> 4; batch 3: 1 (x1) and 5 (x3) -> 5
    rows, med = median_minutes(
        np.array([7, 3, 7, 3, 7]), np.array([9.0, 1.0, 2.0, 5.0, 4.0]), np.array([1, 1, 1, 3, 1])
    )
    assert rows.tolist() == [3, 7] and med.tolist() == [5.0, 4.0]
    # $8/h over a 6-minute median is $0.80: a $0.50 reward is topped up by $0.30, $0.90 by 0
    owed = top_up_per_assignment(np.array([500_000, 900_000]), np.array([6.0, 6.0]), 8.0, 0.01)
    assert owed.tolist() == [300_000, 0]
    # rounded up to whole cents: $8/h over 5.5 minutes is $0.7333 -> $0.74
    assert top_up_per_assignment(np.array([0]), np.array([5.5]), 8.0, 0.01).tolist() == [740_000]


def test_prolific_requesters_top_up_to_the_floor_at_the_median_time():
    """Same seed, the floor on the estimate only vs Prolific's rule: up to the first day's end
    after batches start closing (hour 95) the runs are the same market, so every dollar more
    paid to workers is a top-up, charged to requesters with the platform's 33.3% on it."""
    # (here the rule's accounting is what is checked: requesters who value their work highly,
    # so that those the floor covers still post, and who do not screen for the fastest workers,
    # whose median time would owe no top-up)
    common = ["scenario=prolific_like", "population.n_workers=300", "sim.days=4", "seed=5",
              "requesters.duration_bias_median=0.5", "requesters.value_markup_median=10",
              "requesters.screening_elasticity=0"]  # fmt: skip
    topped = _model(*common)
    plain = _model(*common, "platform.min_pay_mode=estimated")
    for m in (topped, plain):
        m.run(95)
        check_all(m)
    c = topped.counters
    assert (
        c.top_ups_micro > 0 and c.batches_topped_up > 0
    )  # requesters understate durations by half
    led, base = topped.ledger.balance, plain.ledger.balance
    assert led["worker_paid"] - base["worker_paid"] == c.top_ups_micro  # no worker-side fee
    extra_fees = led["platform_fees"] - base["platform_fees"]
    assert abs(extra_fees - 0.333 * c.top_ups_micro) <= c.batches_topped_up * 300 + 100
    deposited = base["requester_funds"] - led["requester_funds"]
    assert deposited == c.top_ups_micro + extra_fees
    # the rule raises pay only: per paid hour, workers of the topped-up market earn more
    W, V = topped.workers, plain.workers
    wage = lambda w: w.earned_micro[: w.n].sum() / w.m_paid[: w.n].sum()  # noqa: E731
    assert wage(W) > wage(V)


# ---------------------------------------------------------------------------- the waitlist
def test_waitlist_admits_workers_at_the_rate_demand_supports():
    """With the gate on, fewer workers are admitted when fewer tasks are posted per online
    worker-hour (same seed, same target); the waiting count is a time-series column."""

    def admitted(demand):
        m = _model(
            "platform.waitlist=true", "platform.waitlist_initial_share=1.0",
            "platform.waitlist_target_work_per_online_hour=0.3", f"market.demand_ratio={demand}",
            "workers.baseline_exit_per_month=0.3", "population.n_workers=400", "sim.days=6",
        ).run()  # fmt: skip
        res = m.results()
        waiting = res.timeseries["workers_waiting"].to_numpy()
        assert waiting[0] == 400 and waiting[-1] == m.waitlist
        assert res.summary["workers_admitted"] == m.counters.worker_entries
        check_all(m)
        return m.counters.workers_admitted

    high, low = admitted(0.6), admitted(0.1)
    assert high > 2 * low and low >= 0
    # the gate is off by default: no column, entries as arrivals
    assert "workers_waiting" not in _model().run().results().timeseries


# ---------------------------------------------------------------------------- caps and hours
WORKING = ("m_search", "m_paid", "m_pending", "m_rejected", "m_returned", "m_never_paid")


def _worked_minutes(model):
    W = model.workers
    return sum(getattr(W, c)[: W.n].astype(np.float64) for c in WORKING)


def _by_period(model, hours):
    """Each worker's working minutes in consecutive periods of ``hours`` (rows: periods)."""
    marks, out = [np.zeros(0)], []
    while model.running:
        model.step()
        if model.hour % hours == 0 or not model.running:
            now = _worked_minutes(model)
            before = np.pad(marks[-1], (0, now.size - marks[-1].size))
            out.append(now - before)
            marks.append(now)
    return out


def test_ai_raters_are_paid_their_hourly_rate_and_stop_at_the_weekly_cap():
    # many full-timers, so that the 26-hour cap binds for some
    busy = ["workers.weekly_hours_median_main=45", "population.main_income_share=1.0"]
    common = ["scenario=ai_rating_programme", "population.n_workers=300", "sim.days=14", *busy]
    capped = _model(*common)
    weeks = _by_period(capped, 168)
    check_all(capped)
    W = capped.workers
    paid = W.m_paid[: W.n] > 30  # half an hour of settled work or more
    assert paid.sum() > 20
    wage = W.earned_micro[: W.n][paid] / MICRO / (W.m_paid[: W.n][paid] / 60)
    np.testing.assert_allclose(wage, 14.0, rtol=1e-4)  # the hourly rate, whatever the task
    assert max(w.max() for w in weeks) <= 26 * 60 + 1e-6  # nobody works past the cap
    assert max(w.max() for w in weeks) > 0.98 * 26 * 60  # ... and it binds
    # without the cap, some full-timers work longer weeks (the test above can fail)
    free = _model(*common, "platform.weekly_hours_cap=null")
    assert max(w.max() for w in _by_period(free, 168)) > 26 * 60


def test_foule_factory_workers_stop_at_the_monthly_earnings_cap():
    cap_usd = 15.0  # a small cap, so that it binds in a small market
    common = ["scenario=foule_factory", "population.n_workers=300", "sim.days=30",
              "market.demand_ratio=1.0", "workers.weekly_hours_median_side=10"]  # fmt: skip
    m = _model(*common, f"platform.monthly_earnings_cap_usd={cap_usd}")
    W = m.workers
    m.run(20 * 24)
    blocked = np.flatnonzero(W.month_allowance[: W.n] == 0)  # at the cap after 20 days
    assert blocked.size > 0
    minutes_then = _worked_minutes(m)[blocked]
    m.run()
    check_all(m)
    # they stopped: no minute worked since (work moving from pending to paid adds up the same)
    np.testing.assert_allclose(_worked_minutes(m)[blocked], minutes_then, rtol=0, atol=1e-9)
    # earnings accrued in the month (paid + awaiting review) stay within the cap, to the micro-dollar
    accrued = W.earned_micro[: W.n] + W.pending_value_micro[: W.n]
    assert accrued.max() <= cap_usd * MICRO
    assert accrued.max() > 0.9 * cap_usd * MICRO
    # without the cap, some earn more (the test above can fail)
    free = _model(*common).run()
    assert (free.workers.earned_micro + free.workers.pending_value_micro).max() > cap_usd * MICRO


# ---------------------------------------------------------------------------- the batch surcharge
def _batches(hours, **kw):
    """Every batch row posted in the first ``hours`` of a 400-worker market with batches of about
    a dozen assignments (on both sides of the surcharge's 10), nobody splitting."""
    dozen = dict.fromkeys(
        ("survey", "data_lookup", "transcription", "image_labelling", "content_moderation",
         "engagement_clicks"), 12.0,
    )  # fmt: skip
    m = CrowdWorkModel(
        create_agents=False, population__n_workers=400, sim__days=2, seed=4,
        requesters__split_batches_prob=0.0, market__type_batch_median=dozen, **kw,
    )  # fmt: skip
    B, cols = (
        m.batches,
        ("task_type", "size", "hits", "assignments_per_hit", "reward_micro", "fee_micro"),
    )
    got = {c: [] for c in cols}
    for _ in range(hours):
        m.step()
        new = np.flatnonzero(B.in_use[: B.n] & (B.posted_hour[: B.n] == m.hour - 1))
        for c in cols:
            got[c].append(getattr(B, c)[new].copy())
    return m, {c: np.concatenate(v) for c, v in got.items()}


def test_batch_surcharge_falls_only_on_hits_of_ten_or_more_assignments():
    """Amazon's rule counts the assignments of one HIT, and a worker may do one assignment of a
    HIT: a batch of tasks a worker may do many of (lookups, labels) is HITs of one assignment,
    never surcharged; a survey of 12 responses is one HIT of 12. Counted so, only HITs of 10+
    assignments pay the +20% (fee) or are posted smaller for it (same seed, same batches,
    against no surcharge at all)."""
    m, hit = _batches(24, platform__batch_surcharge_counts="hit")
    _, none = _batches(24, platform__batch_surcharge_counts="hit", platform__batch_surcharge=0.0)
    assert hit["size"].size == none["size"].size > 30  # the same batches drawn
    many = m.type_max_per_worker[hit["task_type"]] > 1
    assert many.any() and (~many).any()
    assert (hit["assignments_per_hit"][many] == 1).all()
    assert np.array_equal(hit["hits"][many], hit["size"][many])
    large = hit["assignments_per_hit"] >= 10
    assert large.any() and (~large).any()
    reward = hit["reward_micro"] / MICRO
    assert np.array_equal(
        hit["fee_micro"][large], np.rint(np.maximum(0.40 * reward[large], 0.01) * MICRO)
    )
    assert np.array_equal(
        hit["fee_micro"][~large], np.rint(np.maximum(0.20 * reward[~large], 0.01) * MICRO)
    )
    # the fee is a cost on top of the reward (market/post.py): rewards are the same, and the
    # surcharged HITs are smaller, requesters posting only the tasks still worth their cost
    assert np.array_equal(hit["reward_micro"], none["reward_micro"])
    assert (hit["size"] <= none["size"]).all()
    assert np.array_equal(hit["size"][none["size"] < 10], none["size"][none["size"] < 10])
    assert (hit["size"][none["size"] >= 10] < none["size"][none["size"] >= 10]).any()
    # counting a batch's assignments as one HIT's (the earlier rule), the surcharge also cuts
    # batches that end up posting fewer than 10
    _, batch = _batches(24, platform__batch_surcharge_counts="batch")
    _, batch_none = _batches(
        24, platform__batch_surcharge_counts="batch", platform__batch_surcharge=0.0
    )
    assert batch["size"].size == batch_none["size"].size
    small = batch["assignments_per_hit"] < 10
    assert (batch["size"][small] < batch_none["size"][small]).any()


def test_prolific_rules_as_a_reform_start_at_its_day():
    """The status quo turned into prolific_like on day 1: the median rule and the waitlist start
    at the reform's first hour, not before, and money stays conserved across it."""
    m = _model("reform=to_prolific_like", "sim.reform_day=1", "sim.days=3")
    while m.hour < 24:
        m.step()
        assert m.top_ups is None and m.waitlist == 0
    m.step()  # the reform's first hour
    assert m.top_ups is not None and m.config.platform.min_pay_mode == "median_top_up"
    assert m.waitlist + m.counters.workers_admitted == 200  # as many waiting as in the pool
    m.run()
    check_all(m)
    waiting = m.results().timeseries["workers_waiting"].to_numpy()
    assert (waiting[:24] == 0).all() and waiting[24] == 200
