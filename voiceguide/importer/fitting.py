"""Step lengths the article leaves open, and, with ``--length``, ranges in which the session fits.

Without ``--length``, a step the article gives no time gets a default, marked in the draft:

- the middle of the times the article gives its other steps (their median shortest to median
  longest), since steps of one article tend to be alike;
- else, where the page's HowTo data gives a ``totalTime``, an even share of it;
- else 1-2 minutes, what massage and stretching guides most often give a step.

With ``--length``, the session is laid out by the compiler itself (the same estimate of speech
lengths that ``voiceguide show`` uses), and the ranges are chosen so that the length falls well
inside what the routine can last: the open steps share the time the given ones leave, and when
that is not enough every range is widened towards the length, with a note beside each one
changed. The margin (5% of the steps' time each way) leaves room for real speech running longer or
shorter than the estimate once the clips exist.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import replace

from voiceguide.compiler import Pacing, compile_timeline
from voiceguide.durations import format_ms
from voiceguide.errors import PacingError
from voiceguide.importer.draft import Draft, DraftStep
from voiceguide.routine import Routine, RoutineStep

DEFAULT_RANGE_MS = (60_000, 120_000)
FIT_MARGIN = 0.05
SHARE_SPREAD = 0.2  # an open step fitted to --length gets its share +-20%


def settle(draft: Draft, *, length_ms: int | None = None, total_ms: int | None = None) -> Draft:
    """Every step with a duration; with ``length_ms``, ranges the session can be fitted to."""
    steps = list(draft.steps)
    lo, hi, why = _default(steps, total_ms)
    steps = [
        s
        if s.min_ms is not None
        else replace(s, min_ms=lo, max_ms=hi, defaulted=True, timing=f"default: the article gives no time here ({why})")
        for s in steps
    ]
    if length_ms is not None:
        steps = _fit(draft, steps, length_ms)
    return replace(draft, steps=tuple(steps), length_ms=length_ms)


def _default(steps: list[DraftStep], total_ms: int | None) -> tuple[int, int, str]:
    given = [s for s in steps if s.min_ms is not None]
    open_count = len(steps) - len(given)
    if given:
        lo = nice(statistics.median(s.min_ms for s in given))
        hi = nice(statistics.median(s.max_ms for s in given))
        if lo == hi:
            lo, hi = nice(lo * 0.75), nice(hi * 1.25)
        return lo, hi, "the middle of the times it gives"
    if total_ms and open_count:
        share = total_ms / open_count
        if share >= 20_000:
            return nice(share * 0.8), nice(share * 1.2), f"a share of the page's totalTime, {format_ms(total_ms)}"
    return DEFAULT_RANGE_MS[0], DEFAULT_RANGE_MS[1], "nor for any step"


def nice(ms: float, *, up: bool = False) -> int:
    """Round to what a person would write: 5 s steps under a minute, 15 s under five, 30 s above."""
    step = 5_000 if ms < 60_000 else 15_000 if ms < 300_000 else 30_000
    n = math.ceil(ms / step - 1e-9) if up else round(ms / step)
    return max(step, int(n * step))


def to_routine(draft: Draft, steps: list[DraftStep] | tuple[DraftStep, ...] | None = None) -> Routine:
    """The routine the draft will load as (what the compiler lays out)."""
    steps = draft.steps if steps is None else steps
    return Routine(
        name="draft",
        source=draft.source,
        title=draft.title,
        description="",
        setup=tuple(l.text for l in draft.setup),
        safety=tuple(l.text for l in draft.safety),
        checkins=tuple(l.text for l in draft.checkins),
        checkin_every_ms=None,
        closing=tuple(l.text for l in draft.closing),
        steps=tuple(
            RoutineStep(
                s.title,
                " ".join(l.text for l in s.instruction),
                s.min_ms,
                s.max_ms,
                tuple(l.text for l in s.tips),
                (),
                s.sides,
            )
            for s in steps
        ),
    )


def _measure(draft: Draft, steps: list[DraftStep]) -> tuple[int, list[int]]:
    """(time outside the steps, the least each step can last) as the compiler lays them out."""
    tl = compile_timeline(to_routine(draft, steps))
    overhead = tl.total_ms - sum(s.end_ms - s.start_ms for s in tl.steps)
    # a step slot is never shorter than its chime, announcement and instruction: ask for 1 s to see it
    tiny = compile_timeline(to_routine(draft, [replace(s, min_ms=1000, max_ms=1000) for s in steps]))
    return overhead, [s.end_ms - s.start_ms for s in tiny.steps]


def _fit(draft: Draft, steps: list[DraftStep], length_ms: int) -> list[DraftStep]:
    overhead, floors = _measure(draft, steps)
    room = length_ms - overhead
    least = overhead + sum(floors) / (1 - FIT_MARGIN)
    if room * (1 - FIT_MARGIN) < sum(floors):
        raise PacingError(
            f"--length {format_ms(length_ms)} is too short for {len(steps)} steps with their set-up and "
            f"safety lines: the draft needs at least {format_ms(nice(least, up=True))}"
        )
    open_steps = [i for i, s in enumerate(steps) if s.defaulted]
    if open_steps:
        given = sum((s.min_ms + s.max_ms) / 2 for i, s in enumerate(steps) if i not in open_steps)
        share = (room - given) / len(open_steps)
        if share >= max(20_000, max(floors[i] for i in open_steps)):
            lo, hi = nice(share * (1 - SHARE_SPREAD)), nice(share * (1 + SHARE_SPREAD), up=True)
            for i in open_steps:
                steps[i] = replace(
                    steps[i],
                    min_ms=lo,
                    max_ms=hi,
                    timing=f"default: the article gives no time here (a share of --length {format_ms(length_ms)})",
                )
    if not _fits(steps, floors, room):
        mids = [max(f, (s.min_ms + s.max_ms) / 2) for s, f in zip(steps, floors)]
        scale = room / sum(mids)
        for i, (s, mid) in enumerate(zip(steps, mids)):
            target = mid * scale
            lo = min(s.min_ms, max(1000, nice(target * (1 - 2 * FIT_MARGIN))))
            hi = max(s.max_ms, nice(target * (1 + 2 * FIT_MARGIN), up=True))
            if (lo, hi) != (s.min_ms, s.max_ms):
                steps[i] = replace(
                    s, min_ms=lo, max_ms=hi, timing=f"{s.timing}; widened to fit --length {format_ms(length_ms)}"
                )
    try:
        compile_timeline(to_routine(draft, steps), Pacing(length_ms=length_ms))
    except PacingError as e:  # pragma: no cover - the margins above are meant to make this unreachable
        raise PacingError(f"could not choose ranges for --length {format_ms(length_ms)}: {e}") from None
    return steps


def _fits(steps: list[DraftStep], floors: list[int], room: float) -> bool:
    shortest = sum(max(f, s.min_ms) for s, f in zip(steps, floors))
    longest = sum(max(f, s.max_ms) for s, f in zip(steps, floors))
    return shortest <= room * (1 - FIT_MARGIN) and longest >= room * (1 + FIT_MARGIN)
