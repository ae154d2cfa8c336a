"""Durations as articles write them: "about 2 to 3 minutes", "30 seconds to a minute", "two minutes".

``find`` returns every span of time in a sentence, as a range in milliseconds with the words it was
read from. The grammar, longest form first:

- ``N to M unit``, ``N-M unit``, ``N or M units``: "2 to 3 minutes", "2-3 min", "one or two minutes"
- ``N unit to M unit``: "30 seconds to a minute", "1 minute to 90 seconds"
- ``a unit or two``: "a minute or two" (1-2 minutes)
- ``N and a half units``, ``a unit and a half``, ``half a unit``: "a minute and a half", "half a minute"
- ``a few units``, ``several units``: 2-3 and 3-5 (vague, and marked so)
- ``N unit``: "one minute", "90 seconds", "a minute"

Numbers are digits or words up to "ninety-nine". "About", "around", "up to" and "at least" are
read as the number they qualify: the article's own figure is the fairest draft, and ``--length``
widens it when a session must be longer or shorter. Spans after "every" ("check in every two
minutes") are frequencies, not step times, and are skipped, as is the ordinal "a second" ("use a
second towel").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ONES = "one two three four five six seven eight nine".split()
_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
WORD_NUMBERS: dict[str, float] = {w: i + 1 for i, w in enumerate(_ONES)}
WORD_NUMBERS.update({w: i + 10 for i, w in enumerate(_TEENS)})
WORD_NUMBERS.update(_TENS)
WORD_NUMBERS.update({f"{t}{sep}{o}": v + i + 1 for t, v in _TENS.items() for i, o in enumerate(_ONES) for sep in "- "})
WORD_NUMBERS.update({"a": 1, "an": 1, "a couple of": 2, "a couple": 2, "a single": 1})

_NUM_WORDS = "|".join(sorted((re.escape(w) for w in WORD_NUMBERS), key=len, reverse=True))
NUM = rf"(?:\d+\s+1/2|\d*\u00bd|\d+(?:\.\d+)?|{_NUM_WORDS})"
UNIT = r"(?:seconds?|secs?|minutes?|mins?|hours?|hrs?)"
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000}

_PATTERNS: list[tuple[str, re.Pattern]] = [
    (
        "unit-range",
        re.compile(
            rf"\b(?P<a>{NUM})\s*(?P<ua>{UNIT})\s*(?:to|-|\u2013|\u2014|or)\s*"
            rf"(?P<b>{NUM})\s*(?P<ub>{UNIT})\b",
            re.I,
        ),
    ),
    ("range", re.compile(rf"\b(?P<a>{NUM})\s*(?:to|-|\u2013|\u2014|or)\s*(?P<b>{NUM})\s*(?P<ub>{UNIT})\b", re.I)),
    ("or-two", re.compile(rf"\b(?P<a>a|an|one)\s+(?P<ub>{UNIT})\s+or\s+(?P<b>two|three|so)\b", re.I)),
    (
        "and-a-half",
        re.compile(
            rf"\b(?P<a>{NUM})\s+and\s+a\s+half\s+(?P<ub>{UNIT})\b"
            rf"|\b(?P<a2>a|an|one)\s+(?P<ub2>{UNIT})\s+and\s+a\s+half\b",
            re.I,
        ),
    ),
    ("half", re.compile(rf"\bhalf\s+(?:a|an)\s+(?P<ub>{UNIT})\b", re.I)),
    ("vague", re.compile(rf"\b(?P<q>a\s+few|several|a\s+couple\s+of)\s+(?P<ub>{UNIT})\b", re.I)),
    ("single", re.compile(rf"\b(?P<a>{NUM})\s*(?:-\s*)?(?P<ub>{UNIT})\b", re.I)),
]
_PER_SIDE = re.compile(
    r"^\W*(?:on|for|with)?\s*(?:each|every|per|either)\s+(?:side|leg|foot|arm|hand|shoulder|knee|hip)\b", re.I
)
_QUALIFIER = re.compile(
    r"\b(?:about|around|roughly|approximately|approx\.|some|up to|at least|no more than|"
    r"no less than|a good|at most)\s+$",
    re.I,
)
_EVERY_BEFORE = re.compile(r"\b(?:every|each|per)\s*$", re.I)


@dataclass(frozen=True)
class Span:
    """A time the article gives, and the words that gave it."""

    lo_ms: int
    hi_ms: int
    words: str
    start: int  # where the words are in the sentence
    end: int
    per_side: bool = False  # "30 seconds on each side": the step lasts twice that
    vague: bool = False  # "a few minutes"


def number(word: str) -> float:
    """'2' -> 2, '1.5' -> 1.5, '1 1/2' and '1\u00bd' -> 1.5, 'forty-five' -> 45."""
    w = " ".join(word.lower().split())
    half = re.fullmatch(r"(\d*)\s*(?:1/2|\u00bd)", w)
    if half:
        return float(half.group(1) or 0) + 0.5
    return float(w) if re.fullmatch(r"\d+(\.\d+)?", w) else WORD_NUMBERS[w]


def unit_ms(unit: str) -> int:
    return _UNIT_MS[unit.lower()[0]]


def find(sentence: str) -> list[Span]:
    """Every span of time in the sentence, in order, none overlapping."""
    taken: list[tuple[int, int]] = []
    spans: list[Span] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(sentence):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            span = _read(kind, m, sentence)
            if span is None:
                continue
            taken.append((m.start(), m.end()))
            spans.append(span)
    return sorted(spans, key=lambda s: s.start)


def _read(kind: str, m: re.Match, sentence: str) -> Span | None:
    before = sentence[: m.start()]
    if _EVERY_BEFORE.search(before):
        return None
    g = m.groupdict()
    if (
        kind == "single"
        and g["a"].lower() in ("a", "an")
        and g["ub"].lower().startswith("sec")
        and not re.search(r"\b(for|about|around|wait|hold|pause|take|in)\s*$", before, re.I)
    ):
        return None  # "use a second towel": an ordinal
    vague = False
    if kind in ("unit-range",):
        lo = number(g["a"]) * unit_ms(g["ua"])
        hi = number(g["b"]) * unit_ms(g["ub"])
    elif kind == "range":
        u = unit_ms(g["ub"])
        lo, hi = number(g["a"]) * u, number(g["b"]) * u
    elif kind == "or-two":
        u = unit_ms(g["ub"])
        lo, hi = u, (2 if g["b"].lower() == "so" else number(g["b"])) * u
    elif kind == "and-a-half":
        if g["a"]:
            lo = hi = (number(g["a"]) + 0.5) * unit_ms(g["ub"])
        else:
            lo = hi = 1.5 * unit_ms(g["ub2"])
    elif kind == "half":
        lo = hi = 0.5 * unit_ms(g["ub"])
    elif kind == "vague":
        u = unit_ms(g["ub"])
        q = " ".join(g["q"].lower().split())
        lo, hi = (2, 3) if q != "several" else (3, 5)
        lo, hi, vague = lo * u, hi * u, True
        if q == "a couple of":
            lo = hi = 2 * u
            vague = False
    else:
        lo = hi = number(g["a"]) * unit_ms(g["ub"])
    if lo <= 0 or hi < lo:
        return None
    per_side = bool(_PER_SIDE.match(sentence[m.end() :]))
    start = m.start()
    qualifier = _QUALIFIER.search(before)
    if qualifier:  # "about 2 to 3 minutes": the words as the article has them
        start = qualifier.start()
    return Span(round(lo), round(hi), sentence[start : m.end()], start, m.end(), per_side, vague)


# --- does a sentence say only how long? --------------------------------------------------------------------

# Words that may stand around a time in a sentence that says nothing else:
# "Do this for about 2 to 3 minutes." "Two minutes is enough." "Continue for one minute."
_FILLER = set(
    """
do this that it for about around roughly approximately approx continue keep going repeat is are enough
here on each side per the a an total of in all up to at least no more than should take takes last lasts you
can just only or so until then and it's its minimum maximum give yourself allow let be will would your
massage them work rub
""".split()
)


def says_only_time(sentence: str, span: Span) -> bool:
    """True when, the time taken out, no word of substance is left.

    Such a sentence is not spoken: the session keeps the time itself. "Hold for 30 seconds." or
    "Spend a minute on the fingers." say what to do as well, and stay.
    """
    rest = (sentence[: span.start] + " " + sentence[span.end :]).lower()
    return not [w for w in re.findall(r"[a-z']+", rest.replace("\u2019", "'")) if w not in _FILLER]
