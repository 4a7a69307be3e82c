"""The labour-supply elasticity facing one requester, measured as Dube, Jacobs, Naidu & Suri
(2020) measured it on MTurk: a "honeypot" requester posts otherwise identical tasks at rewards
varied at random, and take-up is regressed on the reward.

In a market running the configuration under study (after a warm-up), every ``every_hours`` a
wave of ``batches`` identical survey batches is posted by one extra requester (a prompt, honest
reviewer that posts nothing else), each at a reward ``base x exp(u)`` with ``u`` uniform on
``[-spread, spread]``, ``base`` paying ``requesters.pay_median_usd_per_hour`` at the task's
time. Each batch is large enough never to fill and allows one assignment per worker, so its
take-up in the ``window_hours`` after posting counts the workers who chose it; the wave is then
withdrawn (its open assignments refunded). The window is short so that few workers come back
to take a second batch of the same wave (which would flatten take-up towards everyone taking
everything, as workers repeatedly offered the same task would).

Take-up counts within a wave are compared by a Poisson regression with wave fixed effects
(conditional maximum likelihood: within a wave, batch b's share of take-up is
``reward_b ** e / sum reward ** e``), whose one parameter ``e`` is the elasticity of labour
supply to one requester's reward; its interval is a percentile bootstrap over waves. Dube et al.
find about 0.1 (0.05 to 0.2 across designs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar

from crowdsim.config import TASK_TYPES, to_config
from crowdsim.ledger import to_micro

SURVEY = TASK_TYPES.index("survey")


@dataclass(frozen=True)
class Design:
    batches: int = 8  # per wave
    every_hours: int = 2
    window_hours: int = 1  # short, so that a worker seldom meets two batches of one wave
    spread: float = 0.5  # rewards from base x e^-0.5 to base x e^0.5
    task_minutes: float = 10.0
    size: int = 100_000  # never fills


def run_honeypot(
    config, seed: int, days: int, warmup_days: int, design: Design = Design(), overrides=None
) -> pd.DataFrame:
    """One market with honeypot waves; one row per honeypot batch: wave, reward (USD), take-up.
    ``overrides`` are dotted options with ``__`` (as :func:`crowdsim.run.run` takes them)."""
    from crowdsim.market import post
    from crowdsim.model import CrowdWorkModel

    cfg = to_config(config, **(dict(overrides or {}) | {"seed": seed, "sim__days": days}))
    model = CrowdWorkModel(cfg, create_agents=False)
    R = model.requesters
    (hp,) = model.add_requesters(1)
    R.activity[hp] = 0.0  # posts only the honeypot waves
    R.task_type[hp] = SURVEY
    R.review_kind[hp] = 0  # prompt
    R.rejection_kind[hp] = 0  # honest
    R.strictness[hp] = 1.0
    rng = np.random.default_rng([seed, 20200101])
    base = cfg.requesters.pay_median_usd_per_hour * design.task_minutes / 60.0
    rows_out = []
    open_waves: list[tuple[int, np.ndarray, np.ndarray]] = []
    wave = 0
    fee_rate = cfg.platform.commission
    while model.running:
        h = model.hour
        if h >= warmup_days * 24 and (h - warmup_days * 24) % design.every_hours == 0:
            k = design.batches
            reward = np.round(base * np.exp(rng.uniform(-design.spread, design.spread, k)), 2)
            reward = np.maximum(reward, 0.01)
            rows = post.list_batches(model, post.NewBatches(
                requester=np.full(k, hp), task_type=np.full(k, SURVEY),
                size=np.full(k, design.size), hits=np.ones(k, dtype=np.int64),
                per_hit=np.full(k, design.size), reward_micro=to_micro(reward),
                fee_micro=to_micro(np.maximum(reward * fee_rate, 0.01)),
                est_minutes=np.full(k, design.task_minutes),
                true_minutes=np.full(k, design.task_minutes), covered=np.zeros(k, dtype=bool),
                gated=np.zeros(k, dtype=bool), restricted=np.zeros(k, dtype=bool),
                expires=np.full(k, h + design.window_hours + 1),
            ))  # fmt: skip
            open_waves.append((wave, rows, reward))
            wave += 1
        model.step()
        while open_waves and model.hour - model.batches.posted_hour[open_waves[0][1][0]] >= (
            design.window_hours
        ):
            w, rows, reward = open_waves.pop(0)
            taken = design.size - model.batches.remaining[rows]
            rows_out += [
                dict(seed=seed, wave=w, reward_usd=float(r), taken=int(t))
                for r, t in zip(reward, taken, strict=True)
            ]
            post.withdraw(model, rows)
    return pd.DataFrame(rows_out)


def _neg_loglik(e: float, log_reward: np.ndarray, taken: np.ndarray, wave: np.ndarray) -> float:
    z = e * log_reward
    zmax = pd.Series(z).groupby(wave).transform("max").to_numpy()
    expz = np.exp(z - zmax)
    denom = pd.Series(expz).groupby(wave).transform("sum").to_numpy()
    return -float(np.sum(taken * (z - zmax - np.log(denom))))


def estimate(df: pd.DataFrame) -> float:
    """Elasticity of take-up to the reward: Poisson with wave fixed effects (conditional ML)."""
    d = df[df.groupby(["seed", "wave"])["taken"].transform("sum") > 0]
    if d.empty:
        return float("nan")
    wave = pd.factorize(d["seed"].to_numpy() * 1_000_000 + d["wave"].to_numpy())[0]
    lr, taken = np.log(d["reward_usd"].to_numpy()), d["taken"].to_numpy().astype(float)
    res = minimize_scalar(
        _neg_loglik, bounds=(-5.0, 10.0), args=(lr, taken, wave), method="bounded"
    )
    return float(res.x)


def elasticity(df: pd.DataFrame, n_boot: int = 400, seed: int = 0) -> dict:
    """The estimate and a 95% percentile bootstrap interval over waves."""
    est = estimate(df)
    keys = df[["seed", "wave"]].drop_duplicates().to_numpy()
    rng = np.random.default_rng(seed)
    groups = {tuple(k): g for k, g in df.groupby(["seed", "wave"])}
    boots = []
    for _ in range(n_boot):
        pick = keys[rng.integers(0, len(keys), len(keys))]
        parts = []
        for i, (s, w) in enumerate(pick):
            g = groups[(s, w)].copy()
            g["wave"] = i
            g["seed"] = 0
            parts.append(g)
        boots.append(estimate(pd.concat(parts, ignore_index=True)))
    lo, hi = np.nanpercentile(boots, [2.5, 97.5])
    return {
        "estimate": est,
        "ci_low": float(lo),
        "ci_high": float(hi),
        "waves": int(len(keys)),
        "batches": int(len(df)),
        "assignments_taken": int(df["taken"].sum()),
        "source": "Dube, Jacobs, Naidu & Suri (2020): about 0.1 on MTurk",
    }


def measure(
    config,
    seeds: list[int],
    days: int = 21,
    warmup_days: int = 7,
    design: Design = Design(),
    overrides: dict | None = None,
) -> tuple[dict, pd.DataFrame]:
    """Honeypot runs over ``seeds``; the elasticity with its interval, and the batch rows."""
    df = pd.concat(
        [run_honeypot(config, s, days, warmup_days, design, overrides) for s in seeds],
        ignore_index=True,
    )
    return elasticity(df), df
