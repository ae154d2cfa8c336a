"""The frozen data every stage after the compiler shares.

Times are integer milliseconds from the start of the session. A cue's slot
[start_ms, end_ms) is the time its speech (or chime) occupies; cues never overlap.
The JSON form (``Timeline.to_json``) is the contract that ``voiceguide show --json``,
the tests, the player and the exporter share: seconds as floats, kinds as strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class CueKind(str, Enum):
    SETUP = "setup"  # set-up lines before the first step
    SAFETY = "safety"  # safety lines, spoken at the start and replayable
    ANNOUNCE = "announce"  # "Step 3 of 7: Petrissage."
    INSTRUCTION = "instruction"  # the step's instruction
    CUE = "cue"  # an author's cue at a fixed offset inside a step
    TIP = "tip"  # a step's tip, spoken as a mid-step reminder
    CHECKIN = "checkin"  # a routine-wide check-in line, every N seconds
    HALFWAY = "halfway"  # "Halfway through petrissage."
    SWITCH = "switch"  # "Switch sides." in a step with sides
    PREVIEW = "preview"  # "Next: circular motions."
    COUNTDOWN = "countdown"  # "30 seconds left."
    TRANSITION = "transition"  # a chime between steps (no text)
    CLOSING = "closing"  # closing lines after the last step, then a chime

    def __str__(self) -> str:  # pragma: no cover - cosmetic
        return self.value


#: Kinds that are spoken (have text and a TTS clip). TRANSITION is a chime.
SPOKEN_KINDS = frozenset(k for k in CueKind if k is not CueKind.TRANSITION)


@dataclass(frozen=True)
class Cue:
    start_ms: int
    end_ms: int
    kind: CueKind
    text: str  # "" for a chime
    step: int | None  # 1-based step index; None in the intro and the closing
    estimated: bool = False  # True when end_ms comes from an estimate, not a rendered clip

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms

    @property
    def spoken(self) -> bool:
        return self.kind in SPOKEN_KINDS

    def to_json(self) -> dict[str, Any]:
        return {
            "start_s": self.start_ms / 1000,
            "end_s": self.end_ms / 1000,
            "kind": self.kind.value,
            "text": self.text,
            "step": self.step,
            "estimated": self.estimated,
        }


@dataclass(frozen=True)
class Step:
    index: int  # 1-based position in the session
    number: int  # 1-based position in the routine (differs from index under --steps)
    title: str
    start_ms: int
    end_ms: int

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "number": self.number,
            "title": self.title,
            "start_s": self.start_ms / 1000,
            "end_s": self.end_ms / 1000,
        }


@dataclass(frozen=True)
class CheckinWait:
    """A check-in that came later than its longest spacing: no room for it sooner."""

    start_ms: int  # when the check-in is spoken
    waited_ms: int  # how far past the longest spacing

    def to_json(self) -> dict[str, Any]:
        return {"start_s": self.start_ms / 1000, "waited_s": self.waited_ms / 1000}


@dataclass(frozen=True)
class Timeline:
    title: str
    routine: str  # routine name or path, for tags and messages
    total_ms: int
    steps: tuple[Step, ...]
    cues: tuple[Cue, ...]  # sorted by start_ms, never overlapping
    pacing: dict[str, Any] = field(default_factory=dict)  # the pacing used, for tags and display
    checkin_waits: tuple[CheckinWait, ...] = ()  # check-ins that waited for room, in time order

    @property
    def total_s(self) -> float:
        return self.total_ms / 1000

    @property
    def intro_end_ms(self) -> int:
        return self.steps[0].start_ms if self.steps else self.total_ms

    @property
    def outro_start_ms(self) -> int:
        return self.steps[-1].end_ms if self.steps else 0

    @property
    def estimated(self) -> bool:
        return any(c.estimated for c in self.cues)

    def spoken_texts(self) -> list[str]:
        """Distinct texts the session speaks, in first-spoken order."""
        return list(dict.fromkeys(c.text for c in self.cues if c.spoken))

    def step_at(self, ms: int) -> Step | None:
        for s in self.steps:
            if s.start_ms <= ms < s.end_ms:
                return s
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "routine": self.routine,
            "total_s": self.total_ms / 1000,
            "estimated": self.estimated,
            "pacing": self.pacing,
            "steps": [s.to_json() for s in self.steps],
            "cues": [c.to_json() for c in self.cues],
            "checkin_waits": [w.to_json() for w in self.checkin_waits],
        }
