"""Routine + Pacing -> Timeline: every cue and pause at an exact millisecond. Pure, no I/O.

How a session is laid out:

- Intro: ``lead_in`` of music, then the set-up lines, then the safety lines.
- Each step owns a slot of wall time (speech included). It opens with a chime, the announcement
  ("Step 3 of 7: Petrissage.") and the instruction. Cues an author pinned (``at: 1m``) come next,
  then the countdowns measured back from the slot's end, a preview of the next step after the first
  countdown, "switch sides" (or "halfway") in the middle, the step's tips spread through the free
  time, and the routine's check-ins every ``checkin_every`` (or within a range of spacings, aiming at
  its middle). Fixed cues that do not fit are dropped, never crammed in; tips and check-ins keep a
  clear margin from every other cue, and a check-in that had to wait past its longest spacing for
  room is listed in ``Timeline.checkin_waits``.
- Closing: the closing lines, a last chime, and a short tail of music.

Speech durations come from a function the caller gives (an estimate from words and rate before
the clips exist, the real clip lengths after), so the timeline that plays is exact.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from voiceguide.durations import format_ms
from voiceguide.errors import PacingError, excerpt
from voiceguide.routine import MAX_SESSION_MS, Routine, RoutineStep
from voiceguide.timeline import CheckinWait, Cue, CueKind, Step, Timeline

#: text -> (duration in ms, whether it is an estimate)
SpeechTimer = Callable[[str], "tuple[int, bool]"]

GAP_MS = 800  # silence between cues that follow one another
CLEAR_MS = 4_000  # tips and check-ins keep this far from any other cue
CHIME_MS = 1_500  # the slot a transition chime takes before the announcement (it rings on beneath it)
TAIL_MS = 4_000  # music after the last chime, so the end is not abrupt
STEP_MARGIN_MS = 2_000  # least free time a step keeps after its instruction
HALFWAY_MIN_MS = 90_000  # shorter steps get no "halfway" cue
PREVIEW_MS = 15_000  # without countdowns, the preview comes this long before the end
DEFAULT_CHECKIN_MS = 90_000

# The ranges of the pacing flags, in one place (the CLI and the settings file name them too).
#: espeak-ng, under every engine here, speaks no slower than 80 and no faster than 450 words a
#: minute, whatever it is asked; an estimate for another rate would not match the clips.
MIN_RATE_WPM, MAX_RATE_WPM = 80, 450
MIN_PACE, MAX_PACE = 0.1, 10.0
MAX_LEAD_IN_MS = 600_000
MAX_COUNTDOWN_MS = 3_600_000
MIN_CHECKIN_MS = 10_000


def check_rate(rate_wpm: object) -> None:
    """The one speech-rate rule (Pacing and the speech engines' settings both ask it)."""
    if isinstance(rate_wpm, bool) or not isinstance(rate_wpm, int):
        raise PacingError(f"--rate must be a whole number of words per minute, not {rate_wpm!r}")
    if not MIN_RATE_WPM <= rate_wpm <= MAX_RATE_WPM:
        raise PacingError(f"--rate {rate_wpm} is out of range; use {MIN_RATE_WPM} to {MAX_RATE_WPM} words per minute")


@dataclass(frozen=True)
class Pacing:
    """Everything a user can turn from the command line (see ``voiceguide show --help``)."""

    length_ms: int | None = None  # fit the whole session to this length
    pace: float = 1.0  # stretch every step by this factor
    rate_wpm: int = 160  # speech rate, words per minute
    steps: str | None = None  # "1-3,7" or titles; None = all
    lead_in_ms: int = 3_000
    countdowns_ms: tuple[int, ...] = (30_000, 10_000)
    checkins: bool = True
    checkin_every_ms: int | None = None  # None: the routine's, else 90 s; the least of a range
    tips: bool = True
    checkin_every_most_ms: int | None = None  # --checkin-every 60-90s: the most; None: one value

    def __post_init__(self) -> None:
        if not MIN_PACE <= self.pace <= MAX_PACE:  # NaN fails too
            raise PacingError(f"--pace {self.pace:g} is out of range; use {MIN_PACE:g} to {MAX_PACE:g}")
        check_rate(self.rate_wpm)
        if self.length_ms is not None and not 0 < self.length_ms <= MAX_SESSION_MS:
            raise PacingError(
                f"--length {format_ms(self.length_ms)} is out of range; use up to {format_ms(MAX_SESSION_MS)}"
            )
        if not 0 <= self.lead_in_ms <= MAX_LEAD_IN_MS:
            raise PacingError(f"--lead-in must be between 0s and {format_ms(MAX_LEAD_IN_MS)}")
        if any(c <= 0 or c > MAX_COUNTDOWN_MS for c in self.countdowns_ms):
            raise PacingError(f"--countdown times must be between 1s and {format_ms(MAX_COUNTDOWN_MS)}")
        for every in (self.checkin_every_ms, self.checkin_every_most_ms):
            if every is not None and not MIN_CHECKIN_MS <= every <= MAX_SESSION_MS:
                raise PacingError(
                    f"--checkin-every must be between {format_ms(MIN_CHECKIN_MS)} and {format_ms(MAX_SESSION_MS)}"
                )
        if self.checkin_every_most_ms is not None and (
            self.checkin_every_ms is None or self.checkin_every_most_ms < self.checkin_every_ms
        ):
            raise PacingError("--checkin-every: a range needs its shortest spacing first, like 60-90s")

    def describe(self) -> dict[str, Any]:
        most = (
            {}
            if self.checkin_every_most_ms is None or not self.checkins
            else {"checkin_every_most_s": self.checkin_every_most_ms / 1000}
        )
        return {
            "length_s": None if self.length_ms is None else self.length_ms / 1000,
            "pace": self.pace,
            "rate_wpm": self.rate_wpm,
            "steps": self.steps,
            "lead_in_s": self.lead_in_ms / 1000,
            "countdown_s": [c / 1000 for c in self.countdowns_ms],
            "checkin_every_s": (self.checkin_every_ms / 1000 if self.checkin_every_ms else None)
            if self.checkins
            else None,
            **most,
            **({} if self.tips else {"tips": False}),
        }


def estimate_speech_ms(text: str, rate_wpm: int) -> int:
    """A speech length from words and rate, close to espeak-ng's, for when no clip exists yet."""
    words = max(1, len(text.split()))
    sentence_pauses = len(re.findall(r"[.!?;:](\s|$)", text)) + 0.5 * text.count(",")
    return int(words * 60_000 / rate_wpm + sentence_pauses * 250 + 300)


def estimator(rate_wpm: int) -> SpeechTimer:
    return lambda text: (estimate_speech_ms(text, rate_wpm), True)


# --- step selection --------------------------------------------------------------------------------


def select_steps(routine: Routine, spec: str | None) -> list[int]:
    """Indices (0-based, routine order) picked by ``--steps`` (``1-3,7`` or titles)."""
    n = len(routine.steps)
    if spec is None or not spec.strip():
        return list(range(n))
    picked: dict[int, None] = {}  # in the order asked, each step once
    titles = [s.title.lower() for s in routine.steps]
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            raise PacingError(f"--steps {excerpt(spec)} has an empty item")
        m = re.fullmatch(r"([0-9]+)\s*(?:-\s*([0-9]+))?", part)
        if m:
            # a number past the step count is outside, however many digits (int() stops at 4,300)
            lo, hi = (int(g) if len(g) <= 9 else n + 1 for g in (m.group(1), m.group(2) or m.group(1)))
            if lo > hi:
                raise PacingError(f"--steps {excerpt(part)} runs backwards")
            if lo < 1 or hi > n:
                raise PacingError(f"--steps {excerpt(part)} is outside 1-{n} ({routine.title} has {n} steps)")
            picked.update(dict.fromkeys(range(lo - 1, hi)))
            continue
        wanted = part.lower()
        hits = [i for i, t in enumerate(titles) if t == wanted]
        hits = hits or [i for i, t in enumerate(titles) if t.startswith(wanted)]
        hits = hits or [i for i, t in enumerate(titles) if wanted in t]
        if len(hits) != 1:
            listed = ", ".join(s.title for s in routine.steps)
            what = "matches no step" if not hits else "matches several steps"
            raise PacingError(f"--steps {excerpt(part)} {what}; steps are: {excerpt(listed, 200)[1:-1]}")
        picked.setdefault(hits[0])
    return list(picked)


# --- placing cues inside a slot --------------------------------------------------------------------


class _Slot:
    """Occupied intervals inside one span of time; finds free room for new cues.

    The intervals never overlap (every cue is placed where ``fits`` says there is room, the head
    one after another), so their starts and ends are both sorted and a question about a time
    needs only its neighbours (a bisection). Finding the first gap wide enough is a search over
    the gaps between neighbours, which keeps the widest gap of each block of ``_BLOCK`` so that
    runs of narrow gaps are skipped a block at a time. Measured (scripts/bench_compile.py): 10,000
    tips in a 2-hour step place in about 0.1 s; the earlier scan over every interval for every
    candidate took 41 s for 2,000.
    """

    def __init__(self, start: int, end: int):
        self.start, self.end = start, end
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.gaps: list[int] = []  # gaps[i] = starts[i] - ends[i - 1]; gaps[0] is never asked
        self.widest: list[int] = []  # widest[k] = max(gaps[k * _BLOCK:(k + 1) * _BLOCK])

    @property
    def busy(self) -> list[tuple[int, int]]:
        return list(zip(self.starts, self.ends))

    def fits(self, t: int, dur: int, clear: int) -> bool:
        if t < self.start or t + dur > self.end:
            return False
        i = bisect_right(self.ends, t - clear)  # the first interval that ends within `clear` of t or later
        return i == len(self.starts) or t + dur + clear <= self.starts[i]

    def take(self, t: int, dur: int) -> None:
        i = bisect_left(self.starts, t)
        if (i > 0 and self.ends[i - 1] > t) or (i < len(self.starts) and self.starts[i] < t + dur):
            raise ValueError(f"cue at {t} ms overlaps another")  # a bug in the placement code
        self.starts.insert(i, t)
        self.ends.insert(i, t + dur)
        self.gaps.insert(i, t - self.ends[i - 1] if i else _NEVER)
        if i + 1 < len(self.starts):
            self.gaps[i + 1] = self.starts[i + 1] - (t + dur)
        # Every block from i on shifted by one; recomputing their maxima is a C-speed max per block.
        k = i // _BLOCK
        del self.widest[k:]
        gaps = self.gaps
        self.widest.extend(max(gaps[j : j + _BLOCK]) for j in range(k * _BLOCK, len(gaps), _BLOCK))

    def _first_wide_gap(self, lo: int, need: int) -> int:
        """The first index i >= lo with gaps[i] >= need, else len(gaps)."""
        gaps, n = self.gaps, len(self.gaps)
        first_block = lo // _BLOCK
        for i in range(lo, min(n, (first_block + 1) * _BLOCK)):
            if gaps[i] >= need:
                return i
        widest = self.widest
        for k in range(first_block + 1, len(widest)):
            if widest[k] >= need:
                for i in range(k * _BLOCK, min(n, (k + 1) * _BLOCK)):
                    if gaps[i] >= need:
                        return i
        return n

    def first_fit(self, earliest: int, dur: int, clear: int, latest: int | None = None) -> int | None:
        """The earliest start >= earliest with ``clear`` ms free around [t, t+dur).

        The candidates are ``earliest`` and every ``end + clear`` after it, in time order; one
        after the end of interval j fits when the gap to interval j + 1 holds the cue and both
        margins (or when j is the last interval).
        """
        latest = self.end if latest is None else latest
        if earliest > latest:
            return None
        if self.fits(earliest, dur, clear):
            return earliest
        n = len(self.starts)
        i = bisect_right(self.ends, earliest - clear)  # candidates come after intervals i, i+1, ...
        if i >= n:
            return None  # earliest is clear of every interval, so it failed on the slot's bounds
        j = self._first_wide_gap(i + 1, dur + 2 * clear) - 1
        t = self.ends[j] + clear
        if t > latest or not self.fits(t, dur, clear):
            return None  # later candidates are later still, or past the slot's end
        return t


#: A check-in this much later than its longest spacing is listed as having waited (a second or
#: two is only the clear margin round a neighbour, not a wait anyone notices).
WAIT_NOTICE_MS = 1_000

#: Intervals per block in _Slot's search; 64 keeps both the scan inside a block and the
#: recomputation of the blocks after an insertion short at 10,000 cues.
_BLOCK = 64
_NEVER = -(1 << 62)


@dataclass(frozen=True)
class _Placed:
    start: int
    dur: int
    kind: CueKind
    text: str


class _StepBuilder:
    def __init__(self, step: RoutineStep, index: int, count: int, next_title: str | None, timer: SpeechTimer):
        self.step, self.index, self.count, self.next_title = step, index, count, next_title
        self.timer = timer

    def announce_text(self) -> str:
        return f"Step {self.index} of {self.count}: {self.step.title}."

    def head_texts(self) -> list[tuple[CueKind, str]]:
        head = [(CueKind.ANNOUNCE, self.announce_text()), (CueKind.INSTRUCTION, self.step.instruction)]
        if self.step.sides:
            head.append((CueKind.SWITCH, f"Start on the {self.step.sides[0]} side."))
        return head

    def head_ms(self) -> int:
        """Chime, announcement and instruction: the least a slot must hold."""
        t = CHIME_MS
        for _, text in self.head_texts():
            t += self.timer(text)[0] + GAP_MS
        return t

    def min_ms(self) -> int:
        return self.head_ms() + STEP_MARGIN_MS


def compile_timeline(
    routine: Routine,
    pacing: Pacing | None = None,
    timer: SpeechTimer | None = None,
    *,
    fixed_ms: Mapping[int, int] | None = None,
) -> Timeline:
    """Lay the routine out in time.

    ``fixed_ms`` maps a session step index (1-based) to a slot length that overrides the
    routine's range (the live player's +/- keys); under ``--length`` the other steps re-fit.
    """
    pacing = pacing or Pacing()
    timer = _at_least_1ms(timer or estimator(pacing.rate_wpm))
    fixed_ms = dict(fixed_ms or {})
    chosen = select_steps(routine, pacing.steps)
    n = len(chosen)
    builders = []
    for pos, ri in enumerate(chosen):
        nxt = routine.steps[chosen[pos + 1]].title if pos + 1 < n else None
        builders.append(_StepBuilder(routine.steps[ri], pos + 1, n, nxt, timer))

    cues: list[Cue] = []

    def add(start: int, kind: CueKind, text: str, step: int | None, dur: int | None = None) -> int:
        if dur is None:
            dur, est = timer(text)
        else:
            est = False
        cues.append(Cue(start, start + dur, kind, text, step, est))
        return start + dur

    # Intro: lead-in, set-up, safety.
    t = pacing.lead_in_ms
    for kind, lines in ((CueKind.SETUP, routine.setup), (CueKind.SAFETY, routine.safety)):
        for line in lines:
            t = add(t, kind, line, None) + GAP_MS
    intro_ms = t

    # Closing length is known before the steps are laid out, so --length can fit exactly.
    closing_ms = CHIME_MS // 2 + sum(timer(line)[0] + GAP_MS for line in routine.closing) + CHIME_MS + TAIL_MS

    durations = _fit(builders, routine, pacing, fixed_ms, intro_ms, closing_ms)
    planned = intro_ms + sum(durations) + closing_ms
    if planned > MAX_SESSION_MS:
        # Far past any use, and the check-ins alone would be tens of thousands of cues.
        raise PacingError(
            f"this session would last {format_ms(planned)}; a session lasts at most "
            f"{format_ms(MAX_SESSION_MS)} (use --length, --steps or a smaller --pace)"
        )

    checkin_every = _checkin_spacing(routine, pacing)
    checkin_state: dict[str, Any] = {"next": 0, "last": intro_ms, "waits": []}

    steps: list[Step] = []
    for b, ri, dur in zip(builders, chosen, durations):
        start = t
        steps.append(Step(b.index, ri + 1, b.step.title, start, start + dur))
        for p in _place_step(b, start, dur, pacing, routine, checkin_every, checkin_state):
            cues.append(Cue(p.start, p.start + p.dur, p.kind, p.text, b.index, timer(p.text)[1] if p.text else False))
        t = start + dur

    # Closing: lines, a last chime, then the tail.
    t += CHIME_MS // 2
    for line in routine.closing:
        t = add(t, CueKind.CLOSING, line, None) + GAP_MS
    t = add(t, CueKind.TRANSITION, "", None, CHIME_MS)
    total = t + TAIL_MS

    cues.sort(key=lambda c: (c.start_ms, c.end_ms))
    return Timeline(
        title=routine.title,
        routine=routine.name,
        total_ms=total,
        steps=tuple(steps),
        cues=tuple(cues),
        pacing=pacing.describe(),
        checkin_waits=tuple(checkin_state["waits"]),
    )


def _checkin_spacing(routine: Routine, pacing: Pacing) -> tuple[int, int] | None:
    """(least, most) ms between check-ins: the flag's, else the routine's, else 90 s; None: none."""
    if not (pacing.checkins and routine.checkins):
        return None
    if pacing.checkin_every_ms:
        return pacing.checkin_every_ms, pacing.checkin_every_most_ms or pacing.checkin_every_ms
    if routine.checkin_every_ms:
        return routine.checkin_every_ms, routine.checkin_every_most_ms or routine.checkin_every_ms
    return DEFAULT_CHECKIN_MS, DEFAULT_CHECKIN_MS


def _at_least_1ms(timer: SpeechTimer) -> SpeechTimer:
    """Every cue lasts at least 1 ms: the placement search relies on intervals that never tie."""

    def timed(text: str) -> tuple[int, bool]:
        ms, estimated = timer(text)
        return max(1, int(ms)), estimated

    return timed


def _fit(
    builders: list[_StepBuilder],
    routine: Routine,
    pacing: Pacing,
    fixed_ms: Mapping[int, int],
    intro_ms: int,
    closing_ms: int,
) -> list[int]:
    """Each step's slot length: the range's middle times the pace, or fitted to --length."""
    lows, highs, mids = [], [], []
    for b in builders:
        need = b.min_ms()
        if b.index in fixed_ms:
            lo = hi = mid = max(need, fixed_ms[b.index])
        else:
            lo = max(need, round(b.step.min_ms * pacing.pace))
            hi = max(lo, round(b.step.max_ms * pacing.pace))
            mid = (lo + hi) // 2
        lows.append(lo)
        highs.append(hi)
        mids.append(mid)
    if pacing.length_ms is None:
        return mids
    room = pacing.length_ms - intro_ms - closing_ms
    shortest, longest = intro_ms + closing_ms + sum(lows), intro_ms + closing_ms + sum(highs)
    if not sum(lows) <= room <= sum(highs):
        raise PacingError(
            f"--length {format_ms(pacing.length_ms)} does not fit {routine.title}: "
            f"it can last from {format_ms(shortest)} to {format_ms(longest)}"
            + (f" at --pace {pacing.pace:g}" if pacing.pace != 1 else "")
            + " (use --steps to leave steps out, or --pace to stretch them)"
        )
    spread = sum(highs) - sum(lows)
    frac = (room - sum(lows)) / spread if spread else 0.0
    out = [lo + int((hi - lo) * frac) for lo, hi in zip(lows, highs)]
    # Rounding leaves a few ms; hand them to steps that still have room, last first.
    short = room - sum(out)
    for i in reversed(range(len(out))):
        give = min(short, highs[i] - out[i])
        out[i] += give
        short -= give
    return out


def _place_step(
    b: _StepBuilder,
    start: int,
    dur: int,
    pacing: Pacing,
    routine: Routine,
    checkin_every: tuple[int, int] | None,
    checkin_state: dict[str, Any],
) -> list[_Placed]:
    slot = _Slot(start, start + dur)
    placed: list[_Placed] = []

    def put(t: int, kind: CueKind, text: str, length: int | None = None) -> int:
        length = b.timer(text)[0] if length is None else length
        slot.take(t, length)
        placed.append(_Placed(t, length, kind, text))
        return t + length

    # Head: chime, announcement, instruction (and "start on the left side").
    t = put(start, CueKind.TRANSITION, "", CHIME_MS)
    for kind, text in b.head_texts():
        t = put(t, kind, text) + GAP_MS
    head_end = t
    end = start + dur

    # Author's cues at fixed offsets; pushed later if the head runs over them.
    for c in b.step.cues:
        length = b.timer(c.text)[0]
        at = slot.first_fit(max(start + c.at_ms, head_end), length, GAP_MS)
        if at is not None:
            put(at, CueKind.CUE, c.text, length)

    # Countdowns, measured back from the end; dropped when they would crowd the head.
    first_countdown_end = None
    for before in sorted(pacing.countdowns_ms, reverse=True):
        text = _countdown_text(before)
        length = b.timer(text)[0]
        at = end - before
        if at >= head_end and at + length <= end and slot.fits(at, length, GAP_MS):
            done = put(at, CueKind.COUNTDOWN, text, length)
            first_countdown_end = first_countdown_end or done

    # Preview of the next step, after the first countdown (or near the end without one).
    if b.next_title:
        text = f"Next: {b.next_title}."
        length = b.timer(text)[0]
        at = first_countdown_end + GAP_MS if first_countdown_end else end - PREVIEW_MS
        at = slot.first_fit(max(at, head_end), length, GAP_MS, latest=end - length - GAP_MS)
        if at is not None:
            put(at, CueKind.PREVIEW, text, length)

    # The middle: switch sides, or halfway in long steps.
    middle = start + dur // 2
    if b.step.sides:
        text = f"Now switch to the {b.step.sides[1]} side."
        kind = CueKind.SWITCH
    elif dur >= HALFWAY_MIN_MS:
        text = f"Halfway through {b.step.title.lower()}."
        kind = CueKind.HALFWAY
    else:
        text = ""
    if text:
        length = b.timer(text)[0]
        at = slot.first_fit(max(middle, head_end), length, GAP_MS, latest=middle + dur // 4)
        if at is not None:
            put(at, kind, text, length)

    # Tips, spread evenly through the free time, each well clear of other cues.
    # ... and before the countdowns, and clear of the next step's chime
    tail = min(end - (max(pacing.countdowns_ms) if pacing.countdowns_ms else PREVIEW_MS), end - CLEAR_MS)
    tips = b.step.tips if pacing.tips else ()
    for k, tip in enumerate(tips):
        length = b.timer(tip)[0]
        target = head_end + (tail - head_end) * (k + 1) // (len(tips) + 1)
        at = slot.first_fit(max(target, head_end + CLEAR_MS), length, CLEAR_MS, latest=tail - length)
        if at is not None:
            put(at, CueKind.TIP, tip, length)

    # Check-ins run on the session's clock across steps, rotating through the routine's lines.
    if checkin_every:
        least, most = checkin_every
        while checkin_state["last"] + least < end:
            last = checkin_state["last"]
            floor = head_end + CLEAR_MS
            text = routine.checkins[checkin_state["next"] % len(routine.checkins)]
            length = b.timer(text)[0]
            at = _checkin_fit(slot, last, least, most, floor, length, tail - length)
            if at is None:
                break  # no room left in this step; try again in the next one
            put(at, CueKind.CHECKIN, text, length)
            if at - (last + most) >= WAIT_NOTICE_MS:
                checkin_state["waits"].append(CheckinWait(at, at - (last + most)))
            checkin_state["next"] += 1
            checkin_state["last"] = at
    return placed


def _checkin_fit(slot: _Slot, last: int, least: int, most: int, floor: int, length: int, latest: int) -> int | None:
    """Where the check-in after one at ``last`` goes: in the second half of its range of spacings
    if there is room, else the first half, else the first room after (it waits)."""
    aim = (least + most) // 2
    for lo, hi in ((last + aim, last + most), (last + least, last + aim)):
        at = slot.first_fit(max(lo, floor), length, CLEAR_MS, latest=min(hi, latest))
        if at is not None:
            return at
    return slot.first_fit(max(last + least, floor), length, CLEAR_MS, latest=latest)


def _countdown_text(before_ms: int) -> str:
    s = before_ms // 1000
    if before_ms % 60_000 == 0:
        m = before_ms // 60_000
        return f"{m} minute{'s' if m != 1 else ''} left."
    if s >= 60:
        return f"{s // 60} minute{'s' if s >= 120 else ''} {s % 60} seconds left."
    return f"{s} second{'s' if s != 1 else ''} left."
