"""The crowdsim browser app: a Mesa/Solara page to explore a crowd-work market.

Start it with ``crowdsim-app`` (see :mod:`crowdsim.viz.launch`), or ``solara run
crowdsim.viz.app:Page``, or show ``Page()`` in a notebook cell.

In the sidebar you choose a scenario (the files in ``crowdsim/conf/scenario/``) and, on top of it, the
platform's levers: commission, rejection transparency, payment guarantee, minimum pay and the
qualification gate; then the number of workers and the seed. "as in scenario" keeps the scenario
file's value. Press **Reset** to start a new market with them; **Step** simulates one hour
(or "Hours per Step" hours), ▶ runs until paused, and the buttons in the first card run a day
or a week at once. :func:`RunControls` drives the model as Mesa's ``ModelController`` does, and
disables every run button with a message ("press Reset") once the run reaches its last hour.

Beside the market the page runs the same rules with the next seed (``AppModel.twin``): the
headline gives its numbers and the plots draw it dashed, to show how much is chance. Below the
plots, "Compare two rule sets" runs the status quo and a chosen scenario with the same seed and
size, and shows their difference next to the difference chance alone makes.

The time series are model-level aggregates collected once an hour by a Mesa ``DataCollector``
(no per-agent reporters), drawn against days by :mod:`crowdsim.viz.components`, with the
wage-by-country box plot.
"""

from __future__ import annotations

import inspect
import os
import threading
import time
from pathlib import Path
from typing import Any

import mesa
import numpy as np
import solara
from mesa.visualization.utils import force_update, update_counter

from crowdsim import checkpoint, scenarios
from crowdsim.checkpoint import CheckpointError
from crowdsim.config import ConfigError, CrowdSimConfig, to_config
from crowdsim.ledger import MICRO
from crowdsim.metrics.summary import workers_frame
from crowdsim.model import CrowdWorkModel
from crowdsim.viz import launch
from crowdsim.viz.components import (
    Headline,
    comparison_figure,
    comparison_numbers,
    comparison_rows,
    time_series_figure,
    wage_by_country_figure,
)

AS_SCENARIO = "as in scenario"

# Each lever: the label shown in the sidebar and its choices -> config overrides (dotted names).
LEVERS: dict[str, dict[str, Any]] = {
    "commission": {
        "label": "Commission (on the reward)",
        "choices": {
            AS_SCENARIO: {},
            "0%": {"platform.commission": 0.0},
            "10% (MTurk until July 2015)": {"platform.commission": 0.10},
            "20% (MTurk since July 2015)": {"platform.commission": 0.20},
            "30%": {"platform.commission": 0.30},
            "40%": {"platform.commission": 0.40},
        },
    },
    "transparency": {
        "label": "Rejection transparency",
        "choices": {
            AS_SCENARIO: {},
            "opaque (no reason, no appeal)": {
                "platform.reason_required": False,
                "platform.public_requester_stats": False,
                "platform.appeals": False,
            },
            "reason required": {
                "platform.reason_required": True,
                "platform.public_requester_stats": False,
                "platform.appeals": False,
            },
            "reason + public requester statistics": {
                "platform.reason_required": True,
                "platform.public_requester_stats": True,
                "platform.appeals": False,
            },
            "reason + statistics + appeals": {
                "platform.reason_required": True,
                "platform.public_requester_stats": True,
                "platform.appeals": True,
            },
        },
    },
    "payment_guarantee": {
        "label": "Payment guarantee",
        "choices": {
            AS_SCENARIO: {},
            "none (requester may never pay)": {"platform.payment_guarantee": "none"},
            "auto-approval after 30 days (MTurk)": {
                "platform.payment_guarantee": "auto_approval",
                "platform.auto_approval_days": 30.0,
            },
            "auto-approval after 21 days (Prolific)": {
                "platform.payment_guarantee": "auto_approval",
                "platform.auto_approval_days": 21.0,
            },
            "escrow + 3-day auto-approval": {"platform.payment_guarantee": "escrow"},
        },
    },
    "min_pay": {
        "label": "Minimum pay",
        "choices": {
            AS_SCENARIO: {},
            "none": {"platform.min_pay_mode": "none"},
            "$8/h on the requester's estimate (Prolific)": {
                "platform.min_pay_mode": "estimated",
                "platform.min_pay_usd_per_hour": 8.0,
            },
            "$8/h on the measured median time": {
                "platform.min_pay_mode": "measured",
                "platform.min_pay_usd_per_hour": 8.0,
            },
            "$8/h, topped up at the median completion time (Prolific's rule)": {
                "platform.min_pay_mode": "median_top_up",
                "platform.min_pay_usd_per_hour": 8.0,
            },
            "$12/h on the measured median time": {
                "platform.min_pay_mode": "measured",
                "platform.min_pay_usd_per_hour": 12.0,
            },
        },
    },
    "qualification_gate": {
        "label": "Qualification gate",
        "choices": {
            AS_SCENARIO: {},
            "none": {"platform.qualification_share": 0.0},
            "30% of tasks need 95% approval, 100 tasks": {"platform.qualification_share": 0.3},
            "60% of tasks need 95% approval, 100 tasks": {"platform.qualification_share": 0.6},
            "90% of tasks need 95% approval, 100 tasks": {"platform.qualification_share": 0.9},
        },
    },
}

# the sidebar's starting population and the run's length (defaults and why: crowdsim.viz.launch);
# `crowdsim-app --workers N --days D` sets them through these variables
DEFAULT_N_WORKERS = int(os.environ.get("CROWDSIM_APP_N_WORKERS", str(launch.DEFAULT_WORKERS)))
MAX_N_WORKERS = launch.MAX_WORKERS
UNPAID_KINDS = ("search", "returned", "rejected", "never_paid")
DEFAULT_DAYS = int(os.environ.get("CROWDSIM_APP_DAYS", str(launch.DEFAULT_DAYS)))
PLOT_FORMAT = "svg"  # vector images: cheaper to make than PNG and sharp at any size


def available_scenarios() -> list[str]:
    """Names of the scenario files in ``crowdsim/conf/scenario/`` (status_quo first)."""
    return scenarios.names()


def _scenario_container(scenario: str) -> dict:
    """The composed Hydra config of a scenario as a plain dict (composed once per scenario)."""
    return scenarios.composed(scenario)


def lever_overrides(**levers: str) -> dict[str, Any]:
    """Config overrides (dotted names) for lever choices, e.g. ``lever_overrides(commission="40%")``."""
    out: dict[str, Any] = {}
    for name, choice in levers.items():
        if name not in LEVERS:
            raise ConfigError(name, choice, ", ".join(LEVERS))
        choices = LEVERS[name]["choices"]
        if choice not in choices:
            raise ConfigError(name, choice, ", ".join(repr(c) for c in choices))
        out.update(choices[choice])
    return out


def compose_config(
    scenario: str = "status_quo",
    *,
    n_workers: int = DEFAULT_N_WORKERS,
    seed: int = 0,
    days: int = DEFAULT_DAYS,
    **levers: str,
) -> CrowdSimConfig:
    """A validated config: the scenario file, then the lever choices, size, horizon and seed."""
    overrides = lever_overrides(**levers)
    overrides |= {"population.n_workers": int(n_workers), "seed": int(seed), "sim.days": int(days)}
    return to_config(
        _scenario_container(scenario), **{k.replace(".", "__"): v for k, v in overrides.items()}
    )


def _hourly(name: str):
    return lambda m: float(m.series[name][m.hour - 1]) if m.hour else 0.0


def _percent(num: float, den: float) -> float:
    return 100.0 * num / den if den > 0 else 0.0


# Rejection rates are drawn once this many assignments have been reviewed: over the first few
# reviews one rejection is 10-20% and the spike squashed the rest of the curve (a display choice)
MIN_REVIEWED = 100


def _rejection_percent(m, counter: str) -> float:
    reviewed = m.counters["assignments_rejected"] + m.counters["assignments_approved"]
    if reviewed < MIN_REVIEWED:
        return float("nan")
    return _percent(m.counters[counter], reviewed)


MODEL_REPORTERS = {
    "Active workers": _hourly("active_workers"),
    "Open tasks": _hourly("tasks_open"),
    "Search": lambda m: 100.0 * m.unpaid_shares()["search"],
    "Returned": lambda m: 100.0 * m.unpaid_shares()["returned"],
    "Rejected": lambda m: 100.0 * m.unpaid_shares()["rejected"],
    "Never paid": lambda m: 100.0 * m.unpaid_shares()["never_paid"],
    "Rejection rate": lambda m: _rejection_percent(m, "assignments_rejected"),
    "Unjustified rejection rate": lambda m: _rejection_percent(
        m, "assignments_rejected_unjustified"
    ),
    "Paid to workers": lambda m: m.ledger.balance["worker_paid"] / MICRO,
    "Awaiting payment": lambda m: float(m.workers.pending_value_micro[: m.workers.n].sum()) / MICRO,
    "Good work rejected": lambda m: m.counters["value_good_rejected_micro"] / MICRO,
    "Platform revenue": lambda m: m.ledger.balance["platform_fees"] / MICRO,
}


class AppModel(CrowdWorkModel):
    """A :class:`~crowdsim.model.CrowdWorkModel` built from the app's controls, with a Mesa
    ``DataCollector`` of model-level aggregates for the plots.

    Args:
        scenario_name: a file name in ``crowdsim/conf/scenario/`` without ``.yaml``, or its
            title (the sidebar's menu shows titles); the parameter is not called ``scenario``:
            Mesa models take a ``scenario`` object of their own.
        commission, transparency, payment_guarantee, min_pay, qualification_gate: a choice of
            :data:`LEVERS` (``"as in scenario"`` keeps the scenario's value).
        n_workers: initial worker pool.
        seed: random seed (an integer; text from the page is converted).
        days: simulated horizon in days.
        chance_twin: also run the same rules with seed + 1 alongside (``self.twin``), shown on the
            page as how much is chance.
    """

    def __init__(
        self,
        scenario_name: str = "status_quo",
        commission: str = AS_SCENARIO,
        transparency: str = AS_SCENARIO,
        payment_guarantee: str = AS_SCENARIO,
        min_pay: str = AS_SCENARIO,
        qualification_gate: str = AS_SCENARIO,
        n_workers: int = DEFAULT_N_WORKERS,
        seed: int | str = 0,
        days: int = DEFAULT_DAYS,
        chance_twin: bool = True,
    ):
        try:
            seed = int(str(seed).strip())
        except ValueError:
            raise ConfigError("seed", seed, "an integer >= 0") from None
        scenario_name = scenarios.name_of(scenario_name)
        levers = {
            "commission": commission,
            "transparency": transparency,
            "payment_guarantee": payment_guarantee,
            "min_pay": min_pay,
            "qualification_gate": qualification_gate,
        }
        cfg = compose_config(scenario_name, n_workers=n_workers, seed=seed, days=days, **levers)
        super().__init__(cfg)
        changed = [
            f"{LEVERS[k]['label'].split(' (')[0].lower()} {v}"
            for k, v in levers.items()
            if v != AS_SCENARIO
        ]
        self.title = scenarios.title(scenario_name)
        self.description = scenarios.description(scenario_name)
        self.label = f"scenario **{self.title}**" + (
            f" with {'; '.join(changed)}" if changed else ""
        )
        self.levers = levers
        self._table_cache: tuple[int, Any] | None = None
        self._unpaid_cache: tuple[int, dict] | None = None
        # the page may step the model from two places at once (▶ and "Run 1 day"): one hour at a time
        self._step_lock = threading.RLock()
        self.datacollector = mesa.DataCollector(model_reporters=MODEL_REPORTERS)
        self.datacollector.collect(self)
        # the same rules with the next seed, stepped alongside: how much of the page is chance
        self.twin: AppModel | None = (
            AppModel(
                scenario_name,
                **levers,
                n_workers=n_workers,
                seed=seed + 1,
                days=days,
                chance_twin=False,
            )  # fmt: skip
            if chance_twin
            else None
        )

    # built from the constructor's arguments, not saved in a market's file (crowdsim.checkpoint)
    checkpoint_derived = frozenset({"title", "description", "label", "levers", "twin"})

    def settings(self) -> dict[str, Any]:
        """The constructor's arguments that built this market (seed and size included)."""
        return {
            "scenario_name": self.scenario_name,
            **self.levers,
            "n_workers": int(self.initial_config.population.n_workers),
            "seed": int(self.initial_config.seed),
            "days": int(self.initial_config.sim.days),
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Save the market, its chance twin and the plotted history in one checkpoint file
        (:mod:`crowdsim.checkpoint`, written atomically); :meth:`load` reopens it."""
        with self._step_lock:
            extra = {"app": self.settings(), "collected": _collected(self)}
            companions = {}
            if self.twin is not None:
                extra["twin_collected"] = _collected(self.twin)
                companions["twin"] = self.twin
            return checkpoint.save(self, path, extra=extra, companions=companions)

    @classmethod
    def load(cls, path: str | os.PathLike) -> AppModel:
        """A market saved by :meth:`save`, at the hour it was saved, with its chance twin and
        its plots' history: stepping on gives what the saved market would have given.

        Raises:
            CheckpointError: the file is not a market saved by this crowdsim's app (one line).
        """
        meta, arrays = checkpoint.read(path)
        extra = checkpoint.extra(meta, arrays)
        if not isinstance(extra, dict) or not isinstance(extra.get("app"), dict):
            raise CheckpointError(f"{path} is a checkpoint, but not a market saved by the app")
        settings = extra["app"]
        unknown = set(settings) - set(inspect.signature(cls).parameters)
        if unknown:
            raise CheckpointError(f"{path}: unknown app setting {sorted(unknown)[0]!r}")
        model = cls(**settings, chance_twin=False)
        checkpoint.load_into(model, meta, arrays, source=str(path))
        _restore_collected(model, extra["collected"])
        if "twin" in meta.get("companions", {}):
            model.twin = cls(**{**settings, "seed": settings["seed"] + 1}, chance_twin=False)
            checkpoint.load_into(model.twin, meta, arrays, companion="twin", source=str(path))
            _restore_collected(model.twin, extra["twin_collected"])
        return model

    def step(self) -> None:
        with self._step_lock:
            if not self.running:  # the horizon is reached: nothing more to simulate
                return
            super().step()
            self.datacollector.collect(self)
            if self.twin is not None:
                self.twin.step()

    def worker_table(self):
        """:func:`crowdsim.metrics.summary.workers_frame` of the current hour (cached per hour)."""
        if self._table_cache is None or self._table_cache[0] != self.hour:
            self._table_cache = (self.hour, workers_frame(self))
        return self._table_cache[1]

    def unpaid_shares(self) -> dict[str, float | None]:
        """Unpaid working time so far by kind, as shares of all working time, paid and unpaid.

        Accrual basis, as in the run summaries: submitted work counts with its review outcome."""
        if self._unpaid_cache is None or self._unpaid_cache[0] != self.hour:
            wf = self.worker_table()
            hours = {k: float(wf[f"hours_{k}"].sum()) for k in UNPAID_KINDS}
            total = float(wf["hours_paid"].sum()) + sum(hours.values())
            # NaN before any work: the plot starts with the first hour of work, not at 0%
            shares: dict[str, float | None] = {
                k: (v / total if total > 0 else float("nan")) for k, v in hours.items()
            }
            shares["total"] = sum(hours.values()) / total if total > 0 else None
            self._unpaid_cache = (self.hour, shares)
        return self._unpaid_cache[1]


def _collected(model: AppModel) -> dict[str, np.ndarray]:
    """The plotted history (the DataCollector's model variables) as arrays."""
    return {k: np.asarray(v) for k, v in model.datacollector.model_vars.items()}


def _restore_collected(model: AppModel, collected: dict[str, np.ndarray]) -> None:
    if set(collected) != set(model.datacollector.model_vars):
        raise CheckpointError("the saved market's plotted measures are not this app's")
    if any(len(v) != model.hour + 1 for v in collected.values()):
        raise CheckpointError("the saved market's plotted history does not match its hour")
    model.datacollector.model_vars = {k: v.tolist() for k, v in collected.items()}


def _select(label: str, values: list[str], value: str) -> dict:
    return {"type": "Select", "label": label, "values": values, "value": value}


def model_params() -> dict[str, Any]:
    """The sidebar controls (Mesa ``SolaraViz`` ``model_params``)."""
    params: dict[str, Any] = {
        "scenario_name": _select(
            "Scenario",
            [scenarios.title(n) for n in available_scenarios()],
            scenarios.title("status_quo"),
        )
    }
    for name, lever in LEVERS.items():
        params[name] = _select(lever["label"], list(lever["choices"]), AS_SCENARIO)
    params["n_workers"] = {
        "type": "SliderInt",
        "label": "Workers",
        "value": DEFAULT_N_WORKERS,
        "min": 500,
        "max": max(MAX_N_WORKERS, DEFAULT_N_WORKERS),
        "step": 500,
    }
    params["seed"] = {"type": "InputText", "label": "Random seed", "value": "0"}
    params["days"] = DEFAULT_DAYS
    return params


# (key, measures and colours, title, y label): the time-series plots
TIME_SERIES = [
    ("workers", {"Active workers": "tab:blue"}, "Workers online (per hour)", "workers"),
    (
        "tasks",
        {"Open tasks": "tab:orange"},
        "Open tasks (assignments waiting for a worker)",
        "assignments",
    ),
    (
        "unpaid",
        {
            "Search": "tab:blue",
            "Returned": "tab:orange",
            "Rejected": "tab:red",
            "Never paid": "tab:gray",
        },
        "Unpaid working time by kind (so far)",
        "% of working time",
    ),
    (
        "rejections",
        {"Rejection rate": "tab:red", "Unjustified rejection rate": "tab:purple"},
        f"Rejections (so far, from the {MIN_REVIEWED}th reviewed task)",
        "% of reviewed tasks",
    ),
    (
        "payments",
        {
            "Paid to workers": "tab:green",
            "Awaiting payment": "tab:olive",
            "Good work rejected": "tab:red",
        },
        "Payments to workers (so far)",
        "USD",
    ),
    (
        "revenue",
        {"Platform revenue": "tab:brown"},
        "Platform revenue (commission so far)",
        "USD",
    ),
]


def time_series(model: AppModel, key: str):
    """The figure of time series ``key`` for ``model`` (and its chance twin, dashed)."""
    _key, measures, title, ylabel = next(ts for ts in TIME_SERIES if ts[0] == key)
    twin = model.twin.datacollector.get_model_vars_dataframe() if model.twin else None
    frame = model.datacollector.get_model_vars_dataframe()
    return time_series_figure(frame, measures, title, ylabel, twin=twin)


def _figure(fig, model: AppModel, key: str):
    return solara.FigureMatplotlib(
        fig, format=PLOT_FORMAT, dependencies=[update_counter.value, id(model), model.hour, key]
    )


@solara.component
def Dashboard(model: AppModel):
    """The main area: the headline card, then the plots in two columns (one on narrow screens),
    then the side-by-side comparison. Headline and plots are drawn in one pass from the same
    hour of the same model, so they always show the same state.

    A plain responsive grid: Mesa's draggable grid loads its script from a CDN at run time."""
    update_counter.get()
    figures = [("wages", wage_by_country_figure(model))]
    figures += [(key, time_series(model, key)) for key, *_ in TIME_SERIES]
    with solara.Column(style={"width": "100%"}) as main:
        Headline(model)
        with solara.ColumnsResponsive(default=12, large=6):
            for key, fig in figures:
                with solara.Card(classes=["crowdsim-plot", f"crowdsim-plot-{key}"], margin=0):
                    _figure(fig, model, key)
        CompareRules(model)
    return main


COMPARE_HORIZONS = {"1 day": 24, "1 week": 168, "4 weeks": 672}
BASELINE_SCENARIO = "status_quo"


def run_comparison(scenario: str, n_workers: int, seed: int, hours: int) -> dict[str, AppModel]:
    """Status quo and ``scenario`` with the same seed and size, plus the status quo with the
    next seed (what chance alone does), each run for ``hours``."""
    days = max(1, -(-hours // 24))
    models = {
        "status quo": AppModel(
            BASELINE_SCENARIO, n_workers=n_workers, seed=seed, days=days, chance_twin=False
        ),
        scenario: AppModel(scenario, n_workers=n_workers, seed=seed, days=days, chance_twin=False),
        "chance": AppModel(
            BASELINE_SCENARIO, n_workers=n_workers, seed=seed + 1, days=days, chance_twin=False
        ),
    }
    for m in models.values():
        m.run(hours)
    return models


def comparison_html(models: dict[str, AppModel], scenario: str) -> str:
    """The comparison table (HTML): status quo, the other rules, their difference, and the
    difference chance alone makes."""
    import html as _html

    base, other, chance = (
        comparison_numbers(models[k]) for k in ("status quo", scenario, "chance")
    )
    rows = comparison_rows(base, other, chance)
    seed = models["status quo"].config.seed
    from crowdsim.scenarios import title as scenario_title

    head = (
        f"<tr><th>measure</th><th>{scenario_title(BASELINE_SCENARIO)}</th>"
        f"<th>{_html.escape(scenario_title(scenario))}</th><th>difference</th>"
        f"<th>chance alone (status quo, seed {seed + 1} − seed {seed})</th></tr>"
    )
    body = "".join(
        f'<tr data-key="{r["key"]}"><td>{_html.escape(r["label"])}</td><td>{r["status_quo"]}</td>'
        f"<td>{r['other']}</td><td><b>{r['difference']}</b>"
        f"{' (larger than chance)' if r['beyond_chance'] else ''}</td><td>{r['chance']}</td></tr>"
        for r in rows
    )
    hours = models["status quo"].hour
    span = f"{hours} hours" if hours < 48 else f"{hours // 24} days"
    return (
        f"<p>After {span} "
        f"({models['status quo'].config.population.n_workers:,} workers, seed {seed}, same "
        "workers and requesters at the start in both):</p>"
        f'<table class="crowdsim-compare-table">{head}{body}</table>'
    )


@solara.component
def CompareRules(model: AppModel):
    """Compare two rule sets side by side: the status quo against a chosen scenario, same seed
    and size as the page's market, with the difference and what chance alone does."""
    from crowdsim.scenarios import title as scenario_title

    titles = {scenario_title(s): s for s in available_scenarios() if s != BASELINE_SCENARIO}
    ids = list(titles.values())
    scenario, set_scenario = solara.use_state("min_pay" if "min_pay" in ids else ids[0])
    horizon, set_horizon = solara.use_state("1 week")
    result, set_result = solara.use_state(None)
    busy, set_busy = solara.use_state(False)

    def compare():
        set_busy(True)
        try:
            models = run_comparison(
                scenario,
                model.config.population.n_workers,
                model.config.seed,
                COMPARE_HORIZONS[horizon],
            )
            set_result((scenario, models))
        finally:
            set_busy(False)

    with solara.Card("Compare two rule sets side by side", classes=["crowdsim-compare"]) as card:
        solara.Text(
            "The status quo against another scenario, with this page's number of workers and seed "
            "(the same workers and requesters at the start), and beside it the status quo with the next "
            "seed: a difference no larger than that is chance. Differences of percentages are in "
            "pp, percentage points (25% to 30% is +5 pp).",
            style={"font-size": "0.9em", "color": "#555"},
        )
        with solara.Row():
            solara.Select(
                "Compare the status quo with",
                values=list(titles),
                value=scenario_title(scenario),
                on_value=lambda title: set_scenario(titles[title]),
            )
            solara.Select(
                "Over", values=list(COMPARE_HORIZONS), value=horizon, on_value=set_horizon
            )
            solara.Button("Run the comparison", on_click=compare, disabled=busy, color="primary")
        solara.Text(
            f"{scenario_title(scenario)}: {scenarios.description(scenario)}",
            classes=["crowdsim-compare-description"],
            style={"font-size": "0.85em", "color": "#555"},
        )
        if result is not None:
            name, models = result
            solara.HTML(tag="div", unsafe_innerHTML=comparison_html(models, name))
            shown = {
                scenario_title(BASELINE_SCENARIO): models["status quo"],
                scenario_title(name): models[name],
            }
            fig = comparison_figure(shown)
            with solara.Div(classes=["crowdsim-compare-plot"]):
                solara.FigureMatplotlib(fig, format=PLOT_FORMAT, dependencies=[id(models[name])])
    return card


def _slider_label(label: str, value: int) -> str:
    return f"{label}: {value:,}"


@solara.component
def RulesForm(params: dict, values: solara.Reactive[dict]):
    """The sidebar's scenario, levers, size and seed (``model_params``), applied on Reset.

    Mesa's own form is not used: its sliders show no value."""
    adjustable = {k: v for k, v in params.items() if isinstance(v, dict) and "type" in v}
    fixed = {k: v for k, v in params.items() if k not in adjustable}
    solara.use_effect(
        lambda: values.set({**fixed, **{k: v["value"] for k, v in adjustable.items()}}), []
    )
    current = {**{k: v["value"] for k, v in adjustable.items()}, **values.value}

    def setter(name):
        return lambda value: values.set({**values.value, name: value})

    for name, p in adjustable.items():
        if p["type"] == "Select":
            solara.Select(
                p["label"], values=p["values"], value=current[name], on_value=setter(name)
            )
        elif p["type"] == "SliderInt":
            solara.SliderInt(
                _slider_label(p["label"], int(current[name])), value=int(current[name]), min=p["min"],
                max=p["max"], step=p["step"], thumb_label=True, on_value=setter(name),
            )  # fmt: skip
        elif p["type"] == "InputText":
            solara.InputText(p["label"], value=str(current[name]), on_value=setter(name))


def markets_dir() -> Path:
    """Where the page saves markets and lists them to reload: ``crowdsim-app --markets DIR``
    (the variable ``CROWDSIM_APP_MARKETS``), by default ``crowdsim-markets`` in the folder the
    app was started from."""
    return Path(os.environ.get("CROWDSIM_APP_MARKETS", "crowdsim-markets"))


def saved_markets(folder: Path) -> list[str]:
    """The market files in ``folder``, newest first."""
    files = [p for p in folder.glob(f"*{checkpoint.SUFFIX}") if p.is_file()]
    return [p.name for p in sorted(files, key=lambda p: (-p.stat().st_mtime, p.name))]


def market_file_name(model: AppModel) -> str:
    """``<scenario>-seed<seed>-<workers>w-day<d>h<h>.npz``: what the market is and its hour."""
    n = model.initial_config.population.n_workers
    return (
        f"{model.scenario_name}-seed{model.initial_config.seed}-{n}w-"
        f"day{model.hour // 24}h{model.hour % 24}{checkpoint.SUFFIX}"
    )


@solara.component
def SavedMarkets(model: solara.Reactive[AppModel]):
    """Save the market as it stands (its chance twin and plots too) and reload a saved one, to
    go on from it later or to try other steps from the same point. Files go to
    :func:`markets_dir`; the last saved one can also be downloaded. Not drawn again at every
    simulated hour (it reads no ``update_counter``): the folder is listed when the card is drawn
    and after a save, not once an hour while the market plays."""
    folder = markets_dir()
    message = solara.use_reactive(None)
    error = solara.use_reactive(None)
    last = solara.use_reactive(None)
    choices = saved_markets(folder) if folder.is_dir() else []
    chosen = solara.use_reactive(None)
    selected = chosen.value if chosen.value in choices else (choices[0] if choices else None)

    def save():
        error.value = None
        try:
            path = model.value.save(folder / market_file_name(model.value))
        except (OSError, CheckpointError) as exc:
            error.value = f"could not save the market: {exc}"
            return
        last.value = str(path)
        chosen.value = path.name
        message.value = f"Saved to {path} ({path.stat().st_size / 1e6:.1f} MB)."

    def reload():
        error.value = None
        try:
            model.value = AppModel.load(folder / selected)
        except (OSError, CheckpointError, ConfigError) as exc:
            error.value = f"could not reload {selected}: {exc}"
            return
        message.value = (
            f"Reloaded {selected}: day {model.value.hour // 24}, hour {model.value.hour % 24}."
        )

    with solara.Card("Save or reload a market", classes=["crowdsim-markets"]):
        solara.Button("Save this market", on_click=save, color="primary")
        if last.value:
            solara.FileDownload(
                lambda: Path(last.value).read_bytes(),
                filename=Path(last.value).name,
                label="Download the saved file",
            )
        solara.Select("Saved markets", values=choices, value=selected, on_value=chosen.set)
        solara.Button("Reload", on_click=reload, disabled=selected is None, color="primary")
        if message.value:
            solara.Info(message.value, dense=True, classes=["crowdsim-markets-message"])
        if error.value:
            solara.Error(error.value, classes=["crowdsim-markets-error"])


PAGE_CSS = """
.crowdsim-compare-table{border-collapse:collapse;font-size:0.9em;margin:6px 0}
.crowdsim-compare-table td,.crowdsim-compare-table th{border:1px solid #ccc;padding:2px 8px;text-align:right}
.crowdsim-compare-table td:first-child,.crowdsim-compare-table th:first-child{text-align:left}
"""


def finished_message(model: AppModel) -> str | None:
    """The message shown once the run has reached its horizon (None while it runs)."""
    if model.running:
        return None
    return f"Run finished at day {model.n_hours // 24} — press Reset to start a new market."


@solara.component
def RunControls(
    model: solara.Reactive[AppModel],
    model_parameters: solara.Reactive[dict],
    play_interval: solara.Reactive[int],
    render_interval: solara.Reactive[int],
):
    """Reset, ▶/❚❚ and Step, as Mesa's ``ModelController``, but enabled from the model itself:
    when the run reaches its horizon by any button (Step, ▶, "Run 1 day" or "Run 1 week"), ▶
    and Step are disabled and the card says the run is finished and to press Reset."""
    update_counter.get()  # drawn again whenever another button has stepped the model
    playing = solara.use_reactive(False)
    error = solara.use_reactive(None)
    current = model.value

    def play():
        try:
            while playing.value and model.value.running:
                time.sleep(play_interval.value / 1000)
                for _ in range(render_interval.value):
                    model.value.step()
                    if not playing.value or not model.value.running:
                        break
                force_update()
        except Exception as exc:  # shown in the card, as Mesa's controller does
            error.value = f"error in step: {exc}"
        finally:
            if not model.value.running:
                playing.value = False
                force_update()

    solara.lab.use_task(play, dependencies=[playing.value], prefer_threaded=True)

    def step():
        for _ in range(render_interval.value):
            if not model.value.running:
                break
            model.value.step()
        force_update()

    def reset():
        error.value = None
        playing.value = False
        accepted = inspect.signature(AppModel).parameters
        kwargs = {k: v for k, v in model_parameters.value.items() if k in accepted}
        model.value = type(model.value)(**kwargs)
        force_update()

    finished = not current.running
    with solara.Row(justify="space-between"):
        solara.Button(label="Reset", color="primary", on_click=reset)
        solara.Button(
            label="❚❚" if playing.value else "▶",
            color="primary",
            on_click=lambda: playing.set(not playing.value),
            disabled=finished,
        )
        solara.Button(
            label="Step", color="primary", on_click=step, disabled=playing.value or finished
        )
    if finished:
        solara.Warning(finished_message(current), classes=["crowdsim-finished"], dense=True)
    if error.value:
        solara.Error(label=error.value)


@solara.component
def CrowdsimViz(
    model: AppModel | solara.Reactive[AppModel], play_interval: int = 50, render_interval: int = 1
):
    """The page: the run controls (Reset, ▶, Step: :func:`RunControls`), the rules form and
    the dashboard.

    Args:
        model: the model to show, or a reactive holding it (Reset replaces its value).
        play_interval: pause between frames while playing, milliseconds.
        render_interval: hours simulated per Step click and per frame while playing.
    """
    if not isinstance(model, solara.Reactive):
        model = solara.use_reactive(model)  # noqa: SH102
    parameters = solara.use_reactive({})
    pause = solara.use_reactive(play_interval)
    hours = solara.use_reactive(render_interval)
    solara.Style(PAGE_CSS)
    with solara.AppBar():
        solara.AppBarTitle("crowdsim: a crowd-work market")
    with solara.Sidebar(), solara.Column():
        with solara.Card("Run the market"):
            RunControls(model, parameters, pause, hours)
            solara.SliderInt(
                _slider_label("Hours per Step", hours.value),
                value=hours, min=1, max=24, thumb_label=True,
            )  # fmt: skip
            solara.SliderInt(
                f"Pause while ▶ plays: {pause.value} ms",
                value=pause, min=0, max=1000, step=50, thumb_label=True,
            )  # fmt: skip
        # a short title: the sidebar cut "Rules and market (press Reset to apply)" to its width
        with solara.Card("Rules and market", subtitle="Press Reset to apply them"):
            RulesForm(model_params(), parameters)
        SavedMarkets(model)
    Dashboard(model.value)


def make_page(model: AppModel | None = None, **kwargs: Any):
    """The page element for ``model`` (a new :class:`AppModel` with defaults when None);
    show it in a notebook cell or render it with ``solara.render``."""
    return CrowdsimViz(AppModel() if model is None else model, **kwargs)


@solara.component
def Page():
    """One market per browser session (``solara run crowdsim.viz.app:Page``)."""
    model = solara.use_memo(AppModel, [])
    CrowdsimViz(model)
