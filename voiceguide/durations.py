"""Durations as people write them: ``90s``, ``2m``, ``1m30s``, ``1.5m``, ``1:30``, ranges ``2-3m``.

Every value becomes integer milliseconds. Parsing raises ``ValueError`` with a message written
for the user; callers attach the file and line (routine loader) or the flag name (CLI).
"""

from __future__ import annotations

import re

_UNITS_MS = {"h": 3_600_000, "m": 60_000, "min": 60_000, "s": 1000, "sec": 1000, "ms": 1}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(h|min|ms|m|sec|s)", re.IGNORECASE)
_BARE = re.compile(r"\d+(?:\.\d+)?")
_CLOCK = re.compile(r"(\d+):([0-5]\d)")


def parse_duration(text: str | int | float, *, default_unit: str = "s") -> int:
    """One duration in milliseconds. A bare number is in ``default_unit``."""
    if isinstance(text, bool):
        raise ValueError(f"expected a duration like 90s or 2m, got {text!r}")
    if isinstance(text, (int, float)):
        ms = text * _UNITS_MS[default_unit]
        if ms < 0:
            raise ValueError(f"a duration cannot be negative: {text}")
        return round(ms)
    s = str(text).strip().lower()
    if not s:
        raise ValueError("empty duration; write it like 90s, 2m or 1m30s")
    if s.startswith("-"):
        raise ValueError(f"a duration cannot be negative: {text!r}")
    if _BARE.fullmatch(s):
        return round(float(s) * _UNITS_MS[default_unit])
    clock = _CLOCK.fullmatch(s)
    if clock:
        return (int(clock.group(1)) * 60 + int(clock.group(2))) * 1000
    pos, total, seen = 0, 0.0, False
    compact = s.replace(" ", "")
    for m in _PART.finditer(compact):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS_MS[m.group(2).lower()]
        pos, seen = m.end(), True
    if not seen or pos != len(compact):
        raise ValueError(f"not a duration: {text!r}; write it like 90s, 2m, 1m30s or 1:30")
    return round(total)


def parse_range(text: str | int | float) -> tuple[int, int]:
    """A duration or a range (``2-3m``, ``90s-2m``) as (min_ms, max_ms)."""
    if isinstance(text, str) and "-" in text.strip().lstrip("-"):
        raw = text.strip()
        if raw.startswith("-"):
            raise ValueError(f"a duration cannot be negative: {text!r}")
        lo_text, _, hi_text = raw.partition("-")
        lo_text, hi_text = lo_text.strip(), hi_text.strip()
        if not lo_text or not hi_text:
            raise ValueError(f"not a duration range: {text!r}; write it like 2-3m")
        hi = parse_duration(hi_text)
        # "2-3m": the unit written once after the range applies to both ends
        unit_match = re.search(r"(h|min|ms|m|sec|s)$", hi_text, re.IGNORECASE)
        if _BARE.fullmatch(lo_text) and unit_match:
            lo = parse_duration(lo_text, default_unit=unit_match.group(1).lower())
        else:
            lo = parse_duration(lo_text)
        if lo > hi:
            raise ValueError(f"the shortest ({format_ms(lo)}) is above the longest ({format_ms(hi)}) in {text!r}")
        return lo, hi
    one = parse_duration(text)
    return one, one


def format_ms(ms: int) -> str:
    """Short human form: ``2m30s``, ``45s``, ``1h05m``."""
    sign = "-" if ms < 0 else ""
    ms = abs(int(ms))
    total_s, rest = divmod(ms, 1000)
    h, rem = divmod(total_s, 3600)
    m, s = divmod(rem, 60)
    if h:
        return f"{sign}{h}h{m:02d}m"
    if m:
        return f"{sign}{m}m{s:02d}s" if s or rest else f"{sign}{m}m"
    if rest:
        return f"{sign}{s}.{rest // 100}s" if rest % 100 == 0 else f"{sign}{ms / 1000:.2f}s"
    return f"{sign}{s}s"


def format_clock(ms: int) -> str:
    """``mm:ss`` (or ``h:mm:ss``) for tables and displays."""
    total_s = max(0, int(ms)) // 1000
    h, rem = divmod(total_s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"
