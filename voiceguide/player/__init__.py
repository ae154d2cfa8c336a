"""Live, hands-free playback: outputs, the transport and its clock, the display, key controls.

The CLI calls ``play_session``; everything else here is what it is made of. Names are loaded on
first use, so importing this package (as the CLI does for every command) costs nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "PlayerOptions": "controller",
    "PlayResult": "controller",
    "play_session": "controller",
    "Display": "display",
    "PlainDisplay": "display",
    "Status": "display",
    "TerminalDisplay": "display",
    "ACTIONS": "keys",
    "DEFAULT_KEYMAP": "keys",
    "Keymap": "keys",
    "KeySource": "keys",
    "TerminalKeys": "keys",
    "list_devices": "output",
    "OpeningOutput": "opening",
}
__all__ = sorted(_WHERE)

if TYPE_CHECKING:  # pragma: no cover
    from voiceguide.player.controller import PlayerOptions, PlayResult, play_session  # noqa: F401
    from voiceguide.player.display import Display, PlainDisplay, Status, TerminalDisplay  # noqa: F401
    from voiceguide.player.keys import ACTIONS, DEFAULT_KEYMAP, Keymap, KeySource, TerminalKeys  # noqa: F401
    from voiceguide.player.opening import OpeningOutput  # noqa: F401
    from voiceguide.player.output import list_devices  # noqa: F401


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'voiceguide.player' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"voiceguide.player.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
