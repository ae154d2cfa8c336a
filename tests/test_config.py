"""The settings file feeds the same flags; the command line wins; mistakes are named."""

import subprocess
import sys

import pytest

from voiceguide.config import default_map, load_settings
from voiceguide.errors import ConfigError

COMMANDS = {"show": {"rate", "length", "as_json"}, "play": {"rate", "output", "keymap"}, "export": {"bitrate", "rate"}}


def test_top_level_keys_reach_every_command_that_has_the_flag(tmp_path):
    got = default_map({"rate": 150, "bitrate": "192k"}, COMMANDS, tmp_path / "c.toml")
    assert got == {"show": {"rate": 150}, "play": {"rate": 150}, "export": {"rate": 150, "bitrate": "192k"}}


def test_command_tables_win_over_the_top_level(tmp_path):
    got = default_map({"play": {"rate": 120}, "rate": 150}, COMMANDS, tmp_path / "c.toml")
    assert got["play"]["rate"] == 120 and got["show"]["rate"] == 150


def test_keys_table_becomes_the_players_keymap(tmp_path):
    got = default_map({"keys": {"pause": "b", "next": "pagedown"}}, COMMANDS, tmp_path / "c.toml")
    assert got == {"play": {"keymap": {"pause": "b", "next": "pagedown"}}}


@pytest.mark.parametrize(
    "settings, needle",
    [
        ({"rat": 150}, "did you mean 'rate'"),
        ({"play": {"outptu": "stream"}}, "did you mean 'output'"),
        ({"plya": {"rate": 1}}, "no such command"),
        ({"keys": {"pause": "spacebar"}}, "unknown key 'spacebar'"),
        ({"keys": {"jump": "j"}}, "unknown setting 'jump'"),
    ],
)
def test_mistakes_are_named(tmp_path, settings, needle):
    with pytest.raises(ConfigError, match=needle) as e:
        default_map(settings, COMMANDS, tmp_path / "c.toml")
    assert e.value.path == str(tmp_path / "c.toml")


def test_malformed_toml_names_the_line(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('rate = 150\nmusic = "unclosed\n')
    with pytest.raises(ConfigError) as e:
        load_settings(path)
    assert e.value.line == 2 and "malformed settings" in e.value.message


def test_missing_default_file_is_no_settings(tmp_path, monkeypatch):
    monkeypatch.delenv("VOICEGUIDE_CONFIG", raising=False)
    assert load_settings(tmp_path / "nope.toml") == {}
    monkeypatch.setenv("VOICEGUIDE_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="no such settings file"):
        load_settings(tmp_path / "nope.toml")


def test_the_settings_file_never_loads_the_player():
    # the key names it checks live in voiceguide.keynames, which the player imports too
    code = "import sys, voiceguide.config; bad = [m for m in sys.modules if 'player' in m]; assert not bad, bad"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
