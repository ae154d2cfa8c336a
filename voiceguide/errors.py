"""Every error the library raises on purpose, written for the person at the keyboard.

The CLI turns these into one line on stderr and an exit status, in one place; the library
never prints and never exits.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path


class VoiceguideError(Exception):
    """Base of every error meant for the user. ``exit_code`` is what the CLI exits with.

    One error may stand for several problems found in one file (``several``): its message and
    line are the first problem's, so a caller that wants one line still gets one, and
    ``problems`` holds them all, in file order, for the CLI to print one a line.
    """

    exit_code = 2

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.path = shown_path(path) if path is not None else None
        self.line = line
        self._problems: tuple[VoiceguideError, ...] = ()

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
        return f"{where}{self.message}"

    @property
    def problems(self) -> tuple[VoiceguideError, ...]:
        return self._problems or (self,)

    @classmethod
    def several(cls, problems: Sequence[VoiceguideError]) -> VoiceguideError:
        """One error carrying ``problems`` (at least one), which are already in file order."""
        first = problems[0]
        error = cls(first.message, path=first.path, line=first.line)
        error._problems = tuple(problems)
        return error


def shown_path(path: str | Path) -> str:
    """A path as a message shows it: on one line, printable, whatever bytes its name holds."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    if text.isprintable():
        return text
    # undecodable bytes in a name arrive as surrogate escapes: show them as \xNN
    text = os.fsencode(text).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def excerpt(text: str, limit: int = 30) -> str:
    """``text`` quoted for a message: at most ``limit`` characters, non-printable ones escaped.

    Messages quote what the user wrote so they can find it, never more than this: the input
    may be a file that was never meant to be read out (``validate /etc/shadow``).
    """
    shown = repr(text[:limit])
    return shown[:-1] + "…" + shown[-1] if len(text) > limit else shown


class RoutineError(VoiceguideError):
    """The routine file is malformed or says something impossible."""


class PacingError(VoiceguideError):
    """A pacing flag or setting is invalid, or the routine cannot be fitted to it."""


class ConfigError(VoiceguideError):
    """The settings file is malformed."""


class AudioInputError(VoiceguideError):
    """A music file or other audio input is missing, unreadable or not audio."""


class VoiceError(VoiceguideError):
    """A voice name the chosen speech engine (or, under ``auto``, every installed one) lacks."""


class DeviceChoiceError(VoiceguideError):
    """A --device name that fits no audio device here, or several."""


class ArticleError(VoiceguideError):
    """An article to import is unreadable, or is not a how-to (no steps in it)."""


class OutputError(VoiceguideError):
    """The output path cannot be written (missing folder, unknown extension, ...)."""


class CacheDirError(VoiceguideError):
    """A folder given as the cache is not one (``cache clear`` refuses to touch it)."""


class EnvironmentFault(VoiceguideError):
    """Something outside the input is wrong: a missing program, a full disk, no audio device."""

    exit_code = 1


class EngineError(EnvironmentFault):
    """A speech engine is missing, hung or crashed."""


class DeviceError(EnvironmentFault):
    """No audio device, a busy one, or one that went away."""


class DamagedClip(EnvironmentFault):
    """A cached clip failed its check when read, or changed while a session used it.

    A damaged clip has been taken out of the cache already; ``keys`` are the cache keys, so the
    session can render those clips again and go on. Seen by the user only when that fails too.
    """

    def __init__(self, message: str, *, keys: tuple[str, ...] = (), path: str | Path | None = None, reason: str = ""):
        super().__init__(message, path=path)
        self.keys = tuple(keys)
        self.reason = reason or message  # what was wrong, for a note once it has been repaired

    @classmethod
    def raise_all(cls, found: list[DamagedClip]) -> None:
        """Raise the one found, or one naming them all; nothing when the list is empty."""
        if len(found) == 1:
            raise found[0]
        if found:
            raise cls(
                f"{len(found)} cached clips were damaged (the first: {found[0]})",
                keys=tuple(k for e in found for k in e.keys),
                reason=f"{len(found)} cached clips were damaged (the first: {found[0].reason})",
            )
