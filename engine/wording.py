"""Values in human words: what a report or a fix shows instead of a Python repr.

A list becomes its items joined by commas, a mapping ``key: value`` pairs, a numpy scalar its plain value, an
unknown value the word "unknown":

>>> human(["case_002"])
'case_002'
>>> human({"train": 4, "val": 2})
'train: 4, val: 2'
>>> human([0.0, 1.0, 255.0])
'0, 1, 255'
>>> human(0.670585914)
'0.6706'
>>> human(None)
'unknown'
>>> human({"b", "a"})
'a, b'
"""
from __future__ import annotations

import math
from typing import Any

from .facts import Record, Unknown

#: significant digits of a float shown to a person
DIGITS = 4


def plain(value: Any) -> Any:
    """A numpy scalar or string as the Python value it holds (``np.str_('a')`` -> ``'a'``); others unchanged."""
    if type(value).__module__ == "numpy" and getattr(value, "ndim", 1) == 0:
        return value.item()
    if isinstance(value, str) and type(value) is not str:
        return str(value)
    return value


def human(value: Any, *, digits: int = DIGITS) -> str:
    """``value`` in words a person reads: no brackets, quotes, ``np.`` wrappers or dict braces."""
    value = plain(value)
    if value is None or isinstance(value, Unknown):
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "infinite" if value > 0 else "-infinite"
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.{digits}g}"
    if isinstance(value, Record):
        value = dict(value.fields)
    if isinstance(value, dict):
        return ", ".join(f"{human(k)}: {human(v, digits=digits)}" for k, v in value.items())
    if isinstance(value, (set, frozenset)):
        return ", ".join(sorted(human(v, digits=digits) for v in value))
    if isinstance(value, (list, tuple)):
        return ", ".join(human(v, digits=digits) for v in value)
    return str(value)


def fix_value(value: Any) -> Any:
    """What ``{{ value }}`` prints in a fix template: collections and numpy values in words, the rest as Jinja
    prints it (numbers keep their form, so that ``2.0`` stays a spacing)."""
    value = plain(value)
    if isinstance(value, (list, tuple, set, frozenset, dict, Record)):
        return human(value, digits=12)
    return value
