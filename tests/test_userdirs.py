"""The default folders: on Linux the XDG rule written out, which must answer as platformdirs does."""

from __future__ import annotations

import sys

import platformdirs
import pytest

from voiceguide import userdirs


@pytest.mark.skipif(sys.platform != "linux", reason="the XDG rule is written out on Linux only")
@pytest.mark.parametrize("cache_home, config_home", [(None, None), ("", " "), ("/x/cache", "/y/config")])
def test_the_folders_are_the_ones_platformdirs_names(monkeypatch, tmp_path, cache_home, config_home):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name, value in (("XDG_CACHE_HOME", cache_home), ("XDG_CONFIG_HOME", config_home)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert str(userdirs.user_cache_dir()) == platformdirs.user_cache_dir("voiceguide", appauthor=False)
    assert str(userdirs.user_config_dir()) == platformdirs.user_config_dir("voiceguide")


def test_an_explicit_folder_then_the_environment_then_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(userdirs.CACHE_ENV, str(tmp_path / "env"))
    assert userdirs.cache_dir(tmp_path / "given") == tmp_path / "given"
    assert userdirs.cache_dir(None) == tmp_path / "env"
    monkeypatch.delenv(userdirs.CACHE_ENV)
    assert userdirs.cache_dir("") == userdirs.user_cache_dir()


def test_play_reaches_its_first_sound_without_loading_platformdirs_or_numpy_first():
    """What play imports before it can start the device on a kept opening (prelude.find)."""
    import subprocess

    code = (
        "import sys, voiceguide.cli, voiceguide.config as c, voiceguide.userdirs as u, voiceguide.player.prelude as p;"
        "import voiceguide.player.opening;"
        "c.config_path(); p.find(u.cache_dir(None), 'x.pcm', 44100, 2);"
        "print(sorted(m for m in ('numpy', 'platformdirs', 'tomllib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
