"""The settings file: personal defaults for the same flags the commands take.

``$VOICEGUIDE_CONFIG``, else ``~/.config/voiceguide/config.toml`` (the platform's user config
folder). Top-level keys are flag names without the dashes and apply to every command that has the
flag; a ``[play]`` (or other command) table applies to that command only; ``[keys]`` remaps the
live player's keys. Flags given on the command line win.

    rate = 150
    music-volume = -20
    countdown = "60s,30s,10s"

    [export]
    bitrate = "192k"

    [keys]
    pause = "b"
    next = "pagedown"
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from voiceguide.errors import ConfigError
from voiceguide.player.keys import ACTIONS, normalize_key



def config_path() -> Path:
    explicit = os.environ.get("VOICEGUIDE_CONFIG")
    if explicit:
        return Path(explicit)
    from platformdirs import user_config_dir

    return Path(user_config_dir("voiceguide")) / "config.toml"


def load_settings(path: Path) -> dict[str, Any]:
    """The file's tables; an absent file is no settings, a broken one is an error."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    if not path.exists():
        if os.environ.get("VOICEGUIDE_CONFIG"):
            raise ConfigError("no such settings file (named by VOICEGUIDE_CONFIG)", path=path)
        return {}
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        # Python 3.14 adds e.lineno; before that the line is only in the message
        found = re.search(r"\(at line (\d+)", str(e))
        line = getattr(e, "lineno", None) or (int(found.group(1)) if found else None)
        message = str(e).split(" (at line")[0]
        raise ConfigError(f"malformed settings: {message}", path=path, line=line) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read the settings file: {e}", path=path) from None


def default_map(settings: Mapping[str, Any], commands: Mapping[str, set[str]], path: Path) -> dict[str, dict]:
    """Turn settings into click's ``default_map``: {command: {param_name: value}}.

    ``commands`` maps each command name to the parameter names it takes.
    """
    every = set().union(*commands.values()) if commands else set()
    out: dict[str, dict] = {name: {} for name in commands}

    def norm(key: str) -> str:
        return key.replace("-", "_")

    def unknown(key: str, known: set[str], where: str) -> ConfigError:
        shown = sorted(k.replace("_", "-") for k in known)
        hint = difflib.get_close_matches(key.replace("_", "-"), shown, n=1)
        also = f"; did you mean {hint[0]!r}?" if hint else ""
        return ConfigError(f"unknown setting {key!r}{where}{also}", path=path)

    for key, value in settings.items():
        if key == "keys":
            if not isinstance(value, dict):
                raise ConfigError("[keys] must be a table of action = \"key\"", path=path)
            for action, k in value.items():
                if action not in ACTIONS:
                    raise unknown(action, set(ACTIONS), " in [keys]")
                try:
                    normalize_key(k, action)
                except ConfigError as e:
                    raise ConfigError(e.message, path=path) from None
            if "play" in out:
                out["play"]["keymap"] = dict(value)
            continue
        if isinstance(value, dict):
            if key not in commands:
                raise unknown(key, set(commands), " (no such command)")
            for sub, v in value.items():
                if norm(sub) not in commands[key]:
                    raise unknown(sub, commands[key], f" in [{key}]")
                out[key][norm(sub)] = v
            continue
        if norm(key) not in every:
            raise unknown(key, every, "")
        for name, params in commands.items():
            if norm(key) in params:
                out[name].setdefault(norm(key), value)
    # a command's own table wins over the top level, whatever the order in the file
    for key, value in settings.items():
        if isinstance(value, dict) and key in commands:
            for sub, v in value.items():
                out[key][norm(sub)] = v
    return {k: v for k, v in out.items() if v}
