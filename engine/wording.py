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

import ast
import math
import re
from typing import Any

from .facts import Record, Unknown
from .patterns import regex

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


_NUMPY_CALL = r"\bnp\.\w+\(([^()]*)\)"
_PYTHON_LITERAL = re.compile(r"^\s*[\[{(].*['\"].*[\]})]\s*$|^\s*[\[{(].*\bnp\.\w+\(.*[\]})]\s*$", re.DOTALL)


def repr_text(text: str) -> str:
    """A Python repr captured from a log (``['case_002']``, ``[np.str_('a')]``, ``{'case_001'}``) in words; any
    other text unchanged (JSON with double quotes too: it is meant to be copied).

    >>> repr_text("[np.str_('case_002'), np.str_('case_005')]"), repr_text("{'case_001'}"), repr_text("[0, 1, 3]")
    ('case_002, case_005', 'case_001', '[0, 1, 3]')
    >>> repr_text('{"background": 0, "liver": 1}')
    '{"background": 0, "liver": 1}'
    """
    if len(text) > 10000 or not _PYTHON_LITERAL.match(text) or '"' in text and "'" not in text:
        return text
    try:
        value = ast.literal_eval(regex(_NUMPY_CALL).sub(r"\1", text.strip()))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    return human(value, digits=12) if isinstance(value, (list, tuple, set, frozenset, dict)) else text


def fix_value(value: Any) -> Any:
    """What ``{{ value }}`` prints in a fix template: collections, numpy values and Python reprs captured from a log
    in words, the rest as Jinja prints it (numbers keep their form, so that ``2.0`` stays a spacing)."""
    value = plain(value)
    if isinstance(value, (list, tuple, set, frozenset, dict, Record)):
        return human(value, digits=12)
    if isinstance(value, str) and value[:1] in "[{(":
        return repr_text(value)
    return value
