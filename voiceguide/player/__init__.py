"""Live, hands-free playback: outputs, the transport and its clock, the display, key controls.

The CLI enters a ``LivePlay`` and calls its ``play``; everything else here is what it is made
of. Names are loaded on first use, so importing this package (as the CLI does for every command)
costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voiceguide.lazy import loader

_WHERE = {
    "PlayerOptions": "controller",
    "PlayResult": "controller",
    "play_session": "controller",
    "Display": "display",
    "PlainDisplay": "display",
    "Status": "display",
    "TerminalDisplay": "display",
    "ACTIONS": "voiceguide.keynames",  # shared with the settings file, so outside the player
    "DEFAULT_KEYMAP": "voiceguide.keynames",
    "Keymap": "voiceguide.keynames",
    "KeySource": "keys",
    "TerminalKeys": "keys",
    "list_devices": "output",
    "OpeningOutput": "opening",
    "LivePlay": "live",
}
__all__ = sorted(_WHERE)

if TYPE_CHECKING:  # pragma: no cover
    from voiceguide.keynames import ACTIONS, DEFAULT_KEYMAP, Keymap  # noqa: F401
    from voiceguide.player.controller import PlayerOptions, PlayResult, play_session  # noqa: F401
    from voiceguide.player.display import Display, PlainDisplay, Status, TerminalDisplay  # noqa: F401
    from voiceguide.player.keys import KeySource, TerminalKeys  # noqa: F401
    from voiceguide.player.live import LivePlay  # noqa: F401
    from voiceguide.player.opening import OpeningOutput  # noqa: F401
    from voiceguide.player.output import list_devices  # noqa: F401


__getattr__ = loader(__name__, {n: m if "." in m else f"{__name__}.{m}" for n, m in _WHERE.items()})
