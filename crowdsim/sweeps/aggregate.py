"""One tidy table for a sweep: ``crowdsim-aggregate DIR``.

Reads every job folder of a Hydra sweep folder (``multirun/...``) and writes, atomically, into it:

- ``sweep.parquet``: one row per job. Columns: the job's overrides (``scenario``,
  ``platform.commission``, ``seed``, ...; typed), ``job`` (number), ``job_dir``, ``status``
  (``ok`` / ``failed`` / ``missing``), ``error`` (failed jobs, and why a job whose DONE.json
  is complete is missing: ``stale``, written for another configuration or crowdsim version, by
  the rule a resumed sweep applies), every scalar summary metric
  (nested ones flattened with slashes: ``by_country/IN/wage_median_all_in``,
  ``phase_seconds/search``) and provenance (``crowdsim_version``, ``git_revision``,
  ``config_sha256``). Dotted column names are always overrides (config options), never metrics;
  the list of override columns is also stored with the table
  (``pd.read_parquet(path).attrs["override_columns"]``).
- ``sweep_summary.parquet`` and ``sweep_summary.csv``: per configuration (the overrides other
  than ``seed``) and metric, the mean over seeds of the completed jobs with its 95% interval
  (:func:`crowdsim.metrics.stats.summarize_groups`: the interval method of every crowdsim
  table, so ``crowdsim-compare`` gives the same interval for the same runs), plus the configuration's
  counts of ok, failed and missing jobs. Long ("tidy") format: one row per configuration x metric.
- ``r_stata/sweep.csv`` and ``r_stata/sweep_summary.csv`` (and ``.dta`` with ``--format dta``):
  both tables with column names valid in R and Stata, mapped to the originals in
  ``r_stata/names.csv`` (:mod:`crowdsim.export`).

Jobs come from ``sweep_jobs.json`` when the sweep wrote one (so jobs that never started are rows
with status ``missing``), otherwise from the job folders found. A job is counted once: rows are
keyed by the job's set of overrides, and a folder whose overrides are not in the job list (left
by an earlier, different sweep into the same folder) is ignored.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from crowdsim.cli.arguments import Parser
from crowdsim.files import atomic_write_parquet, atomic_write_text, read_json
from crowdsim.run import DONE_FILE
from crowdsim.sweeps.folder import (
    MANIFEST_FILE,
    SUMMARY_CSV,
    SUMMARY_TABLE,
    SWEEP_TABLE,
    find_job_dirs,
    read_manifest,
)
from crowdsim.sweeps.job import FAILED_FILE, job_status

PROG = "crowdsim-aggregate"
ID_COLUMNS = ["job", "job_dir", "status", "error"]
PROVENANCE_COLUMNS = ["crowdsim_version", "git_revision", "config_sha256"]
# summary entries that describe the job rather than measure the market
_NOT_METRICS = {"seed", "scenario", *PROVENANCE_COLUMNS}


@dataclass
class Aggregated:
    """What :func:`aggregate` wrote and the job counts."""

    sweep: pd.DataFrame
    summary: pd.DataFrame
    paths: dict[str, Path] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        c = self.counts
        parts = [f"{c.get('ok', 0)} ok"]
        if c.get("failed"):
            parts.append(f"{c['failed']} failed")
        if c.get("missing"):
            stale = (
                f" of which {c['stale']} stale: DONE.json of another configuration or crowdsim "
                "version, redone when the sweep runs again"
                if c.get("stale")
                else ""
            )
            parts.append(f"{c['missing']} missing{stale}")
        return (
            f"{c.get('n_jobs', 0)} jobs ({', '.join(parts)}) -> {self.paths.get('sweep')}; "
            f"means and 95% intervals over seeds -> {self.paths.get('summary')}"
        )


# --- reading one job -------------------------------------------------------------------------


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out |= _flatten(v, f"{name}/")
        elif isinstance(v, list | tuple):
            out[name] = json.dumps(v)
        else:
            out[name] = v
    return out


def _read_overrides(job_dir: Path) -> list[str] | None:
    import yaml

    try:
        with open(job_dir / ".hydra" / "overrides.yaml") as fh:
            data = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError):
        return None
    return [str(o) for o in data] if isinstance(data, list) else None


def _read_config(job_dir: Path) -> dict:
    import yaml

    for name in (
        ".hydra/config.yaml",
        "config.yaml",
    ):  # Hydra's copy is written when the job starts
        try:
            with open(job_dir / name) as fh:
                data = yaml.safe_load(fh)
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict):
            return data
    return {}


def parse_overrides(overrides: list[str]) -> dict:
    """``["platform.commission=0.1", "+experiment=x"]`` -> ``{"platform.commission": 0.1, "experiment": "x"}``."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    out = {}
    for text in overrides:
        try:
            o = parser.parse_override(text)
            key = o.key_or_group if o.package is None else f"{o.key_or_group}@{o.package}"
            value = None if o.is_delete() else o.value()
        except Exception:  # keep what we cannot parse as text
            key, _, value = text.lstrip("+~").partition("=")
        if not isinstance(value, str | int | float | bool | type(None)):
            value = str(value)
        out[key] = value
    return out


def job_row(job_dir: Path, sweep_dir: Path) -> dict:
    """One row of sweep.parquet for the job folder ``job_dir`` (overrides not included)."""
    status, note = job_status(job_dir)
    row: dict = {"job_dir": str(job_dir.relative_to(sweep_dir)), "status": status, "error": note}
    if status == "ok":
        summary = read_json(job_dir / "summary.json")
        done = read_json(job_dir / DONE_FILE) or {}
        if summary is None:  # DONE.json without a readable summary: not complete
            row["status"] = "missing"
        else:
            row |= _flatten(summary)
            row |= {k: done.get(k, row.get(k)) for k in PROVENANCE_COLUMNS}
            row["job"] = done.get("job_num")
    elif status == "failed":
        failed = read_json(job_dir / FAILED_FILE) or {}
        row["error"] = f"{failed.get('error_type', 'Error')}: {failed.get('error', '')}"
        row |= {k: failed.get(k) for k in (*PROVENANCE_COLUMNS, "seed", "scenario")}
        row["job"] = failed.get("job_num")
    if row.get("seed") is None or row.get("scenario") is None:
        cfg = _read_config(job_dir)
        row["seed"] = row.get("seed") if row.get("seed") is not None else cfg.get("seed")
        row["scenario"] = row.get("scenario") or cfg.get("scenario_name")
    if row.get("job") is None and job_dir.name.isdigit():
        row["job"] = int(job_dir.name)
    return row


# --- the sweep table -------------------------------------------------------------------------


def collect(sweep_dir: str | Path) -> pd.DataFrame:
    """sweep.parquet as a frame: one row per job of the sweep in ``sweep_dir`` (see module doc)."""
    sweep_dir = Path(sweep_dir)
    manifest = read_manifest(sweep_dir)
    rank = {"ok": 2, "failed": 1, "missing": 0}
    rows: dict[tuple, dict] = {}
    for job_dir in find_job_dirs(sweep_dir):
        overrides = _read_overrides(job_dir)
        if overrides is None:
            continue
        key = tuple(sorted(overrides))
        row = job_row(job_dir, sweep_dir) | {"_overrides": overrides}
        prev = rows.get(key)
        if prev is None or rank[row["status"]] > rank[prev["status"]]:
            rows[key] = row
    if manifest is not None:
        ordered, seen = [], set()
        for num, overrides in enumerate(manifest):
            key = tuple(sorted(overrides))
            if key in seen:
                continue  # a value listed twice in the sweep: the same job
            seen.add(key)
            row = rows.get(key) or {
                "job_dir": None,
                "status": "missing",
                "error": None,
                "_overrides": overrides,
            }
            row["job"] = num
            ordered.append(row)
        table_rows = ordered
    else:
        table_rows = sorted(
            rows.values(), key=lambda r: (r.get("job") is None, r.get("job") or 0, r["job_dir"])
        )
    if not table_rows:
        return pd.DataFrame(columns=[*ID_COLUMNS])
    parsed = [parse_overrides(r.pop("_overrides")) for r in table_rows]
    override_cols = list(dict.fromkeys(k for p in parsed for k in p))
    records = []
    for r, p in zip(table_rows, parsed, strict=True):
        if "seed" in p and p["seed"] is not None:
            r["seed"] = p["seed"]
        if r.get("scenario") is None and isinstance(p.get("scenario"), str):
            r["scenario"] = p["scenario"]
        records.append({k: p.get(k) for k in override_cols} | r)
    df = pd.DataFrame.from_records(records)
    front = override_cols + [c for c in ("seed", "scenario") if c not in override_cols]
    meta = [c for c in ID_COLUMNS if c in df.columns]
    prov = [c for c in PROVENANCE_COLUMNS if c in df.columns]
    metrics = [c for c in df.columns if c not in {*front, *meta, *prov}]
    df = df[[c for c in front if c in df.columns] + meta + metrics + prov]
    df.attrs["override_columns"] = override_cols
    return _tidy_types(df, override_cols)


def _tidy_types(
    df: pd.DataFrame, override_cols: list[str], all_missing_numeric: bool = True
) -> pd.DataFrame:
    """Columns parquet can store: numbers stay numbers, a column mixing kinds becomes text, and a
    metric no job could measure (all null, e.g. a country without workers) is a float column."""
    text = {*override_cols, *ID_COLUMNS, *PROVENANCE_COLUMNS, "scenario", "metric"}
    df = df.copy()
    if "job" in df.columns:
        df["job"] = pd.array(df["job"], dtype="Int64")
    for col in df.columns:
        s = df[col]
        if s.dtype != object:
            continue
        values = [v for v in s if v is not None and not (isinstance(v, float) and math.isnan(v))]
        kinds = {type(v) for v in values}
        if kinds <= {int, float} and kinds:
            df[col] = pd.to_numeric(s, errors="coerce").astype(
                "float64" if float in kinds else "Int64"
            )
        elif kinds == {bool}:
            df[col] = s.astype("boolean")
        elif kinds and not kinds <= {str}:
            df[col] = s.map(lambda v: None if v is None else str(v))
        elif not kinds and all_missing_numeric and col not in text:
            df[col] = s.astype("float64")
    df.attrs["override_columns"] = override_cols
    return df


def metric_columns(df: pd.DataFrame) -> list[str]:
    """Numeric columns of sweep.parquet that measure the market (not overrides, ids or provenance)."""
    overrides = set(df.attrs.get("override_columns", []))
    skip = overrides | set(ID_COLUMNS) | _NOT_METRICS
    return [
        c
        for c in df.columns
        if c not in skip
        and (pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]))
    ]


def summarize(df: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per configuration and metric: mean over the seeds of ok jobs, its interval, job counts.

    A configuration is a distinct combination of the override columns other than ``seed``. A
    configuration none of whose jobs completed keeps one row (no metric) with its counts.
    """
    from crowdsim.metrics.stats import summarize_groups

    config_cols = [
        c for c in df.attrs.get("override_columns", []) if c != "seed" and c in df.columns
    ]
    metrics = metric_columns(df)
    work = df.copy()
    for c in config_cols:  # one key type per column; missing values group (and join) together
        work[c] = work[c].astype(object).where(work[c].notna(), None)
    if config_cols:
        counts = (
            work.groupby(config_cols, dropna=False, sort=True)["status"]
            .value_counts()
            .unstack(fill_value=0)
        )
        counts = counts.reindex(columns=["ok", "failed", "missing"], fill_value=0)
        counts = counts.add_prefix("n_").reset_index()
    else:
        counts = pd.DataFrame(
            {f"n_{s}": [int((work["status"] == s).sum())] for s in ("ok", "failed", "missing")}
        )
    ok = work[work["status"] == "ok"]
    if ok.empty or not metrics:
        stats = pd.DataFrame(columns=[*config_cols, "metric", "mean", "ci_low", "ci_high", "n"])
    else:
        long = ok.melt(
            id_vars=config_cols, value_vars=metrics, var_name="metric", value_name="value"
        )
        long["value"] = pd.to_numeric(long["value"], errors="coerce").astype("float64")
        stats = summarize_groups(long, by=[*config_cols, "metric"], value="value", level=level)
        order = {m: i for i, m in enumerate(metrics)}
        stats = stats.sort_values("metric", key=lambda s: s.map(order), kind="stable")
    if config_cols:
        for c in config_cols:
            stats[c] = stats[c].astype(object).where(stats[c].notna(), None)
        out = counts.merge(stats, on=config_cols, how="left")
    else:
        out = stats.assign(**{c: counts[c].iloc[0] for c in counts.columns})
    out = out[
        [*config_cols, "metric", "mean", "ci_low", "ci_high", "n", "n_ok", "n_failed", "n_missing"]
    ]
    return _tidy_types(out.reset_index(drop=True), config_cols)


def aggregate(
    sweep_dir: str | Path, out_dir: str | Path | None = None, formats: tuple[str, ...] = ("csv",)
) -> Aggregated:
    """Collect a sweep folder into sweep.parquet and sweep_summary.parquet/.csv (atomic writes),
    and both tables for R and Stata in ``formats`` (``csv``, ``dta``) under ``r_stata/``
    (:mod:`crowdsim.export`: column names valid in both, mapped in ``r_stata/names.csv``)."""
    from crowdsim.export import export_folder
    from crowdsim.sweeps.job import remove_stale_tmp

    sweep_dir = Path(sweep_dir)
    out_dir = Path(out_dir) if out_dir is not None else sweep_dir
    remove_stale_tmp(sweep_dir, recursive=True)  # left by killed jobs or aggregations
    df = collect(sweep_dir)
    summary = summarize(df)
    paths = {
        "sweep": out_dir / SWEEP_TABLE,
        "summary": out_dir / SUMMARY_TABLE,
        "summary_csv": out_dir / SUMMARY_CSV,
    }
    atomic_write_parquet(paths["sweep"], df)
    atomic_write_parquet(paths["summary"], summary)
    atomic_write_text(paths["summary_csv"], summary.to_csv(index=False))
    if formats:
        export_folder(out_dir, formats, tables=[paths["sweep"], paths["summary"]])
    counts = {s: int((df["status"] == s).sum()) for s in ("ok", "failed", "missing")}
    counts["n_jobs"] = len(df)
    counts["stale"] = int(df["error"].astype(str).str.startswith("stale:").sum())
    return Aggregated(sweep=df, summary=summary, paths=paths, counts=counts)


def main(argv: list[str] | None = None) -> int:
    """``crowdsim-aggregate DIR [--out OUT]``: write the sweep tables of a sweep folder."""
    parser = Parser(
        prog=PROG,
        description="Collect every job of a crowdsim sweep folder into sweep.parquet (one row per job) "
        "and sweep_summary.parquet/.csv (means and 95% intervals over seeds).",
    )
    parser.add_argument(
        "sweep_dir",
        metavar="DIR",
        help="a sweep folder (hydra.sweep.dir), e.g. multirun/2025-01-01_12-00-00",
    )
    parser.add_argument(
        "--out", metavar="OUT", default=None, help="folder for the tables (default: DIR)"
    )
    parser.add_argument(
        "--format",
        default="csv",
        metavar="FORMATS",
        help="also write both tables for R and Stata into DIR/r_stata/: csv, dta (Stata), or "
        "csv,dta (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    from crowdsim.export import parse_formats

    formats = tuple(parse_formats(args.format, PROG))
    sweep_dir = Path(args.sweep_dir)
    if not sweep_dir.is_dir():
        print(
            f"{PROG}: error: invalid value for DIR: {str(sweep_dir)!r} (allowed: an existing sweep folder)",
            file=sys.stderr,
        )
        return 2
    if read_manifest(sweep_dir) is None and not find_job_dirs(sweep_dir):
        print(
            f"{PROG}: error: invalid value for DIR: {str(sweep_dir)!r} (allowed: a sweep folder with "
            f"{MANIFEST_FILE} or job folders holding .hydra/)",
            file=sys.stderr,
        )
        return 2
    try:
        out = aggregate(sweep_dir, args.out, formats)
    except OSError as exc:
        target = args.out if args.out is not None else str(sweep_dir)
        print(
            f"{PROG}: error: invalid value for --out: {target!r} cannot be written "
            f"({exc.strerror or type(exc).__name__}) (allowed: a folder this user can write)",
            file=sys.stderr,
        )
        return 2
    print(out.describe())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
