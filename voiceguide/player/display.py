"""What the person sees while the session plays: a live screen, or one plain line per cue.

Displays write only to the stream they are given and never wait on anything but that stream;
the audio runs in its own thread, so a slow terminal delays the picture, never the sound. A
stream that goes away (a closed pipe) silences the display, not the session.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import IO, Protocol

from voiceguide.durations import format_clock
from voiceguide.player import font
from voiceguide.player.transport import Mode
from voiceguide.timeline import Cue, Step, Timeline


@dataclass(frozen=True)
class Status:
    """Everything a display shows, at one moment."""

    timeline: Timeline
    position_ms: int
    mode: Mode = Mode.PLAYING
    last_line: str = ""  # the line just spoken
    message: str = ""  # what the last control did
    keys: tuple[tuple[str, str], ...] = ()  # (key, what it does)

    @property
    def step(self) -> Step | None:
        return self.timeline.step_at(self.position_ms)

    @property
    def next_step(self) -> Step | None:
        for s in self.timeline.steps:
            if s.start_ms > self.position_ms:
                return s
        return None

    @property
    def where(self) -> str:
        """ "Step 2/7", "Intro" or "Closing"."""
        step = self.step
        if step is not None:
            return f"Step {step.index}/{len(self.timeline.steps)}"
        return "Intro" if self.position_ms < self.timeline.intro_end_ms else "Closing"

    @property
    def heading(self) -> str:
        step = self.step
        if step is not None:
            return step.title
        return "Getting ready" if self.position_ms < self.timeline.intro_end_ms else "Closing"

    @property
    def step_left_ms(self) -> int:
        step = self.step
        if step is not None:
            return step.end_ms - self.position_ms
        if self.position_ms < self.timeline.intro_end_ms:
            return self.timeline.intro_end_ms - self.position_ms
        return self.session_left_ms

    @property
    def step_progress(self) -> float:
        step = self.step
        if step is not None and step.duration_ms:
            return (self.position_ms - step.start_ms) / step.duration_ms
        if self.position_ms < self.timeline.intro_end_ms:
            return self.position_ms / max(1, self.timeline.intro_end_ms)
        span = self.timeline.total_ms - self.timeline.outro_start_ms
        return (self.position_ms - self.timeline.outro_start_ms) / max(1, span)

    @property
    def session_left_ms(self) -> int:
        return max(0, self.timeline.total_ms - self.position_ms)

    @property
    def progress(self) -> float:
        return min(1.0, max(0.0, self.position_ms / max(1, self.timeline.total_ms)))


class Display(Protocol):
    def cue(self, cue: Cue, status: Status) -> None:
        """A cue has just become audible."""

    def note(self, text: str, status: Status) -> None:
        """A control took effect ("Paused", "Step 3 is 30 s longer", ...)."""

    def update(self, status: Status) -> None:
        """A periodic refresh, a few times a second."""

    def close(self) -> None:
        """The session is over (or failed): leave the terminal as it was."""


class _Writer:
    def __init__(self, stream: IO[str]):
        self.stream = stream
        self.broken = False

    def write(self, text: str) -> None:
        if self.broken:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: stop showing, keep playing
            self.broken = True


class PlainDisplay:
    """One plain line per cue, for pipes, logs and --quiet: ``00:12  Step 1/7  Start gently...``."""

    def __init__(self, stream: IO[str]):
        self._out = _Writer(stream)

    def cue(self, cue: Cue, status: Status) -> None:
        if not cue.text:
            return  # a chime says nothing to write down
        where = _where_of(cue, status.timeline)
        self._out.write(f"{format_clock(cue.start_ms)}  {where}  {cue.text}\n")

    def note(self, text: str, status: Status) -> None:
        self._out.write(f"{format_clock(status.position_ms)}  {status.where}  ({text})\n")

    def update(self, status: Status) -> None:
        pass

    def close(self) -> None:
        pass


def _where_of(cue: Cue, timeline: Timeline) -> str:
    if cue.step is not None:
        return f"Step {cue.step}/{len(timeline.steps)}"
    return "Intro" if cue.start_ms < timeline.intro_end_ms else "Closing"


class TerminalDisplay:
    """A live screen: the step in block letters, time left, progress, next step, last line, keys.

    Draws on the terminal's alternate screen, so leaving it gives the terminal back unchanged.
    """

    def __init__(self, stream: IO[str], *, size: tuple[int, int] | None = None, unicode: bool | None = None):
        self._out = _Writer(stream)
        self._stream = stream
        self._size = size
        enc = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        self.unicode = unicode if unicode is not None else enc in ("utf8", "utf8sig")
        self._started = False
        self._last_frame: list[str] = []
        self._said = ""
        self._said_at = -1

    def _dimensions(self) -> tuple[int, int]:
        if self._size:
            return self._size
        try:
            import os

            sz = os.get_terminal_size(self._stream.fileno())
            return sz.columns, sz.lines
        except (OSError, AttributeError, ValueError):
            sz = shutil.get_terminal_size()
            return sz.columns, sz.lines

    def cue(self, cue: Cue, status: Status) -> None:
        self.update(status)

    def note(self, text: str, status: Status) -> None:
        self.update(status)

    def update(self, status: Status) -> None:
        cols, rows = self._dimensions()
        frame = self.render(status, cols, rows)
        if frame == self._last_frame:
            return
        self._last_frame = frame
        head = "" if self._started else "\x1b[?1049h\x1b[?25l"
        self._started = True
        body = "".join(f"\x1b[{i + 1};1H{line}\x1b[K" for i, line in enumerate(frame))
        self._out.write(head + body + f"\x1b[{len(frame) + 1};1H\x1b[J")

    def close(self) -> None:
        if self._started:
            self._out.write("\x1b[?25h\x1b[?1049l")
            self._started = False

    # --- layout: pure, so it can be tested as text ----------------------------------------
    def render(self, status: Status, cols: int, rows: int) -> list[str]:
        """The screen as lines; a short terminal loses the block letters, then the blank lines."""
        cols = max(20, cols)
        u = self.unicode
        bold, dim, reset = "\x1b[1m", "\x1b[2m", "\x1b[0m"

        def fit(text: str, n: int = cols) -> str:
            return _fit(text, n, u)

        tl = status.timeline
        state = _STATES.get(status.mode, status.mode)
        if not u:
            state = state.split(" ", 1)[-1]
        dot = "\u00b7" if u else "-"
        top = fit(f"{tl.title}  {dot}  {status.where}", cols - len(state) - 2)
        gap = " " * max(1, cols - len(top) - len(state))
        lines: list[tuple[str, str]] = [(f"{bold}{top}{reset}{gap}{bold}{state}{reset}", "text"), ("", "blank")]
        big = self._big(status.heading, cols)
        if big:
            lines += [(bold + ln + reset, "big") for ln in big]
            lines.append((bold + fit(status.heading) + reset, "small"))
        else:
            lines.append((bold + fit(status.heading.upper()) + reset, "text"))
        lines.append(("", "blank"))
        bar_w = max(10, min(40, cols - 42))
        lines.append(
            (fit(f"This step {_bar(status.step_progress, bar_w, u)} {format_clock(status.step_left_ms)} left"), "text")
        )
        lines.append(
            (
                fit(
                    f"Session   {_bar(status.progress, bar_w, u)} {format_clock(status.session_left_ms)} left"
                    f" of {format_clock(tl.total_ms)}"
                ),
                "text",
            )
        )
        lines.append(("", "blank"))
        nxt = status.next_step
        lines.append((fit(f"Next:  {nxt.title}" if nxt else "Next:  the end"), "text"))
        said = status.last_line
        quoted = (f"\u201c{said}\u201d" if u else f'"{said}"') if said else ""
        lines.append((fit(f"Said:  {quoted}"), "text"))
        lines.append(("", "blank"))
        lines += [(dim + fit(ln) + reset, "text") for ln in _wrap([f"{k} {what}" for k, what in status.keys], cols)]
        lines.append((fit(status.message), "text"))
        drop = ["small"]
        if len([ln for ln in lines if ln[1] not in drop]) > rows:
            drop = ["big"]
        if len([ln for ln in lines if ln[1] not in drop]) > rows:
            drop = ["big", "blank"]
        return [text for text, kind in lines if kind not in drop][:rows]

    def _big(self, text: str, cols: int) -> list[str] | None:
        pieces = font.wrap(text, cols)
        if not pieces or len(pieces) > 2:
            return None
        out: list[str] = []
        for i, piece in enumerate(pieces):
            if i:
                out.append("")
            out += [line.rstrip() for line in font.lines(piece, unicode=self.unicode) or []]
        return out


_STATES: dict[Mode, str] = {
    Mode.PLAYING: "\u25b6 playing",
    Mode.PAUSED: "\u2759\u2759 PAUSED",
    Mode.REPEATING: "\u21bb repeating",
    Mode.STOPPED: "\u25a0 stopping",
    Mode.ENDED: "\u25a0 finished",
}


def _wrap(pieces: list[str], cols: int, sep: str = "   ") -> list[str]:
    """Pieces joined into as few lines of at most ``cols`` as they fit in."""
    out: list[str] = []
    for p in pieces:
        if out and len(out[-1]) + len(sep) + len(p) <= cols:
            out[-1] += sep + p
        else:
            out.append(p)
    return out


def _bar(fraction: float, width: int, unicode: bool) -> str:
    fraction = min(1.0, max(0.0, fraction))
    full = int(round(fraction * width))
    if unicode:
        return "\u2595" + "\u2588" * full + "\u2591" * (width - full) + "\u258f"
    return "[" + "#" * full + "-" * (width - full) + "]"


def _fit(text: str, cols: int, unicode: bool = True) -> str:
    if len(text) <= cols:
        return text
    more = "\u2026" if unicode else "..."
    return text[: max(0, cols - len(more))] + more if cols > len(more) else text[: max(0, cols)]
