"""Validation declared beside the fields: every option's bounds checked by one walker, NaN and
infinities refused everywhere, cross-field rules by name, and a suggestion for misspelt keys."""

import copy
import math
from dataclasses import dataclass

import pytest

from crowdsim.config import (
    RULES,
    ConfigError,
    CrowdSimConfig,
    check_key_exists,
    check_option,
    opt,
    schema,
    share,
    validate,
)

OPTIONS = list(schema())
NUMERIC = [o for o in OPTIONS if o.type in (int, float) or "float" in str(o.type)]


def _set(cfg, dotted, value):
    *path, last = dotted.split(".")
    node = cfg
    for p in path:
        node = getattr(node, p)
    setattr(node, last, value)


def test_defaults_pass_and_every_option_is_declared_with_opt():
    validate(CrowdSimConfig())
    assert len(OPTIONS) > 90
    for o in OPTIONS:
        assert {"ge", "gt", "le", "lt", "choices", "keys", "finite", "doc"} <= set(o.meta), o.name


@pytest.mark.parametrize("option", NUMERIC, ids=lambda o: o.name)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_refused_naming_the_option(option, bad):
    cfg = CrowdSimConfig()
    value = copy.deepcopy(getattr_dotted(cfg, option.name))
    if isinstance(value, list):
        value = [bad]
        key = option.name
    elif isinstance(value, dict):
        k = next(iter(value), "survey")
        value = {**value, k: bad}
        key = f"{option.name}.{k}"
    else:
        value, key = bad, option.name
    _set(cfg, option.name, value)
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert err.value.option == key and "\n" not in str(err.value)


def getattr_dotted(cfg, dotted):
    for p in dotted.split("."):
        cfg = getattr(cfg, p)
    return cfg


@pytest.mark.parametrize(
    "option", [o for o in NUMERIC if o.type in (int, float)], ids=lambda o: o.name
)
def test_each_bound_is_enforced_just_outside_and_shown_in_the_message(option):
    m = option.meta
    outside = []

    def step(bound):  # the nearest value beyond a bound
        return 1 if option.type is int else max(1e-9, abs(bound) * 1e-9)

    if m["ge"] is not None:
        outside.append(m["ge"] - step(m["ge"]))
    if m["gt"] is not None:
        outside.append(m["gt"])
    if m["le"] is not None:
        outside.append(m["le"] + step(m["le"]))
    if m["lt"] is not None:
        outside.append(m["lt"])
    for value in outside:
        with pytest.raises(ConfigError) as err:
            check_option(option, value)
        assert err.value.option == option.name
        assert str(err.value).startswith(f"invalid value for option '{option.name}': ")
        assert "(allowed: " in str(err.value)


def test_wrong_types_are_refused():
    by_name = {o.name: o for o in OPTIONS}
    for name, value in [
        ("seed", 1.5),
        ("seed", True),
        ("sim.days", "7"),
        ("platform.commission", "0.1"),
        ("platform.appeals", 1),
        ("platform.listing", 3),
        ("population.countries", "US"),
        ("market.type_shares", [0.5]),
    ]:
        with pytest.raises(ConfigError, match=name.replace(".", r"\.")):
            check_option(by_name[name], value)


def test_money_is_bounded_so_micro_dollar_sums_cannot_overflow():
    cfg = CrowdSimConfig()
    cfg.platform.commission_min_usd = 1e300
    with pytest.raises(ConfigError, match="commission_min_usd"):
        validate(cfg)


def test_one_line_declares_a_new_option_with_its_bounds():
    @dataclass
    class Extra:
        patience_days: float = opt(7.0, gt=0, le=365, doc="assumption")
        mode: str = opt("a", choices=("a", "b"))
        weights: dict[str, float] = opt({"x": 1.0}, ge=0, keys=("x", "y"))
        p: float = share(0.5)

    opts = {o.name: o for o in schema(Extra, "extra.")}
    assert set(opts) == {"extra.patience_days", "extra.mode", "extra.weights", "extra.p"}
    check_option(opts["extra.patience_days"], 30.0)
    for name, value, allowed in [
        ("extra.patience_days", 0, "a number > 0 and <= 365"),
        ("extra.patience_days", math.nan, "a finite number > 0 and <= 365"),
        ("extra.mode", "c", "a, b"),
        ("extra.p", 1.5, "a number between 0.0 and 1.0"),
    ]:
        with pytest.raises(ConfigError) as err:
            check_option(opts[name], value)
        assert (
            str(err.value) == f"invalid value for option '{name}': {value!r} (allowed: {allowed})"
        )
    with pytest.raises(ConfigError, match=r"'extra\.weights\.z'.*keys among x, y"):
        check_option(opts["extra.weights"], {"z": 1.0})
    assert Extra().weights is not Extra().weights  # a dict default is copied


@pytest.mark.parametrize(
    ("changes", "option"),
    [
        ({"population.countries": []}, "population.countries"),
        ({"population.countries": ["US", "US"]}, "population.countries"),
        (
            {
                "population.country_mix": "custom",
                "population.shares": {"FR": 1.0},
                "population.countries": ["US"],
            },
            "population.shares.FR",
        ),
        ({"population.country_mix": "custom", "population.shares": {}}, "population.shares"),
        ({"platform.commission_tier_rates": [0.2, 0.1]}, "platform.commission_tier_rates"),
        (
            {
                "platform.commission_tiers_usd": [500.0, 100.0],
                "platform.commission_tier_rates": [0.2, 0.1, 0.05],
            },
            "platform.commission_tiers_usd",
        ),
        ({"requesters.pay_mean_usd_per_hour": 3.0}, "requesters.pay_mean_usd_per_hour"),
        ({"requesters.review_shares": {"prompt": 0.0}}, "requesters.review_shares"),
        (
            {"market.type_duration_minutes": {"survey": 10.0}},
            "market.type_duration_minutes.data_lookup",
        ),
    ],
)
def test_cross_field_rules_name_the_option_to_change(changes, option):
    cfg = CrowdSimConfig()
    for k, v in changes.items():
        _set(cfg, k, v)
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert err.value.option == option


def test_rules_have_distinct_names():
    names = [r.name for r in RULES]
    assert len(set(names)) == len(names) and all(names)


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [
        ("platfrom.commission", "platform.commission"),
        ("platform.comission", "platform.commission"),
        ("comission", "platform.commission"),
        ("sim.dayz", "sim.days"),
        ("seeed", "seed"),
        ("workers.reservation_wage_median", "workers.reservation_wage_median_usd"),
    ],
)
def test_misspelt_keys_get_a_suggestion_that_exists(key, suggestion):
    with pytest.raises(ConfigError) as err:
        check_key_exists(None, key)
    assert f"did you mean '{suggestion}'" in str(err.value)
    check_key_exists(None, suggestion)
