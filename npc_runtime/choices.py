"""One wording for a setting given a value outside its choices, wherever it is checked."""

from __future__ import annotations

from collections.abc import Iterable


def not_one_of(name: str, value: object, choices: Iterable[str]) -> str:
    """'x must be a, b or c, got 'd'': what was wrong and what to write instead."""
    *rest, last = list(choices)
    allowed = f"{', '.join(rest)} or {last}" if rest else last
    return f"{name} must be {allowed}, got {value!r}"
