"""Tables for R and Stata: CSV (and Stata ``.dta``) copies with column names both accept.

crowdsim's tables keep their own column names in parquet (``platform.commission`` is a config
option, ``by_country/IN/wage_median_all_in`` a nested metric). Those names are not valid in
Stata and need quoting in R. :func:`portable_names` maps each to a name valid in both (letters,
digits and underscores, starting with a letter, not a reserved word, at most 32 characters,
unique within the table), e.g. ``platform.commission`` -> ``platform_commission``; a name cut to
32 characters ends with a short hash of the original so that two long names stay apart.

:func:`export_folder` writes, for every parquet table under a folder (a run, a sweep, a
comparison), a copy under ``FOLDER/r_stata/`` with the same relative path: ``.csv`` and, with
``dta``, ``.dta`` (the original names as Stata variable labels), plus ``r_stata/names.csv``
mapping every exported column (table, name, original). ``crowdsim-export FOLDER`` runs it;
``crowdsim-aggregate --format dta`` and ``crowdsim-compare`` write their own tables this way.

In R: ``read.csv("r_stata/sweep.csv")``; in Stata: ``use r_stata/sweep.dta`` or
``import delimited r_stata/sweep.csv``.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

FOLDER = "r_stata"
NAMES_FILE = "names.csv"
MAX_LENGTH = 32  # Stata's limit on a variable name
FORMATS = ("csv", "dta")

# words neither language accepts as a plain name (R's reserved words; Stata's reserved names)
RESERVED = {
    # R
    "if", "else", "repeat", "while", "function", "for", "next", "break", "in", "TRUE", "FALSE",
    "NULL", "Inf", "NaN", "NA", "NA_integer_", "NA_real_", "NA_character_",
    # Stata
    "_all", "_b", "byte", "_coef", "_cons", "double", "float", "int", "long", "_n", "_N",
    "_pi", "_pred", "_rc", "_se", "_skip", "str", "strL", "using", "with",
}  # fmt: skip


def portable_name(name: str, max_length: int = MAX_LENGTH) -> str:
    """A column name valid in R and Stata for ``name`` (not yet made unique in its table).

    Runs of characters other than ASCII letters, digits and ``_`` become one ``_``; a name that
    does not start with a letter gets ``v_`` in front; a reserved word gets ``_`` after it; a name
    longer than ``max_length`` is cut and ends with ``_`` and 4 hex digits of a hash of ``name``.
    """
    text = re.sub(r"[^A-Za-z0-9_]+", "_", str(name)).strip("_")
    if not text or not text[0].isalpha():
        text = f"v_{text}".rstrip("_") if text else "v"
    if text in RESERVED or re.fullmatch(r"str\d+", text):
        text += "_"
    if len(text) > max_length:
        digest = hashlib.sha1(str(name).encode()).hexdigest()[:4]
        text = f"{text[: max_length - 5].rstrip('_')}_{digest}"
    return text


def portable_names(columns: Iterable, max_length: int = MAX_LENGTH) -> dict[str, str]:
    """Original column name -> a portable name (:func:`portable_name`), unique in the table
    (a clash gets ``_2``, ``_3``... within the length limit)."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for col in columns:
        base = portable_name(col, max_length)
        name, k = base, 2
        while name.lower() in taken:  # Stata's names are case-sensitive, but keep clear of that
            suffix = f"_{k}"
            name = base[: max_length - len(suffix)] + suffix
            k += 1
        taken.add(name.lower())
        out[str(col)] = name
    return out


def portable_frame(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """``df`` with portable column names, and the mapping original -> portable."""
    mapping = portable_names(df.columns)
    return df.rename(columns={c: mapping[str(c)] for c in df.columns}), mapping


def _for_stata(df: pd.DataFrame) -> pd.DataFrame:
    """Columns as Stata stores them: true/false as 0/1, nullable integers as floats, text and
    mixed columns as strings (missing values as empty strings)."""
    out = df.copy()
    for c in out.columns:
        s = out[c]
        if pd.api.types.is_bool_dtype(s):
            out[c] = s.astype("float64") if s.isna().any() else s.astype("int8")
        elif pd.api.types.is_integer_dtype(s) and (
            pd.api.types.is_extension_array_dtype(s) or s.dtype == "uint64"
        ):
            out[c] = s.astype("float64")
        elif not pd.api.types.is_numeric_dtype(s):
            out[c] = s.map(
                lambda v: "" if v is None or (isinstance(v, float) and v != v) else str(v)
            )
    return out


def write_table(df: pd.DataFrame, stem: str | Path, formats: Iterable[str] = ("csv",)) -> dict:
    """Write ``df`` with portable names as ``stem.csv`` and/or ``stem.dta`` (atomically);
    return ``{"paths": [...], "names": {original: portable}}``."""
    from crowdsim.files import atomic_write, atomic_write_text

    formats = list(formats)
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ValueError(f"unknown format {bad[0]!r} (allowed: {', '.join(FORMATS)})")
    frame, mapping = portable_frame(df)
    stem = Path(stem)
    paths = []
    if "csv" in formats:
        paths.append(atomic_write_text(stem.with_suffix(".csv"), frame.to_csv(index=False)))
    if "dta" in formats:
        labels = {new: str(old)[:80] for old, new in mapping.items() if new != old}
        stata = _for_stata(frame)
        paths.append(
            atomic_write(
                stem.with_suffix(".dta"),
                lambda tmp: stata.to_stata(
                    tmp, write_index=False, version=118, variable_labels=labels
                ),
            )
        )
    return {"paths": paths, "names": mapping}


def export_folder(
    folder: str | Path,
    formats: Iterable[str] = ("csv",),
    tables: Iterable[str | Path] | None = None,
) -> list[Path]:
    """Write an R/Stata copy of each parquet table under ``folder`` (or of ``tables``, paths of
    parquet files inside it) into ``folder/r_stata/``, with ``r_stata/names.csv`` mapping every
    column; return the paths written."""
    from crowdsim.files import atomic_write_text

    folder = Path(folder)
    target = folder / FOLDER
    found = (
        sorted(p for p in folder.rglob("*.parquet") if FOLDER not in p.relative_to(folder).parts)
        if tables is None
        else [Path(t) for t in tables]
    )
    written: list[Path] = []
    rows: list[dict] = []
    for path in found:
        rel = path.relative_to(folder).with_suffix("")
        out = write_table(pd.read_parquet(path), target / rel, formats)
        written += out["paths"]
        rows += [
            {"table": rel.as_posix(), "name": new, "original": old}
            for old, new in out["names"].items()
        ]
    names_path = target / NAMES_FILE
    if rows or not names_path.exists():
        old = pd.read_csv(names_path) if names_path.exists() else None
        new = pd.DataFrame(rows, columns=["table", "name", "original"])
        if old is not None:  # keep the other tables' names
            new = pd.concat([old[~old["table"].isin(new["table"])], new], ignore_index=True)
        written.append(atomic_write_text(names_path, new.to_csv(index=False)))
    return written


def main(argv: list[str] | None = None) -> int:
    """``crowdsim-export FOLDER [--format csv,dta]``."""
    from crowdsim.cli.arguments import Parser

    prog = "crowdsim-export"
    parser = Parser(
        prog=prog,
        description="Copy every parquet table under FOLDER (a run, sweep or comparison folder) "
        f"into FOLDER/{FOLDER}/ as CSV and/or Stata .dta, with column names valid in R and Stata "
        f"(e.g. platform.commission -> platform_commission) and {FOLDER}/{NAMES_FILE} mapping "
        "them to the originals.",
    )
    parser.add_argument("folder", metavar="FOLDER", help="a folder holding crowdsim's tables")
    parser.add_argument(
        "--format",
        default="csv",
        metavar="FORMATS",
        help="csv, dta or both, comma-separated (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    formats = parse_formats(args.format, prog)
    folder = Path(args.folder)
    if not folder.is_dir():
        parser.error(
            f"argument FOLDER: invalid value {str(folder)!r} (allowed: an existing folder)"
        )
    written = export_folder(folder, formats)
    tables = [p for p in written if p.name != NAMES_FILE]
    print(
        f"{len(tables)} files -> {folder / FOLDER} (column names: {folder / FOLDER / NAMES_FILE})"
    )
    return 0


def parse_formats(text: str, prog: str, option: str = "--format") -> list[str]:
    """``csv,dta`` -> ``["csv", "dta"]``; an unknown format ends the program with one line."""
    formats = [f.strip() for f in text.split(",") if f.strip()]
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        print(
            f"{prog}: error: invalid value for option '{option}': {text!r} "
            f"(allowed: {', '.join(FORMATS)}, comma-separated)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return formats


if __name__ == "__main__":
    raise SystemExit(main())
