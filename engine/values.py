"""Turning text captured from logs into typed values.

nnU-Net prints numbers through numpy; numpy >= 2 shows scalars as ``np.int64(1)``, ``np.float32(0.98)``,
``np.str_('case_003')`` where numpy 1 printed ``1``, ``0.98``, ``'case_003'``. Both forms parse alike:

>>> parse_number("np.float32(0.9889)")
0.9889
>>> parse_number_list("[np.float32(0.9889), np.float32(0.9959)]")
[0.9889, 0.9959]
>>> parse_number_list("[  0. 255.]")
[0.0, 255.0]
>>> strip_numpy_repr("np.str_('case_003')")
'case_003'
"""
from __future__ import annotations

import math
import re
from typing import Any

from .facts import Unknown

_NUMPY_WRAPPER = re.compile(r"np\.[A-Za-z_0-9]+\((.*?)\)")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?\b(?:nan|inf)\b", re.IGNORECASE)


def _unwrapped(text: str) -> str:
    """Every ``np.<type>(...)`` replaced by what it wraps (``sub(r"\\1")`` without its per-match Python cost)."""
    return "".join(_NUMPY_WRAPPER.split(text))


def strip_numpy_repr(text: str) -> str:
    """``np.str_('a')`` -> ``a``; ``np.int64(3)`` -> ``3``; quotes around plain strings are removed."""
    text = _unwrapped(text.strip())
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    return text


def parse_number(text: str) -> float | None:
    match = _NUMBER.search(strip_numpy_repr(text))
    if match is None:
        return None
    token = match.group(0).lower()
    if token.lstrip("+-") in ("nan", "inf"):
        return float(token)
    return float(token)


def parse_number_list(text: str) -> list[float]:
    return [float(token.lower()) for token in _NUMBER.findall(_unwrapped(text))]


def coerce(type_name: str, raw: str | None) -> Any:
    """Convert a captured string to the declared type; an unparsable value becomes :class:`Unknown`.

    A group that did not take part in the match gives None: the field is unknown.
    """
    if raw is None:
        return None
    if type_name in ("str", "path", "version", "any"):
        return strip_numpy_repr(raw)
    if type_name == "int":
        number = parse_number(raw)
        if number is None or math.isnan(number) or math.isinf(number):
            return Unknown(f"not an integer: {raw!r}")
        return int(number)
    if type_name == "float":
        number = parse_number(raw)
        return Unknown(f"not a number: {raw!r}") if number is None else number
    if type_name == "bool":
        return strip_numpy_repr(raw).lower() in ("true", "1", "yes", "t")
    if type_name == "list[float]":
        return parse_number_list(raw)
    if type_name == "list[int]":
        return [int(value) for value in parse_number_list(raw) if not (math.isnan(value) or math.isinf(value))]
    if type_name in ("list[str]", "list[any]"):
        inner = raw.strip().strip("[]()")
        return [strip_numpy_repr(part) for part in inner.split(",") if part.strip()]
    return raw
