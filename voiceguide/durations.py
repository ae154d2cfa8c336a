"""Durations as people write them: ``90s``, ``2m``, ``1m30s``, ``1.5m``, ``1:30``, ranges ``2-3m``;
ages, which also take days and weeks (``30d``, ``2w``).

Every value becomes integer milliseconds. Parsing raises ``ValueError`` with a message written
for the user; callers attach the file and line (routine loader) or the flag name (CLI).
"""

from __future__ import annotations

import math
import re

from voiceguide.errors import excerpt

_UNITS_MS = {"h": 3_600_000, "m": 60_000, "min": 60_000, "s": 1000, "sec": 1000, "ms": 1}
# ASCII digits only: "٣s" and "½m" are not durations anyone types on purpose, and float() would
# read the first one happily.
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_PART = re.compile(rf"({_NUMBER})\s*(h|min|ms|m|sec|s)", re.IGNORECASE | re.ASCII)
_BARE = re.compile(_NUMBER)
_CLOCK = re.compile(r"([0-9]+):([0-5][0-9])")
_UNIT_AT_END = re.compile(r"(h|min|ms|m|sec|s)$", re.IGNORECASE)

#: No duration anywhere in a session comes near this (a session lasts at most 8 h); a value past
#: it is refused here, so that every duration is a small int and callers check their own range.
CEILING_MS = 1000 * 3_600_000

_FORMS = "write it like 90s, 2m, 1m30s or 1:30"

# An age (how long ago a cached clip was last used) reads in days and weeks as well.
_AGE_DAYS = re.compile(r"([0-9]{1,6}(?:\.[0-9]+)?)\s*([dw])")
_DAY_S = 86_400


def parse_duration(text: str | int | float, *, default_unit: str = "s", most_ms: int = CEILING_MS) -> int:
    """One duration in milliseconds. A bare number is in ``default_unit``.

    Anything longer than ``most_ms`` (the caller's range, else ``CEILING_MS``) is refused with
    that range, and so is anything infinite or not a number.
    """
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValueError(f"expected a duration like 90s or 2m, not {_kind(text)}")
    if isinstance(text, (int, float)):
        if not math.isfinite(text):
            raise ValueError(f"not a duration: {text}; {_FORMS}")
        if text < 0:
            raise ValueError(f"a duration cannot be negative: {text}")
        return _bounded(text * _UNITS_MS[default_unit], repr(text), most_ms)
    s = text.strip().lower()
    shown = excerpt(text)
    if not s:
        raise ValueError(f"empty duration; {_FORMS}")
    if s.startswith("-"):
        raise ValueError(f"a duration cannot be negative: {shown}")
    if _BARE.fullmatch(s):
        return _bounded(float(s) * _UNITS_MS[default_unit], shown, most_ms)
    clock = _CLOCK.fullmatch(s)
    if clock:
        return _bounded((int(clock.group(1)) * 60 + int(clock.group(2))) * 1000, shown, most_ms)
    pos, total, seen = 0, 0.0, False
    compact = s.replace(" ", "")
    for m in _PART.finditer(compact):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS_MS[m.group(2).lower()]
        pos, seen = m.end(), True
    if not seen or pos != len(compact):
        raise ValueError(f"not a duration: {shown}; {_FORMS}")
    return _bounded(total, shown, most_ms)


def parse_age(text: str) -> float:
    """An age in seconds: ``30d``, ``2w``, ``12h``, ``90m`` (``cache prune --older-than``).

    Days and weeks here, then every form a duration takes; a duration's limit (CEILING_MS) holds
    for those. ValueError says why not, with an age's examples where the text is no duration.
    """
    shown = text
    text = text.strip().lower()
    days = _AGE_DAYS.fullmatch(text)
    if days:
        return float(days.group(1)) * _DAY_S * (7 if days.group(2) == "w" else 1)
    try:
        return parse_duration(text) / 1000
    except ValueError as e:
        if str(e).startswith(("not a duration", "empty duration")):
            # the duration parser's examples (90s, 2m) are a session's times; an age reads in days
            raise ValueError(f"not an age: {excerpt(shown)}; write it like 30d, 12h or 90m") from None
        raise


def _bounded(ms: float, shown: str, most_ms: int) -> int:
    # A 400-digit number of seconds is a float of inf, and round(inf) raises OverflowError.
    if not ms <= most_ms:
        raise ValueError(f"{shown} is too long; at most {format_ms(most_ms)}")
    return round(ms)


def _kind(value: object) -> str:
    """What a non-duration value is, in words (a message never repeats a whole list or table)."""
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "nothing"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a value of type {type(value).__name__}"


def parse_range(text: str | int | float, *, most_ms: int = CEILING_MS) -> tuple[int, int]:
    """A duration or a range (``2-3m``, ``90s-2m``) as (min_ms, max_ms), each at most ``most_ms``."""
    if isinstance(text, str) and "-" in text.strip().lstrip("-"):
        raw = text.strip()
        if raw.startswith("-"):
            raise ValueError(f"a duration cannot be negative: {excerpt(text)}")
        lo_text, _, hi_text = raw.partition("-")
        lo_text, hi_text = lo_text.strip(), hi_text.strip()
        if not lo_text or not hi_text:
            raise ValueError(f"not a duration range: {excerpt(text)}; write it like 2-3m")
        hi = parse_duration(hi_text, most_ms=most_ms)
        # "2-3m": the unit written once after the range applies to both ends
        unit_match = _UNIT_AT_END.search(hi_text)
        if _BARE.fullmatch(lo_text) and unit_match:
            lo = parse_duration(lo_text, default_unit=unit_match.group(1).lower(), most_ms=most_ms)
        else:
            lo = parse_duration(lo_text, most_ms=most_ms)
        if lo > hi:
            raise ValueError(
                f"the shortest ({format_ms(lo)}) is above the longest ({format_ms(hi)}) in {excerpt(text)}"
            )
        return lo, hi
    one = parse_duration(text, most_ms=most_ms)
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
