"""MixSettings: defaults and the values it refuses."""

from pathlib import Path

import pytest

from voiceguide.audio import MixSettings
from voiceguide.errors import ConfigError


def test_defaults():
    s = MixSettings()
    assert (s.sample_rate, s.channels, s.music, s.chime, s.duck_db) == (44100, 2, "builtin", "soft", 13.0)
    assert -30 < s.music_volume_db < -10 and s.cache_dir is None
    assert MixSettings(cache_dir="/tmp/x").cache_dir == Path("/tmp/x")


@pytest.mark.parametrize("kwargs", [dict(sample_rate=4000), dict(sample_rate=44100.0), dict(channels=3),
                                    dict(chime="gong"), dict(music=""), dict(music_volume_db=float("nan")),
                                    dict(music_volume_db=30), dict(duck_db=-1)])
def test_refused(kwargs):
    with pytest.raises(ConfigError):
        MixSettings(**kwargs)


def test_importing_the_package_does_not_import_numpy():
    import subprocess
    import sys
    code = "import sys, voiceguide.audio as a; a.MixSettings; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
