"""Numbers in text and JSON: a metric with no data (None or NaN) is "n/a" in text, null in JSON."""

from __future__ import annotations

import math
from typing import Any

NA = "n/a"


def missing(value: Any) -> bool:
    """True for a metric with no data: None, NaN or an infinity."""
    if value is None:
        return True
    try:
        return not math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def fmt(value: Any, spec: str = ".3g", prefix: str = "", suffix: str = "") -> str:
    """``format(value, spec)`` with a prefix and suffix, or "n/a" for a metric with no data."""
    return NA if missing(value) else f"{prefix}{format(value, spec)}{suffix}"


def usd(value: Any, per: str = "") -> str:
    """Dollars with cents, e.g. ``$1.38/h``; "n/a" when there is no data."""
    return fmt(value, ".2f", "$", per)


def share(value: Any) -> str:
    """A share as a percentage, e.g. ``12.5%``; "n/a" when there is no data."""
    return fmt(value, ".1%")


def json_safe(value: Any) -> Any:
    """A copy of ``value`` with NaN and infinities (anywhere in dicts and lists) turned into None,
    and numpy scalars into Python numbers, so that ``json.dumps`` writes standard JSON (null)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def plain_text(rst: str) -> str:
    """reStructuredText markup of a docstring removed for a terminal (``x``, :func:`x`, `x` -> x)."""
    import re

    text = re.sub(r":[a-z]+:`~?([^`]*)`", r"\1", rst)
    return re.sub(r"`{1,2}([^`]*)`{1,2}", r"\1", text)
