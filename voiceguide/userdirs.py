"""Where voiceguide keeps its settings and its cache unless told otherwise.

On Linux that is the XDG base directory rule, written out here because it is what platformdirs
answers there (a test compares the two) and importing platformdirs costs about 18 ms (it loads
tempfile, shutil and random), which ``voiceguide play`` would spend before its first sound.
Everywhere else platformdirs knows the platform's rule.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = "voiceguide"
CACHE_ENV = "VOICEGUIDE_CACHE_DIR"


def _xdg() -> bool:
    return sys.platform == "linux" and "ANDROID_DATA" not in os.environ


def _xdg_home(variable: str, default: str) -> Path:
    value = os.environ.get(variable, "").strip()
    return Path(value if value else os.path.expanduser(default)) / APP


def user_cache_dir() -> Path:
    if _xdg():
        return _xdg_home("XDG_CACHE_HOME", "~/.cache")
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP, appauthor=False))


def user_config_dir() -> Path:
    if _xdg():
        return _xdg_home("XDG_CONFIG_HOME", "~/.config")
    import platformdirs

    return Path(platformdirs.user_config_dir(APP))


def cache_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """explicit (--cache-dir), else $VOICEGUIDE_CACHE_DIR, else the user cache directory."""
    if explicit is not None and str(explicit) != "":
        return Path(explicit).expanduser()
    env = os.environ.get(CACHE_ENV, "")
    if env:
        return Path(env).expanduser()
    return user_cache_dir()
