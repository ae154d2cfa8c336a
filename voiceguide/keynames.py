"""The live controls by name: what each action does, its default key, and the names keys go by.

The settings file (``config``) checks its ``[keys]`` table with the same ``Keymap`` the live
player looks each pressed key up in, so both import it from here and config never imports the
player.
A USB foot pedal is a keyboard, so every control is one key with no Enter.
"""

from __future__ import annotations

from collections.abc import Mapping

from voiceguide.errors import ConfigError

#: action -> what it does, in the order the display lists them
ACTIONS: dict[str, str] = {
    "pause": "pause",
    "next": "next",
    "back": "back",
    "repeat": "repeat",
    "extend": "longer",
    "shorten": "shorter",
    "safety": "safety",
    "quit": "quit",
}

DEFAULT_KEYMAP: dict[str, str] = {
    "pause": " ",
    "next": "n",
    "back": "p",
    "repeat": "r",
    "extend": "+",
    "shorten": "-",
    "safety": "s",
    "quit": "q",
}

# Names a settings file may use for keys that are awkward to write; the terminal's keys that are
# more than one character (arrows, page keys, function keys) are read as these names too.
NAMED_KEYS: dict[str, str] = {
    "space": " ",
    "enter": "enter",
    "return": "enter",
    "tab": "tab",
    "esc": "esc",
    "escape": "esc",
    "backspace": "backspace",
    "up": "up",
    "down": "down",
    "left": "left",
    "right": "right",
    "pageup": "pageup",
    "pagedown": "pagedown",
    "home": "home",
    "end": "end",
    **{f"f{i}": f"f{i}" for i in range(1, 13)},
}


def key_label(key: str) -> str:
    """How a key is shown in the help line."""
    return "space" if key == " " else key


def normalize_key(value: str, action: str = "") -> str:
    """A key as written in a settings file ("n", "space", "PageDown") -> the key ``read_key`` returns."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f'keys: {action or "a key"} needs a key, for example "n" or "space"')
    if len(value) == 1:
        if not value.isprintable():
            raise ConfigError(f"keys: {action}: use a key name instead of a control character")
        return value.lower() if value.isalpha() else value
    name = value.strip().lower().replace(" ", "").replace("_", "").replace("-", "")
    if name in NAMED_KEYS:
        return NAMED_KEYS[name]
    raise ConfigError(
        f"keys: {action}: unknown key {value!r} (a single character, or one of: {', '.join(sorted(NAMED_KEYS))})"
    )


class Keymap:
    """action -> key, the user's choices over the defaults, checked for clashes."""

    def __init__(self, overrides: Mapping[str, str] | None = None):
        keys = dict(DEFAULT_KEYMAP)
        for action, value in (overrides or {}).items():
            if action not in ACTIONS:
                raise ConfigError(f"keys: unknown action {action!r} (the actions are: {', '.join(ACTIONS)})")
            keys[action] = normalize_key(value, action)
        by_key: dict[str, str] = {}
        for action, key in keys.items():
            if key in by_key:
                raise ConfigError(f"keys: {key_label(key)!r} is given to both {by_key[key]} and {action}")
            by_key[key] = action
        self.keys = keys
        self._actions = by_key

    def action_for(self, key: str) -> str | None:
        """The action a pressed key means, if any; letters match in either case."""
        if key in self._actions:
            return self._actions[key]
        if len(key) == 1:
            return self._actions.get(key.lower())
        return None

    def help(self) -> tuple[tuple[str, str], ...]:
        """(key label, what it does), in display order."""
        return tuple((key_label(self.keys[a]), ACTIONS[a]) for a in ACTIONS)
