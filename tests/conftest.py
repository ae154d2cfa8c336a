"""Fixtures more than one test module uses, in one place (test modules do not import each other).

Helpers that are plain functions and classes stay in the support modules beside this file
(audio_server.py, fs_support.py, test_audio_support.py); a fixture here only wires them up.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from audio_server import AudioServer, audio_server_fixture

ROOT = Path(__file__).resolve().parents[1]


# --- the private sound server ---------------------------------------------------------------


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that plays through the private server is marked ``audio``, whether or not its
    module says so, so ``-m "not audio"`` leaves out all the timing-sensitive ones (seven were
    missed when the mark was set by hand)."""
    for item in items:
        if "server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.audio)


@pytest.fixture(scope="module")
def server() -> Iterator[AudioServer]:
    """A PulseAudio server of this module's own, with a null sink whose monitor is recorded."""
    yield from audio_server_fixture()


@pytest.fixture
def pulse_env(server: AudioServer, monkeypatch: pytest.MonkeyPatch) -> AudioServer:
    """This process's audio goes to the private server."""
    for k, v in server.env.items():
        monkeypatch.setenv(k, v)
    return server


# --- settings and cache isolated per test ------------------------------------------------------


@pytest.fixture
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty settings file and a cache folder of the test's own; returns the settings file."""
    settings = tmp_path / "settings.toml"
    settings.write_text("")
    monkeypatch.setenv("VOICEGUIDE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("VOICEGUIDE_CONFIG", str(settings))
    return settings


# --- temp files and cached clips --------------------------------------------------------------


def _dead_writer_name(target: str, suffix: str = ".tmp") -> str:
    code = f"from voiceguide.files import temp_name; print(temp_name({target!r}, {suffix!r}))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return out.stdout.strip()


@pytest.fixture
def dead_writer_name() -> Callable[..., str]:
    """``dead_writer_name(target, suffix=".tmp")``: a temp name made by a process that has exited since."""
    return _dead_writer_name


@pytest.fixture
def put_clip() -> Callable[..., object]:
    """``put_clip(cache, key, ms=300, rate=22050, phase=0)``: a sealed clip committed under ``key``."""
    from voiceguide.tts.wav import read_info, write_pcm16

    def put(cache, key: str, ms: int = 300, rate: int = 22050, phase: int = 0):
        n = rate * ms // 1000
        pcm = array("h", (int(8000 * math.sin((i + phase) / 5)) for i in range(n))).tobytes()
        tmp = cache.temp_path(key)
        write_pcm16(tmp, pcm, rate)
        return cache.commit(tmp, key, read_info(tmp))

    return put


# --- engines registered for one test ---------------------------------------------------------------


@pytest.fixture
def fake_engines(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """``fake_engines(name, factory, first_in_auto=False)``: a fake engine in the real registry
    (the path real engines take), removed again after the test."""
    from voiceguide.tts import engine as engines

    names: list[str] = []

    def register(name: str, factory: Callable[[], object], *, first_in_auto: bool = False) -> None:
        engines.register_engine(name, factory)
        names.append(name)
        if first_in_auto:
            monkeypatch.setattr(engines, "AUTO_ORDER", (name, "espeak-ng"))

    yield register
    for name in names:
        engines.unregister_engine(name)


# --- a rendered session and its mixer (real espeak-ng clips) -------------------------------------


@pytest.fixture(scope="module")
def session(request: pytest.FixtureRequest):
    """(timeline, clips) of a short session; a module sets SESSION = (minutes, steps) to size it."""
    from test_audio_support import build_session

    minutes, steps = getattr(request.module, "SESSION", (1.5, 3))
    return build_session(minutes, steps=steps)


@pytest.fixture(scope="module")
def mixer(session):
    from voiceguide.audio import MixSettings, build_mixer

    tl, clips = session
    return build_mixer(tl, clips, MixSettings())
