"""One live play of a session, start to finish: what ``voiceguide play`` is, as a library call.

    with LivePlay("auto", rate=44100, channels=2, cache_dir=cache, opening_name=name) as live:
        session = Session(...)                 # loads while the device opens and plays the opening
        result = live.play(session, display=PlainDisplay(sys.stdout), keys=None)

It joins up what the player is made of: the device opened in a thread of its own while the
session loads (opening.py) and started on the session's kept opening when there is one
(prelude.py), the session's mixer handed to the player with what its keys need (the retimer
behind + and -, the safety lines behind s), and the opening kept for the next play. The command
line only parses flags, picks the display and the keys for the terminal it has, and prints.

This module imports nothing heavy, so the device starts before numpy has loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from voiceguide.player.opening import OpeningOutput

if TYPE_CHECKING:  # pragma: no cover
    from voiceguide.player.controller import PlayResult
    from voiceguide.player.display import Display
    from voiceguide.player.keys import KeySource
    from voiceguide.session import Session

# How the device started, for the debug report: by the output's ``prelude_matched``.
_OPENINGS = {
    True: "started on its kept opening",
    False: "its kept opening was stale",
    None: "no kept opening",
}


class LivePlay:
    """The device, opened as this is entered (and started on the kept opening ``opening_name``
    in ``cache_dir``, if there is one), then ``play`` once; leaving closes what was not handed on.

    ``opening_name`` is ``prelude.name_for(routine, flags)``: None keeps no opening and looks for
    none (a caller that has no command's words to find one by).
    """

    def __init__(
        self,
        output_kind: str,
        *,
        rate: int,
        channels: int,
        cache_dir: Path,
        opening_name: str | None = None,
        device: str | None = None,
    ):
        self.output_kind, self.device = output_kind, device
        self.rate, self.channels = rate, channels
        self.cache_dir, self.opening_name = cache_dir, opening_name
        self._opening = OpeningOutput(output_kind, rate, channels, device)
        self._output: object | None = None

    def __enter__(self) -> LivePlay:
        self._opening.__enter__()
        if self.opening_name is not None:
            from voiceguide.player import prelude

            kept = prelude.find(self.cache_dir, self.opening_name, self.rate, self.channels)
            if kept is not None:
                self._opening.begin(kept)  # heard while the rest loads
        return self

    def __exit__(self, *exc: object) -> None:
        self._opening.__exit__(*exc)

    @property
    def opening(self) -> str:
        """How the device started: on the kept opening, on a stale one (given way to the
        session's own sound), or without one."""
        return _OPENINGS[getattr(self._output, "prelude_matched", None)]

    def play(
        self,
        session: Session,
        *,
        display: Display,
        keys: KeySource | None,
        keymap: dict[str, str] | None = None,
        on_end: Callable[[PlayResult], None] | None = None,
    ) -> PlayResult:
        """Play ``session`` (its mixer is built here if it is not yet) until it ends, the quit
        key or Ctrl-C (which fades out and re-raises), as ``play_session`` does; then keep its
        opening for the next play, unless the device started on that very opening."""
        from voiceguide.player.controller import PlayerOptions, play_session
        from voiceguide.session import Retimer
        from voiceguide.timeline import CueKind

        mixer = session.mixer()
        output = self._output = self._opening.result()  # the player owns it from here
        prepared = session.prepared
        options = PlayerOptions(output=self.output_kind, device=self.device, keymap=keymap)
        try:
            return play_session(
                mixer,
                options=options,
                display=display,
                keys=keys,
                output=output,
                retime=Retimer(prepared, mixer, session.background),
                safety_texts=[c.text for c in prepared.timeline.cues if c.kind is CueKind.SAFETY],
                on_end=on_end,
            )
        finally:
            # only an output that can start on a kept opening (the stream's) has a use for one
            can_begin = hasattr(output, "begin")
            if self.opening_name is not None and can_begin and getattr(output, "prelude_matched", None) is not True:
                from voiceguide.player import prelude

                prelude.keep(self.opening_name, session, prelude.opening(mixer), self.rate, self.channels)
