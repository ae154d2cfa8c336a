"""MixSettings: defaults and the values it refuses."""

from pathlib import Path

import pytest

from voiceguide.audio import MixSettings
from voiceguide.cli import cli
from voiceguide.errors import ConfigError


@pytest.mark.parametrize("command", ["play", "export"])
def test_the_command_line_defaults_are_the_librarys(command):
    """One place for each default: the options a command shows are MixSettings' own."""
    shown = {p.name: p.default for p in cli.commands[command].params}
    s = MixSettings()
    assert (shown["sample_rate"], shown["music"], shown["chime"]) == (s.sample_rate, s.music, s.chime)
    assert s.channels == 2 and s.cache_dir is None  # --mono and --cache-dir change them only when given
    assert -30 < s.music_volume_db < -10  # music under the voice, still heard


def test_a_cache_dir_becomes_a_path():
    assert MixSettings(cache_dir="/tmp/x").cache_dir == Path("/tmp/x")


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(sample_rate=4000),
        dict(sample_rate=44100.0),
        dict(channels=3),
        dict(chime="gong"),
        dict(music=""),
        dict(music_volume_db=float("nan")),
        dict(music_volume_db=30),
        dict(duck_db=-1),
    ],
)
def test_refused(kwargs):
    with pytest.raises(ConfigError):
        MixSettings(**kwargs)


def test_importing_the_package_does_not_import_numpy():
    import subprocess
    import sys

    code = "import sys, voiceguide.audio as a; a.MixSettings; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
