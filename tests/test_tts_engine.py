"""Settings validation and the engine registry (auto resolution, unknown names, voice lists)."""

from __future__ import annotations

import pytest

from voiceguide.cli import cli
from voiceguide.errors import EngineError, PacingError
from voiceguide.tts import (
    Engine,
    Synth,
    Voice,
    VoiceSettings,
    engine_names,
    get_engine,
    list_voices,
    register_engine,
    resolve_engine,
)
from voiceguide.tts import engine as engines


class Listed(Engine):
    """A registry-only fake: it never renders, it only says whether it is installed."""

    def __init__(self, name: str, installed: bool):
        self.name = name
        self.installed = installed
        self.install_hint = f"get {name} somewhere"

    def available(self) -> bool:
        return self.installed

    def version(self) -> str:
        return "1"

    def voices(self) -> list[Voice]:
        return [Voice(self.name, "v1", "en", "a test voice")]

    def open(self, settings: VoiceSettings, jobs: int, timeout_s: float) -> Synth:
        raise AssertionError("not used")


@pytest.fixture
def fakes(fake_engines):
    def add(name: str, installed: bool) -> None:
        fake_engines(name, lambda: Listed(name, installed))

    return add


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"rate_wpm": 10}, "use 80 to 450"),
        ({"rate_wpm": 1000}, "use 80 to 450"),
        ({"rate_wpm": 150.5}, "whole number"),
        ({"volume": 0}, "above 0"),
        ({"volume": 1.5}, "at most 1"),
        ({"voice": "  "}, "voice name is empty"),
    ],
)
def test_settings_refuse_impossible_values(kwargs, match):
    with pytest.raises(PacingError, match=match):
        VoiceSettings(**kwargs)


@pytest.mark.parametrize("command", ["play", "export"])
def test_the_command_line_defaults_are_the_librarys(command):
    """One place for each default: the voice options a command shows are VoiceSettings' own."""
    shown = {p.name: p.default for p in cli.commands[command].params}
    s = VoiceSettings()
    assert (shown["engine"], shown["rate"], shown["volume"]) == (s.engine, s.rate_wpm, s.volume)
    assert s.voice is None  # the engine's own default voice unless --voice names one


def test_builtins_are_registered():
    assert {"espeak-ng", "pyttsx3", "piper"} <= set(engine_names())
    assert get_engine("espeak-ng") is get_engine("espeak-ng")  # one instance per process


def test_unknown_engine_names_the_choices():
    with pytest.raises(PacingError, match=r"unknown speech engine 'festival' \(choose from auto, .*espeak-ng"):
        resolve_engine(VoiceSettings(engine="festival"))


def test_auto_takes_the_first_installed_in_order(fakes, monkeypatch):
    fakes("fake-best", False)
    fakes("fake-good", True)
    fakes("fake-last", True)
    monkeypatch.setattr(engines, "AUTO_ORDER", ("fake-best", "fake-good", "fake-last"))
    assert resolve_engine(VoiceSettings()) == "fake-good"


def test_auto_with_nothing_installed_says_what_to_install(fakes, monkeypatch):
    fakes("fake-none", False)
    monkeypatch.setattr(engines, "AUTO_ORDER", ("fake-none", "not-registered"))
    with pytest.raises(EngineError, match="apt-get install espeak-ng"):
        resolve_engine(VoiceSettings())


def test_a_missing_engine_asked_by_name_says_how_to_install(fakes):
    fakes("fake-missing", False)
    with pytest.raises(EngineError, match="fake-missing speech engine is not installed; get fake-missing somewhere"):
        resolve_engine(VoiceSettings(engine="fake-missing"))


def test_list_voices_of_one_and_of_all(fakes):
    fakes("fake-on", True)
    fakes("fake-off", False)
    assert list_voices("fake-on") == [Voice("fake-on", "v1", "en", "a test voice")]
    with pytest.raises(EngineError):
        list_voices("fake-off")
    everything = list_voices()
    assert Voice("fake-on", "v1", "en", "a test voice") in everything
    assert not any(v.engine == "fake-off" for v in everything)
    assert any(v.engine == "espeak-ng" for v in everything)  # the real built-in is there too


def test_registration_replaces_and_refuses_reserved_names(fakes):
    fakes("fake-x", True)
    first = get_engine("fake-x")
    register_engine("fake-x", lambda: Listed("fake-x", False))
    assert get_engine("fake-x") is not first and not get_engine("fake-x").available()
    with pytest.raises(ValueError):
        register_engine("auto", lambda: Listed("auto", True))


def test_the_default_voice_key_is_the_voice_name():
    e = Listed("k", True)
    assert e.voice_key(None) == "" and e.voice_key("en-us") == "en-us"
    assert e.sample_rate("x") == 0
    with pytest.raises(EngineError):
        Listed("gone", False).require()
