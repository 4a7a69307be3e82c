"""A Fairwork-style scorecard per scenario, for the thresholds crowdsim can speak to.

Fairwork rates cloudwork platforms on five principles with two thresholds each (Fairwork
Cloudwork Principles, 2021 and June 2024 versions; Fairwork Cloudwork Ratings 2023: MTurk 0/10,
the best platforms 5/10). The second threshold of a principle is only awarded with the first.
Fairwork awards points on verified evidence of platform policy; crowdsim can instead check a
scenario's *rules* and its simulated *outcomes*. Each point below states the rule crowdsim
applies; thresholds crowdsim cannot assess (health and safety, employment status and terms of
service, representation) are reported as not assessed rather than scored.

Outcomes are means over seeds. The numeric thresholds marked *assumption* are crowdsim's reading
of Fairwork's qualitative wording.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

VAST_MAJORITY = 0.8  # assumption: Fairwork 1.2's "vast majority of workers" read as 80%
MAX_PAYMENT_DAYS = 21.0  # assumption: "an agreed timeframe" read as at most Prolific's 21 days
MAX_UNPAID_SHARE = 0.25  # assumption: at most a quarter of working time unpaid
MAX_UNJUSTIFIED_RATE = 0.005  # assumption: CloudResearch (2020): ~90% of researchers reject < 1%


@dataclass(frozen=True)
class Point:
    code: str
    principle: str
    title: str
    rule: str  # how crowdsim decides, in words
    check: (
        Callable[[dict, dict], bool] | None
    )  # (platform rules, mean outcomes) -> awarded; None: not assessed


def _deadline_days(p: dict) -> float:
    if p.get("payment_guarantee") == "escrow":
        return float(p.get("escrow_auto_approval_days", float("inf")))
    if p.get("payment_guarantee") == "auto_approval":
        return float(p.get("auto_approval_days", float("inf")))
    return float("inf")


def _le(x, limit) -> bool:
    return x is not None and x == x and x <= limit


def _ge(x, limit) -> bool:
    return x is not None and x == x and x >= limit


POINTS: tuple[Point, ...] = (
    Point(
        "1.1",
        "Fair pay",
        "Paid on time and for all completed work",
        "a payment guarantee (auto-approval or escrow) with a deadline of at most "
        f"{MAX_PAYMENT_DAYS:g} days (assumption), no value of submitted work left unpaid in any seed, "
        "and a rejection process: rejections must state a reason",
        lambda p, o: (
            p.get("payment_guarantee") in ("auto_approval", "escrow")
            and _deadline_days(p) <= MAX_PAYMENT_DAYS
            and _le(o.get("value_never_paid_share_max"), 0.0)
            and bool(p.get("reason_required"))
        ),
    ),
    Point(
        "1.2",
        "Fair pay",
        "Paid at least the local minimum wage",
        f"at least {VAST_MAJORITY:.0%} of workers (assumption for 'the vast majority') earn their local "
        "minimum wage per hour of all working time, unpaid search, returns and rejections included, after fees",
        lambda p, o: _ge(o.get("share_above_local_min_wage"), VAST_MAJORITY),
    ),
    Point(
        "2.1",
        "Fair conditions",
        "Risks to workers are mitigated",
        "not assessed: crowdsim does not model health and safety risks",
        None,
    ),
    Point(
        "2.2",
        "Fair conditions",
        "Precarity and overwork are mitigated",
        f"crowdsim's proxy: at most {MAX_UNPAID_SHARE:.0%} of working time is unpaid (assumption)",
        lambda p, o: _le(o.get("unpaid_time_share"), MAX_UNPAID_SHARE),
    ),
    Point(
        "3.1",
        "Fair contracts",
        "Clear terms and conditions are available",
        "not assessed: crowdsim does not model terms of service",
        None,
    ),
    Point(
        "3.2",
        "Fair contracts",
        "Contracts are consistent with the terms of engagement",
        "not assessed: crowdsim does not model contracts or employment status",
        None,
    ),
    Point(
        "4.1",
        "Fair management",
        "Due process for decisions affecting workers",
        "rejections state a reason, workers can appeal them, and unjustified rejections stay below "
        f"{MAX_UNJUSTIFIED_RATE:.1%} of judged work (assumption)",
        lambda p, o: (
            bool(p.get("reason_required"))
            and bool(p.get("appeals"))
            and _le(o.get("unjustified_rejection_rate"), MAX_UNJUSTIFIED_RATE)
        ),
    ),
    Point(
        "4.2",
        "Fair management",
        "Equity in the management process",
        "no work is closed to workers by country (platform.restricted_share = 0)",
        lambda p, o: float(p.get("restricted_share", 0.0)) == 0.0,
    ),
    Point(
        "5.1",
        "Fair representation",
        "Access to representation and freedom of association",
        "not assessed: crowdsim does not model worker organisation",
        None,
    ),
    Point(
        "5.2",
        "Fair representation",
        "Collective governance or bargaining",
        "not assessed: crowdsim does not model worker organisation",
        None,
    ),
)


# Fairwork's five cloudwork principles, in its order; each is worth 2 points (its two thresholds),
# so a platform scores out of 10 (Fairwork Cloudwork Ratings 2023)
PRINCIPLES: tuple[str, ...] = tuple(dict.fromkeys(pt.principle for pt in POINTS))
MAX_SCORE = 2 * len(PRINCIPLES)


def score(platform: dict, outcomes: dict) -> dict[str, bool | None]:
    """Points awarded (True/False) or not assessed (None), by code. A second threshold is only
    awarded when the first of the same principle is (when the first is assessed)."""
    out: dict[str, bool | None] = {}
    for pt in POINTS:
        if pt.check is None:
            out[pt.code] = None
            continue
        ok = bool(pt.check(platform, outcomes))
        first = pt.code.split(".")[0] + ".1"
        if pt.code.endswith(".2") and out.get(first) is False:
            ok = False
        out[pt.code] = ok
    return out


def total(points: dict[str, bool | None]) -> tuple[int, int]:
    """(points awarded, points assessed)."""
    assessed = [v for v in points.values() if v is not None]
    return sum(bool(v) for v in assessed), len(assessed)
