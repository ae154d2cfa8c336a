"""Key names: the keymap and its checks, and the names a settings file may give keys."""

from __future__ import annotations

import pytest

from voiceguide.errors import ConfigError
from voiceguide.keynames import ACTIONS, DEFAULT_KEYMAP, Keymap, normalize_key


def test_the_default_keys_mean_what_the_help_says():
    km = Keymap()
    assert {km.action_for(k) for k in " nprs+-q"} == set(ACTIONS)
    assert km.action_for("N") == "next"  # caps lock on a pedal's keyboard still works
    assert km.action_for("x") is None and km.action_for("up") is None
    assert km.help()[0] == ("space", "pause") and km.help()[-1] == ("q", "quit")
    assert [a for a in DEFAULT_KEYMAP] == list(ACTIONS)


def test_remapping_moves_an_action_to_another_key():
    km = Keymap({"next": "PageDown", "back": "page up", "pause": "space", "quit": "Esc"})
    assert km.action_for("pagedown") == "next" and km.action_for("pageup") == "back"
    assert km.action_for("n") is None and km.action_for("p") is None
    assert km.action_for(" ") == "pause" and km.action_for("esc") == "quit"
    assert ("pagedown", "next") in km.help()


@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"jump": "j"}, ["unknown action", "jump", "pause, next"]),
        ({"next": "q"}, ["'q'", "next", "quit"]),
        ({"next": "hyperspace"}, ["unknown key", "hyperspace", "pagedown"]),
        ({"next": ""}, ["next needs a key"]),
        ({"next": "\x07"}, ["control character"]),
    ],
)
def test_a_bad_keymap_is_a_config_error_that_says_why(overrides, words):
    with pytest.raises(ConfigError) as e:
        Keymap(overrides)
    assert e.value.exit_code == 2
    for w in words:
        assert w in str(e.value)


def test_normalize_key():
    assert normalize_key("N") == "n" and normalize_key("+") == "+" and normalize_key("Space") == " "
    assert normalize_key("F5") == "f5" and normalize_key("page_down") == "pagedown"
