"""Where the session is while it plays: what to render next, and what was heard at any frame.

The output's audio thread pulls blocks from a ``Transport``; the control thread posts
commands (pause, seek, a repeated line, a re-timed session, stop). Every way of playing is a
small immutable state that renders frames and advances (``Play``, ``Hold``, ``Insert``), and
going from one to another is a state too (``Fade``), so no command cuts the sound, and the
state heard at any recent device frame can be rebuilt exactly: the display asks what is audible
now, and an output that hands out long buffers (simpleaudio) rewinds to the frame being heard
before it applies a command.

Device frames count what has been handed to the output since the start, pauses included;
session frames are positions in the mixer's timeline. Commands carry session positions already
resolved by the caller, so the audio thread only renders and never looks anything up.
"""

from __future__ import annotations

import bisect
import enum
import threading
from collections import deque
from dataclasses import dataclass, field, replace
from typing import ClassVar, Protocol, TypeAlias

import numpy as np

from voiceguide.timeline import Timeline

NEVER = 1 << 62  # frames until an event that will not happen


class Mode(str, enum.Enum):
    """What the person hears the session doing. A ``str`` too, so "paused" compares equal to
    ``Mode.PAUSED`` wherever a mode is written as text (a test's Status, the display's labels)."""

    PLAYING = "playing"
    PAUSED = "paused"
    REPEATING = "repeating"  # a line said again over the ducked bed, the session held
    STOPPED = "stopped"  # Ctrl-C or q: faded out, nothing more comes
    ENDED = "ended"  # heard to the end

    def __str__(self) -> str:
        return self.value  # "paused", not "Mode.PAUSED", in str() and f-strings on every Python


class MixerLike(Protocol):
    """What the player needs of voiceguide.audio's Mixer."""

    rate: int
    channels: int
    total_frames: int
    timeline: Timeline

    def frame_of_ms(self, ms: int) -> int: ...
    def render(self, start_frame: int, frames: int) -> np.ndarray: ...
    def music(self, start_frame: int, frames: int, ducked: bool) -> np.ndarray: ...
    def speech(self, text: str) -> np.ndarray: ...

    # optional: ``prepare(start_frame, frames) -> bool`` makes one clip placed in that range ready
    # ahead of its turn (True when there was one to make); see Transport.prepare_ahead


@dataclass(frozen=True)
class Fades:
    """How long each change of sound takes. Short enough to act at once, long enough not to click."""

    pause_ms: int = 300  # the music fades out when paused...
    resume_ms: int = 150  # ...and back in, from where it stopped
    jump_ms: int = 20  # next / back / restart: the target's first sound lands at full level
    duck_ms: int = 150  # into and out of a repeated line over the ducked bed
    stop_ms: int = 150  # Ctrl-C: fade, then close (with the server's buffer the whole stop
    # stays under 0.3 s)
    quit_ms: int = 500  # q: a gentler goodbye


def _ramp_in(done: int, n: int, length: int) -> np.ndarray:
    """Gain of the incoming side for frames done..done+n of a length-frame crossfade.

    sin^2 and cos^2 sum to one, so a fade between two copies of the same sound leaves it intact.
    """
    t = (np.arange(done, done + n, dtype=np.float64) + 0.5) / length
    return (np.sin(0.5 * np.pi * np.clip(t, 0.0, 1.0)) ** 2).astype(np.float32)[:, None]


# --- states ------------------------------------------------------------------------------
# Each state renders exactly n frames with n <= until_event(), advances by such n, and on
# reaching until_event() == 0 turns into another state through on_event().


@dataclass(frozen=True)
class Play:
    mixer: MixerLike
    pos: int
    mode: ClassVar[Mode] = Mode.PLAYING

    @property
    def session_frame(self) -> int:
        return self.pos

    def until_event(self) -> int:
        return max(0, self.mixer.total_frames - self.pos)

    def render(self, n: int) -> np.ndarray:
        return np.asarray(self.mixer.render(self.pos, n), dtype=np.float32)

    def advance(self, n: int) -> Play:
        return Play(self.mixer, self.pos + n)

    def on_event(self) -> Hold:
        return Hold(self.mixer, self.mixer.total_frames, Mode.ENDED)


@dataclass(frozen=True)
class Hold:
    """Silence at a held position: paused, stopped, or past the end."""

    mixer: MixerLike
    pos: int
    mode: Mode = Mode.PAUSED

    @property
    def session_frame(self) -> int:
        return self.pos

    def until_event(self) -> int:
        return NEVER

    def render(self, n: int) -> np.ndarray:
        return np.zeros((n, self.mixer.channels), np.float32)

    def advance(self, n: int) -> Hold:
        return self

    def on_event(self) -> Hold:  # pragma: no cover - never reached
        return self


@dataclass(frozen=True)
class Insert:
    """A line played over the ducked bed while the session holds its position at ``pos``."""

    mixer: MixerLike
    pos: int
    clip: np.ndarray = field(repr=False, compare=False)
    k: int = 0  # frames of the clip played so far
    then: Mode = Mode.PLAYING  # PLAYING, or PAUSED when the line was asked for while paused
    fade: int = 0  # frames of the fade back to the session
    done: bool = False
    mode: ClassVar[Mode] = Mode.REPEATING

    @property
    def session_frame(self) -> int:
        return self.pos

    def until_event(self) -> int:
        return NEVER if self.done else max(0, len(self.clip) - self.k)

    def render(self, n: int) -> np.ndarray:
        out = np.array(self.mixer.music(self.pos + self.k, n, ducked=True), dtype=np.float32)
        part = self.clip[self.k : self.k + n]
        out[: len(part)] += part
        return out

    def advance(self, n: int) -> Insert:
        return replace(self, k=self.k + n)

    def on_event(self) -> Fade:
        back: State
        if self.then == Mode.PAUSED:
            back = Hold(self.mixer, self.pos, Mode.PAUSED)
        else:
            back = Play(self.mixer, max(0, self.pos - self.fade))
        return Fade(replace(self, done=True), back, 0, max(1, self.fade))


@dataclass(frozen=True)
class Fade:
    """A crossfade from ``old`` to ``new``; both keep advancing while it lasts."""

    old: State
    new: State
    done: int
    length: int

    @property
    def mixer(self) -> MixerLike:
        return self.new.mixer

    @property
    def mode(self) -> Mode:
        return self.new.mode

    @property
    def session_frame(self) -> int:
        return self.new.session_frame

    def until_event(self) -> int:
        return min(self.length - self.done, self.old.until_event(), self.new.until_event())

    def render(self, n: int) -> np.ndarray:
        g = _ramp_in(self.done, n, self.length)
        new = self.new.render(n)
        out: np.ndarray = new * g if isinstance(self.old, Hold) else self.old.render(n) * (1.0 - g) + new * g
        return out  # (numpy types a product of two plain arrays as Any)

    def advance(self, n: int) -> Fade:
        return Fade(self.old.advance(n), self.new.advance(n), self.done + n, self.length)

    def on_event(self) -> State:
        if self.done >= self.length:
            return self.new
        if self.new.until_event() == 0:
            return Fade(self.old, self.new.on_event(), self.done, self.length)
        return Fade(self.old.on_event(), self.new, self.done, self.length)


#: every state the transport can be in; a Fade holds two of them
State: TypeAlias = Play | Hold | Insert | Fade


def advance(state: State, n: int) -> State:
    """``state`` after n more frames, through any events on the way."""
    while True:
        while state.until_event() == 0:
            state = state.on_event()
        if n == 0:
            return state
        m = min(n, state.until_event())
        state = state.advance(m)
        n -= m


# --- commands ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pause:
    """Pause, or resume when paused."""


@dataclass(frozen=True)
class Seek:
    frame: int  # session frame whose sound should be heard at full level first
    action: str = "seek"  # name kept in the event log (next, back, restart, repeat, ...)


@dataclass(frozen=True)
class Say:
    clip: np.ndarray = field(repr=False)  # the line(s), lead-in and tail included, gain applied
    action: str = "say"


@dataclass(frozen=True)
class Swap:
    mixer: MixerLike  # the re-timed session; the position keeps its offset in its step
    action: str = "retime"


@dataclass(frozen=True)
class Stop:
    fade_ms: int
    action: str = "stop"


#: what the control side may post
Command: TypeAlias = Pause | Seek | Say | Swap | Stop


@dataclass(frozen=True)
class Event:
    """A command as applied: at which device frame, and the session frame before and after."""

    device_frame: int
    action: str
    before: int
    after: int


@dataclass(frozen=True)
class Position:
    """What was heard at one device frame."""

    device_frame: int
    session_frame: int
    mode: Mode
    mixer: MixerLike

    @property
    def session_ms(self) -> int:
        return self.session_frame * 1000 // self.mixer.rate


def remap(old: Timeline, new: Timeline, ms: int) -> int:
    """A session time in ``old`` moved to ``new``: same offset in the same step (clamped to its end)."""
    step = old.step_at(ms)
    if step is not None:
        for s in new.steps:
            if s.index == step.index:
                return s.start_ms + min(ms - step.start_ms, s.duration_ms)
    if ms < old.intro_end_ms:
        return min(ms, new.intro_end_ms)
    return min(new.total_ms, new.outro_start_ms + (ms - old.outro_start_ms))


class Transport:
    """Thread-safe: ``pull``/``peek``/``rewind`` from the audio thread, ``post``/``at`` from any."""

    KEEP_S = 60  # how far back the history reaches (rewinds go back at most one buffer)

    def __init__(self, mixer: MixerLike, *, fades: Fades | None = None):
        self.rate = int(mixer.rate)
        self.channels = int(mixer.channels)
        self.fades = fades or Fades()
        self._lock = threading.Lock()
        self._pending: deque[Command] = deque()
        self._state: State = Play(mixer, 0)
        self._frame = 0
        self._history: list[tuple[int, State]] = [(0, self._state)]
        self.events: list[Event] = []
        self.end_frame: int | None = None  # device frame at which the sound ends (end or stop)

    def _frames(self, ms: int) -> int:
        return max(1, ms * self.rate // 1000)

    # --- the control side -------------------------------------------------------------------
    def post(self, command: Command) -> None:
        with self._lock:
            self._pending.append(command)

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    @property
    def frame(self) -> int:
        """Device frames handed out so far."""
        return self._frame

    @property
    def finished(self) -> bool:
        """Nothing more to hear beyond ``end_frame`` (the session ended or was stopped)."""
        return self.end_frame is not None

    @property
    def mixer(self) -> MixerLike:
        return self._state.mixer

    def at(self, device_frame: int) -> Position:
        """What is heard at ``device_frame`` (clamped to the history kept)."""
        with self._lock:
            d, _, state = self._lookup(device_frame)
            return Position(d, state.session_frame, state.mode, state.mixer)

    def _lookup(self, device_frame: int) -> tuple[int, int, State]:
        """(frame, history index, state there) for a device frame clamped to the history."""
        d = max(self._history[0][0], min(device_frame, self._frame))
        i = bisect.bisect_right(self._history, d, key=lambda e: e[0]) - 1
        start, state = self._history[i]
        return d, i, advance(state, d - start)

    # --- the audio side ---------------------------------------------------------------------
    def prepare_ahead(self, frames: int) -> bool:
        """Have the mixer make ready one clip placed within the next ``frames`` of the session,
        so no clip is made on its first use (a 5.8 s clip took 36 ms). For the thread that pulls,
        in its spare time; True when there was one to make."""
        with self._lock:
            state = self._state
        prepare = getattr(state.mixer, "prepare", None)
        return bool(prepare(state.session_frame, frames)) if prepare is not None else False

    def pull(self, frames: int, *, apply_pending: bool = True) -> np.ndarray:
        """The next ``frames`` frames, float32 (frames, channels); applies pending commands first.

        An output that hands out frames long before they are heard passes ``apply_pending=False``
        and applies commands after rewinding to the frame being heard.
        """
        with self._lock:
            if apply_pending:
                self._apply_pending()
            out, self._state = self._render(self._state, frames, record=True)
            self._frame += frames
            self._trim()
            return out

    def peek(self, frames: int) -> np.ndarray:
        """The frames that would follow, without moving on (for a crossfaded join)."""
        with self._lock:
            return self._render(self._state, frames, record=False)[0]

    def rewind(self, device_frame: int) -> None:
        """Go back to what was heard at ``device_frame``: later frames will be handed out again."""
        with self._lock:
            d, i, self._state = self._lookup(device_frame)
            del self._history[i + 1 :]
            self._history.append((d, self._state))
            self._frame = d
            self.events = [e for e in self.events if e.device_frame <= d]
            if self.end_frame is not None and self.end_frame > d:
                self.end_frame = None

    def _render(self, state: State, n: int, *, record: bool) -> tuple[np.ndarray, State]:
        out = np.empty((n, self.channels), np.float32)
        i = 0
        while True:
            while state.until_event() == 0:
                state = state.on_event()
                if record:
                    self._history.append((self._frame + i, state))
                    self._note_end(state, self._frame + i)
            if i == n:
                return out, state
            m = min(n - i, state.until_event())
            out[i : i + m] = state.render(m)
            state = state.advance(m)
            i += m

    def _note_end(self, state: State, frame: int) -> None:
        if self.end_frame is None and isinstance(state, Hold) and state.mode in (Mode.ENDED, Mode.STOPPED):
            self.end_frame = frame

    def _trim(self) -> None:
        keep_from = self._frame - self.KEEP_S * self.rate
        if len(self._history) > 256 and self._history[1][0] < keep_from:
            i = bisect.bisect_right(self._history, keep_from, key=lambda e: e[0]) - 1
            del self._history[: max(0, i)]

    def _apply_pending(self) -> None:
        while self._pending:
            cmd = self._pending.popleft()
            before = self._state
            after = self._apply(cmd, before)
            if after is before:
                continue
            self._state = after
            self._history.append((self._frame, after))
            if isinstance(cmd, Pause):
                action = "resume" if before.mode == Mode.PAUSED else "pause"
            else:
                action = cmd.action
            self.events.append(Event(self._frame, action, before.session_frame, after.session_frame))

    def _apply(self, cmd: Command, s: State) -> State:
        f = self.fades
        if s.mode == Mode.STOPPED or (self.end_frame is not None and not isinstance(cmd, Stop)):
            return s
        mixer, pos = s.mixer, s.session_frame
        if isinstance(cmd, Stop):
            if self.end_frame is not None:
                return s
            length = self._frames(cmd.fade_ms)
            self.end_frame = self._frame + length
            return Fade(s, Hold(mixer, pos, Mode.STOPPED), 0, length)
        if isinstance(cmd, Pause):
            if s.mode == Mode.PAUSED:
                # from exactly where it stopped, so later cues move by exactly the pause
                return Fade(s, Play(mixer, pos), 0, self._frames(f.resume_ms))
            return Fade(s, Hold(mixer, pos, Mode.PAUSED), 0, self._frames(f.pause_ms))
        if isinstance(cmd, Seek):
            target = max(0, min(cmd.frame, mixer.total_frames))
            length = self._frames(f.jump_ms)
            if s.mode == Mode.PAUSED:
                return Fade(s, Hold(mixer, target, Mode.PAUSED), 0, length)
            # start just before the target, so its first sound is at full level when it comes
            return Fade(s, Play(mixer, max(0, target - length)), 0, length)
        if isinstance(cmd, Say):
            clip = np.asarray(cmd.clip, dtype=np.float32)
            length = self._frames(f.duck_ms)
            then = Mode.PAUSED if s.mode == Mode.PAUSED else Mode.PLAYING
            return Fade(s, Insert(mixer, pos, clip, 0, then, length), 0, length)
        if isinstance(cmd, Swap):
            new = cmd.mixer
            ms = pos * 1000 // self.rate
            offset = pos - mixer.frame_of_ms(ms)  # keep the sub-millisecond part
            target = min(new.total_frames, new.frame_of_ms(remap(mixer.timeline, new.timeline, ms)) + offset)
            return self._rebase(s, new, target)
        raise TypeError(f"unknown transport command {cmd!r}")

    def _rebase(self, s: State, mixer: MixerLike, target: int) -> State:
        """The same kind of state, on another mixer, at another session frame, crossfaded in."""
        length = self._frames(self.fades.jump_ms)
        if s.mode == Mode.PAUSED:
            return Fade(s, Hold(mixer, target, Mode.PAUSED), 0, length)
        inner = s.new if isinstance(s, Fade) else s
        if isinstance(inner, Insert):
            # the line goes on where it is; only the bed under it (and the way back) moves
            return Fade(s, replace(inner, mixer=mixer, pos=target), 0, length)
        return Fade(s, Play(mixer, target), 0, length)
