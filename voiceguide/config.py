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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from voiceguide.errors import ConfigError, excerpt
from voiceguide.keynames import ACTIONS, Keymap, normalize_key
from voiceguide.textfile import read_small_file

#: A settings file is a few lines; anything past this is not one (and /dev/zero never ends).
MAX_SETTINGS_BYTES = 64_000

#: command, parameter name, value -> the value the command gets, or ValueError saying why not.
Convert = Callable[[str, str, Any], Any]


class Settings(dict):
    """The file's tables, with ``lines``: (table or None, key) -> the line the key is on."""

    lines: dict[tuple[str | None, str], int]


def config_path() -> Path:
    explicit = os.environ.get("VOICEGUIDE_CONFIG")
    if explicit:
        return Path(explicit)
    from voiceguide.userdirs import user_config_dir

    return user_config_dir() / "config.toml"


def load_settings(path: Path) -> Settings:
    """The file's tables; an absent file is no settings, a broken one is an error."""
    try:
        exists = path.exists() or path.is_symlink()
    except OSError:
        exists = True  # let the read below say what is wrong
    if not exists:
        if os.environ.get("VOICEGUIDE_CONFIG"):
            raise ConfigError("no such settings file (named by VOICEGUIDE_CONFIG)", path=path)
        return Settings()
    if sys.version_info >= (3, 11):  # imported only for a file (6 ms before play's first sound)
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    data = read_small_file(path, MAX_SETTINGS_BYTES, ConfigError, "settings")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ConfigError("not UTF-8 text (save the settings file as UTF-8)", path=path, line=line) from None
    try:
        settings = Settings(tomllib.loads(text))
    except tomllib.TOMLDecodeError as e:
        # Python 3.14 adds e.lineno; before that the line is only in the message
        found = re.search(r"\(at line (\d+)", str(e))
        line = getattr(e, "lineno", None) or (int(found.group(1)) if found else None)
        message = str(e).split(" (at line")[0]
        raise ConfigError(f"malformed settings: {excerpt(message, 80)[1:-1]}", path=path, line=line) from None
    except RecursionError:
        raise ConfigError("malformed settings: values nested too deeply", path=path) from None
    settings.lines = key_lines(text)
    return settings


_HEADER = re.compile(r"\s*\[\s*([A-Za-z0-9_-]+|\"[^\"]*\")\s*\]\s*(?:#.*)?$")
_ASSIGN = re.compile(r"\s*([A-Za-z0-9_-]+|\"[^\"]*\")(?:\s*\.\s*([A-Za-z0-9_-]+|\"[^\"]*\"))?\s*=")


def key_lines(text: str) -> dict[tuple[str | None, str], int]:
    """Where each key is set: TOML's parser does not say, so the lines are read for it.

    Covers what a settings file holds (``key = value`` at the top, under ``[table]``, or dotted
    ``table.key = value``); a key it misses simply gets no line in messages.
    """
    lines: dict[tuple[str | None, str], int] = {}
    table: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header:
            table = header.group(1).strip('"')
            lines.setdefault((None, table), number)
            continue
        assign = _ASSIGN.match(line)
        if assign:
            first, second = assign.group(1).strip('"'), assign.group(2)
            where, key = (first, second.strip('"')) if second else (table, first)
            lines.setdefault((where, key), number)
            if second and table is None:
                lines.setdefault((None, first), number)
    return lines


def default_map(
    settings: Mapping[str, Any], commands: Mapping[str, set[str]], path: Path, convert: Convert | None = None
) -> dict[str, dict]:
    """Turn settings into click's ``default_map``: {command: {param_name: value}}.

    ``commands`` maps each command name to the parameter names it takes; ``convert`` checks a
    value for one of them (the CLI knows each flag's type) and may change it (150 -> 150).
    Every mistake names the settings file, the key, and its line where the file shows it.
    """
    every = set().union(*commands.values()) if commands else set()
    out: dict[str, dict] = {name: {} for name in commands}
    lines = getattr(settings, "lines", {})

    def norm(key: str) -> str:
        return key.replace("-", "_")

    def fail(message: str, table: str | None, key: str | None) -> ConfigError:
        line = lines.get((table, key)) if key is not None else lines.get((None, table)) if table else None
        return ConfigError(message, path=path, line=line)

    def unknown(key: str, known: set[str], where: str, table: str | None) -> ConfigError:
        shown = sorted(k.replace("_", "-") for k in known)
        hint = difflib.get_close_matches(key.replace("_", "-")[:40], shown, n=1)
        also = f"; did you mean {hint[0]!r}?" if hint else ""
        return fail(f"unknown setting {excerpt(key)}{where}{also}", table, key)

    def checked(command: str, key: str, value: Any, table: str | None) -> Any:
        if convert is None:
            return value
        try:
            return convert(command, norm(key), value)
        except ValueError as e:
            name = f"[{table}] {key}" if table else key
            raise fail(f"{name} = {_shown(value)}: {e}", table, key) from None

    for key, value in settings.items():
        if key == "keys":
            if not isinstance(value, dict):
                raise fail('[keys] must be a table of action = "key"', "keys", None)
            for action, k in value.items():
                if action not in ACTIONS:
                    raise unknown(action, set(ACTIONS), " in [keys]", "keys")
                try:
                    normalize_key(k, action)
                except ConfigError as e:
                    raise fail(e.message, "keys", action) from None
            try:
                Keymap(value)  # two actions on one key
            except ConfigError as e:
                raise fail(e.message, "keys", None) from None
            if "play" in out:
                out["play"]["keymap"] = dict(value)
            continue
        if key in commands and not isinstance(value, dict):
            raise fail(f"{key} must be a table ([{key}]) of settings for `voiceguide {key}`", None, key)
        if isinstance(value, dict) and key in commands:
            for sub, v in value.items():
                if norm(sub) not in commands[key] or norm(sub) == "keymap":
                    raise unknown(sub, commands[key] - {"keymap"}, f" in [{key}]", key)
                out[key][norm(sub)] = checked(key, sub, v, key)
            continue
        if norm(key) not in every or norm(key) == "keymap":
            if isinstance(value, dict):
                raise unknown(key, set(commands), " (no such command)", None)
            raise unknown(key, every - {"keymap"}, "", None)
        for name, params in commands.items():
            if norm(key) in params:
                out[name].setdefault(norm(key), checked(name, key, value, None))
    # a command's own table wins over the top level, whatever the order in the file
    for key, value in settings.items():
        if isinstance(value, dict) and key in commands:
            for sub, v in value.items():
                out[key][norm(sub)] = checked(key, sub, v, key)
    return {k: v for k, v in out.items() if v}


def _shown(value: Any) -> str:
    """A settings value as a message quotes it: short, and a table or list only by its kind."""
    if isinstance(value, str):
        return excerpt(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return excerpt(str(value), 20)[1:-1]
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"  # TOML dates and times
