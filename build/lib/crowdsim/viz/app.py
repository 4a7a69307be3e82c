"""The crowdsim browser app: a Mesa ``SolaraViz`` page to explore a crowd-work market.

Start it with ``crowdsim-app`` (see :mod:`crowdsim.viz.launch`), or ``solara run
crowdsim.viz.app:Page``, or show ``Page()`` in a notebook cell.

In the sidebar you choose a scenario (the files in ``crowdsim/conf/scenario/``) and, on top of it, the
platform's levers: commission, rejection transparency, payment guarantee, minimum pay and the
qualification gate; then the number of workers and the seed. "as in scenario" keeps the scenario
file's value. Press **Reset** to start a new market with them; **Step** simulates one hour
(or "Render Interval" hours), ▶ runs until paused, and the buttons in the first card run a day
or a week at once.

The plots are Mesa ``make_plot_component`` line plots of model-level aggregates collected once an
hour by a Mesa ``DataCollector`` (no per-agent reporters), plus the wage-by-country box plot of
:mod:`crowdsim.viz.components`.
"""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path
from typing import Any

import mesa
import solara
from mesa.visualization import SolaraViz, make_plot_component
from mesa.visualization.utils import update_counter

from crowdsim.config import ConfigError, CrowdSimConfig, to_config
from crowdsim.ledger import MICRO
from crowdsim.metrics.summary import workers_frame
from crowdsim.model import CrowdWorkModel
from crowdsim.viz.components import Headline, WageByCountry

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

# the sidebar's starting population; `crowdsim-app --workers N` sets it through this variable
DEFAULT_N_WORKERS = int(os.environ.get("CROWDSIM_APP_N_WORKERS", "1000"))
UNPAID_KINDS = ("search", "returned", "rejected", "never_paid")
DEFAULT_DAYS = 28
PLOT_FORMAT = "svg"  # vector images: cheaper to make than PNG and sharp at any size


def available_scenarios() -> list[str]:
    """Names of the scenario files in ``crowdsim/conf/scenario/`` (status_quo first)."""
    from crowdsim.cli import CONFIG_DIR

    names = sorted(p.stem for p in (Path(CONFIG_DIR) / "scenario").glob("*.yaml"))
    return sorted(names, key=lambda n: n != "status_quo")


_HYDRA_LOCK = threading.Lock()  # Hydra's global state: one composition at a time across sessions


@functools.lru_cache(maxsize=32)
def _scenario_container(scenario: str) -> dict:
    """The composed Hydra config of a scenario as a plain dict (composed once per scenario)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from crowdsim.cli import CONFIG_DIR

    if scenario not in available_scenarios():
        raise ConfigError("scenario", scenario, ", ".join(available_scenarios()))
    with (
        _HYDRA_LOCK,
        initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3", job_name="crowdsim-app"),
    ):
        cfg = compose(config_name="config", overrides=[f"scenario={scenario}"])
    return OmegaConf.to_container(cfg, resolve=True)


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


MODEL_REPORTERS = {
    "Active workers": _hourly("active_workers"),
    "Open tasks": _hourly("tasks_open"),
    "Search": lambda m: 100.0 * m.unpaid_shares()["search"],
    "Returned": lambda m: 100.0 * m.unpaid_shares()["returned"],
    "Rejected": lambda m: 100.0 * m.unpaid_shares()["rejected"],
    "Never paid": lambda m: 100.0 * m.unpaid_shares()["never_paid"],
    "Rejection rate": lambda m: _percent(
        m.counters["assignments_rejected"],
        m.counters["assignments_rejected"] + m.counters["assignments_approved"],
    ),
    "Unjustified rejection rate": lambda m: _percent(
        m.counters["assignments_rejected_unjustified"],
        m.counters["assignments_rejected"] + m.counters["assignments_approved"],
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
        scenario_name: a file name in ``crowdsim/conf/scenario/`` without ``.yaml`` (the parameter is not
            called ``scenario``: Mesa models take a ``scenario`` object of their own).
        commission, transparency, payment_guarantee, min_pay, qualification_gate: a choice of
            :data:`LEVERS` (``"as in scenario"`` keeps the scenario's value).
        n_workers: initial worker pool.
        seed: random seed (an integer; text from the page is converted).
        days: simulated horizon in days.
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
    ):
        try:
            seed = int(str(seed).strip())
        except ValueError:
            raise ConfigError("seed", seed, "an integer >= 0") from None
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
        self.label = f"scenario **{scenario_name}**" + (
            f" with {'; '.join(changed)}" if changed else ""
        )
        self.levers = levers
        self._table_cache: tuple[int, Any] | None = None
        self._unpaid_cache: tuple[int, dict] | None = None
        # the page may step the model from two places at once (▶ and "Run 1 day"): one hour at a time
        self._step_lock = threading.RLock()
        self.datacollector = mesa.DataCollector(model_reporters=MODEL_REPORTERS)
        self.datacollector.collect(self)

    def step(self) -> None:
        with self._step_lock:
            if not self.running:  # the horizon is reached: nothing more to simulate
                return
            super().step()
            self.datacollector.collect(self)

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


def _select(label: str, values: list[str], value: str) -> dict:
    return {"type": "Select", "label": label, "values": values, "value": value}


def model_params() -> dict[str, Any]:
    """The sidebar controls (Mesa ``SolaraViz`` ``model_params``)."""
    params: dict[str, Any] = {
        "scenario_name": _select("Scenario", available_scenarios(), "status_quo")
    }
    for name, lever in LEVERS.items():
        params[name] = _select(lever["label"], list(lever["choices"]), AS_SCENARIO)
    params["n_workers"] = {
        "type": "SliderInt",
        "label": "Workers",
        "value": DEFAULT_N_WORKERS,
        "min": 100,
        "max": max(10_000, DEFAULT_N_WORKERS),
        "step": 100,
    }
    params["seed"] = {"type": "InputText", "label": "Random seed", "value": "0"}
    params["days"] = DEFAULT_DAYS
    return params


def _titled(title: str, ylabel: str):
    def post_process(ax):
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel)
        if len(ax.get_lines()) > 1:
            ax.legend(
                loc="upper left", fontsize=8
            )  # a fixed place: "best" costs a search per frame
        ax.figure.set_size_inches(5.6, 3.4)

    return post_process


# (key, measures and colours, title, y label): the time-series plots, drawn by Mesa's make_plot_component
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
        "Unpaid working time by kind (cumulative)",
        "% of working time",
    ),
    (
        "rejections",
        {"Rejection rate": "tab:red", "Unjustified rejection rate": "tab:purple"},
        "Rejections (cumulative)",
        "% of reviewed tasks",
    ),
    (
        "payments",
        {
            "Paid to workers": "tab:green",
            "Awaiting payment": "tab:olive",
            "Good work rejected": "tab:red",
        },
        "Payments to workers (cumulative)",
        "USD",
    ),
    (
        "revenue",
        {"Platform revenue": "tab:brown"},
        "Platform revenue (cumulative commission)",
        "USD",
    ),
]


def plot_components() -> list[tuple[str, Any]]:
    """(key, component function) for each plot, in page order; a function takes the model."""
    plots: list[tuple[str, Any]] = [("wages", WageByCountry)]
    for key, measures, title, ylabel in TIME_SERIES:
        make, _page = make_plot_component(
            measures, post_process=_titled(title, ylabel), save_format=PLOT_FORMAT
        )
        plots.append((key, make))
    return plots


@solara.component
def Dashboard(model: AppModel):
    """The main area: the headline card, then the plots in two columns (one on narrow screens).

    A plain responsive grid: Mesa's draggable grid loads its script from a CDN at run time."""
    update_counter.get()
    with solara.Column(style={"width": "100%"}) as main:
        Headline(model)
        with solara.ColumnsResponsive(default=12, large=6):
            for key, make in plot_components():
                with solara.Card(classes=["crowdsim-plot", f"crowdsim-plot-{key}"], margin=0):
                    make(model)
    return main


@solara.component
def CrowdsimViz(
    model: AppModel | solara.Reactive[AppModel], play_interval: int = 50, render_interval: int = 1
):
    """Mesa's ``SolaraViz`` (app bar, sidebar controls and model parameters) and the dashboard.

    Args:
        model: the model to show, or a reactive holding it (Reset replaces its value).
        play_interval: pause between frames while playing, milliseconds.
        render_interval: hours simulated per Step click and per frame while playing.
    """
    if not isinstance(model, solara.Reactive):
        model = solara.use_reactive(model)  # noqa: SH102
    SolaraViz(
        model,
        components=[],
        model_params=model_params(),
        name="crowdsim: a crowd-work market",
        play_interval=play_interval,
        render_interval=render_interval,
    )
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
