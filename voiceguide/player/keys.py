"""Single keypresses from a terminal, as the names ``voiceguide.keynames`` gives them.

A USB foot pedal is a keyboard, so every control is one key with no Enter. ``TerminalKeys``
reads keys from a terminal in cbreak mode and always puts the terminal back as it found it;
which control a key means is the ``keynames.Keymap``'s to say.
"""

from __future__ import annotations

import os
import select
import sys
import time
from typing import IO, Any, Protocol

# How the terminal sends the keys pedals like to send (arrows, page keys, function keys), as the
# names keynames.NAMED_KEYS gives them.
_SEQUENCES: dict[str, str] = {
    "\x1b[A": "up",
    "\x1b[B": "down",
    "\x1b[C": "right",
    "\x1b[D": "left",
    "\x1bOA": "up",
    "\x1bOB": "down",
    "\x1bOC": "right",
    "\x1bOD": "left",
    "\x1b[H": "home",
    "\x1b[F": "end",
    "\x1bOH": "home",
    "\x1bOF": "end",
    "\x1b[1~": "home",
    "\x1b[4~": "end",
    "\x1b[5~": "pageup",
    "\x1b[6~": "pagedown",
    "\x1bOP": "f1",
    "\x1bOQ": "f2",
    "\x1bOR": "f3",
    "\x1bOS": "f4",
    "\x1b[15~": "f5",
    "\x1b[17~": "f6",
    "\x1b[18~": "f7",
    "\x1b[19~": "f8",
    "\x1b[20~": "f9",
    "\x1b[21~": "f10",
    "\x1b[23~": "f11",
    "\x1b[24~": "f12",
}
_CONTROL: dict[str, str] = {"\r": "enter", "\n": "enter", "\t": "tab", "\x7f": "backspace", "\x08": "backspace"}


class KeySource(Protocol):
    """Where keypresses come from: a terminal, or a script in tests."""

    def read_key(self, timeout: float) -> str | None:
        """The next key (a character or a name such as "up"), or None after ``timeout`` seconds."""


def decode_keys(text: str) -> tuple[list[str], str]:
    """Keys in ``text``, and an unfinished escape sequence left over for the next read."""
    keys: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\x1b":
            rest = text[i:]
            for seq, name in _SEQUENCES.items():
                if rest.startswith(seq):
                    keys.append(name)
                    i += len(seq)
                    break
            else:
                if rest in ("\x1b", "\x1b[", "\x1bO") or (rest.startswith("\x1b[") and rest[2:].isdigit()):
                    return keys, rest  # more of it is on its way
                if rest.startswith("\x1b[") or rest.startswith("\x1bO"):
                    # an escape sequence we do not know: skip it whole, it is no key of ours
                    j = 2
                    while j < len(rest) and not (rest[j].isalpha() or rest[j] == "~"):
                        j += 1
                    i += j + 1
                else:
                    keys.append("esc")
                    i += 1
            continue
        keys.append(_CONTROL.get(ch, ch))
        i += 1
    return keys, ""


class TerminalKeys:
    """Single keys from a terminal, without Enter or echo, as a context manager.

    Inside ``with``, the terminal is in cbreak mode (Ctrl-C still interrupts); leaving the block,
    however it is left, restores the settings it had. When the stream is not a terminal (piped,
    /dev/null) no key ever comes and ``read_key`` only waits.
    """

    ESCAPE_WAIT_S = 0.03  # the rest of an escape sequence arrives within this, or it was Esc

    def __init__(self, stream: IO[str] | None = None):
        self.stream = stream if stream is not None else sys.stdin
        self._saved: list[Any] | None = None  # termios's attributes, as tcgetattr gives them
        self._fd: int | None = None
        self._pending: list[str] = []
        self._partial = ""
        self._closed_input = False

    @staticmethod
    def available(stream: IO[str] | None = None) -> bool:
        stream = stream if stream is not None else sys.stdin
        try:
            return stream.isatty()
        except (AttributeError, ValueError):
            return False

    def __enter__(self) -> TerminalKeys:
        if not self.available(self.stream):
            self._closed_input = True
            return self
        self._fd = self.stream.fileno()
        if os.name == "nt":  # pragma: no cover - msvcrt reads keys without a mode change
            return self
        import termios
        import tty

        self._saved = termios.tcgetattr(self._fd)
        tty.setcbreak(self._fd, termios.TCSANOW)
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()

    def restore(self) -> None:
        if self._saved is not None and self._fd is not None:
            import termios

            try:
                termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
            except (termios.error, OSError):
                pass
            self._saved = None

    def read_key(self, timeout: float) -> str | None:
        if self._pending:
            return self._pending.pop(0)
        if self._closed_input or self._fd is None:
            time.sleep(timeout)
            return None
        if os.name == "nt":  # pragma: no cover
            return self._read_msvcrt(timeout)
        deadline = time.monotonic() + timeout
        while True:
            wait = max(0.0, deadline - time.monotonic())
            if self._partial:
                wait = min(wait, self.ESCAPE_WAIT_S) if wait else self.ESCAPE_WAIT_S
            try:
                ready, _, _ = select.select([self._fd], [], [], wait)
            except InterruptedError:  # pragma: no cover - PEP 475 retries, kept for old kernels
                continue
            if not ready:
                if self._partial:  # nothing followed: it was a key on its own (Esc, Alt-...)
                    keys, self._partial = decode_keys(self._partial + "\x00")
                    self._pending.extend(k for k in keys if k != "\x00")
                    if self._pending:
                        return self._pending.pop(0)
                if time.monotonic() >= deadline:
                    return None
                continue
            data = os.read(self._fd, 64)
            if not data:  # the terminal went away: no more keys, but the session may go on
                self._closed_input = True
                return None
            keys, self._partial = decode_keys(self._partial + data.decode("utf-8", "replace"))
            self._pending.extend(keys)
            if self._pending:
                return self._pending.pop(0)
            if time.monotonic() >= deadline and not self._partial:
                return None

    def _read_msvcrt(self, timeout: float) -> str | None:  # pragma: no cover - Windows only
        # only called where os.name == "nt", which is sys.platform == "win32": mypy knows only the
        # latter, and checks the rest of this function when it checks for Windows
        if sys.platform != "win32":
            raise OSError("msvcrt reads keys on Windows only")
        import msvcrt

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if msvcrt.kbhit():
                ch = msvcrt.getwch()
                if ch in ("\x00", "\xe0"):
                    code = msvcrt.getwch()
                    return {"H": "up", "P": "down", "K": "left", "M": "right", "I": "pageup", "Q": "pagedown"}.get(code)
                return _CONTROL.get(ch, ch)
            time.sleep(0.01)
        return None
