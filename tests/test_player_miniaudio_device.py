"""The small playback layer on miniaudio's C library (player/miniaudio_device.py): it plays, its
failures carry miniaudio's codes, and it keeps the miniaudio package's callback contract, so the
two work in one process in either order. Uses miniaudio's null backend: no sound server needed.
A test here failing after a miniaudio upgrade means the package changed that contract."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from voiceguide.player import miniaudio_device as ma


def play_null(seconds: float = 0.3) -> int:
    """Frames the null backend asked for in ``seconds`` (it runs on a timer of its own)."""
    asked = []

    def fill(output, frames):
        ma.ffi.memmove(output, bytes(frames * 4), frames * 4)
        asked.append(frames)

    dev = ma.Playback(rate=44100, channels=2, period_ms=30, periods=3, backends=[ma.NULL], fill=fill)
    assert dev.backend == "Null"
    try:
        dev.start()
        time.sleep(seconds)
    finally:
        dev.close()
    return sum(asked)


def test_the_device_asks_for_sound_on_its_own_clock():
    frames = play_null(0.5)
    assert 0.3 * 44100 < frames < 1.0 * 44100, frames


def test_closing_twice_is_harmless():
    dev = ma.Playback(rate=44100, channels=2, period_ms=30, periods=3, backends=[ma.NULL], fill=lambda o, n: None)
    dev.close()
    dev.close()


def test_the_miniaudio_package_loaded_later_or_earlier_leaves_both_working():
    code = (
        "import time, sys\n"
        "order = sys.argv[1]\n"
        "if order == 'package-first': import miniaudio\n"
        "from voiceguide.player import miniaudio_device as ma\n"
        "if order == 'ours-first': import miniaudio\n"
        "got = []\n"
        "dev = ma.Playback(rate=44100, channels=2, period_ms=30, periods=3, backends=[ma.NULL],\n"
        "                  fill=lambda o, n: got.append(n))\n"
        "dev.start(); time.sleep(0.3); dev.close()\n"
        "theirs = []\n"
        "def gen():\n"
        "    n = yield b''\n"
        "    while True:\n"
        "        theirs.append(n); n = yield bytes(n * 4)\n"
        "g = gen(); next(g)\n"
        "pd = miniaudio.PlaybackDevice(backends=[miniaudio.Backend.NULL]); pd.start(g); time.sleep(0.3); pd.close()\n"
        "print(sum(got) > 0, sum(theirs) > 0)\n"
    )
    for order in ("ours-first", "package-first"):
        p = subprocess.run([sys.executable, "-c", code, order], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        assert p.stdout.split() == ["True", "True"], (order, p.stdout, p.stderr)


def test_a_failure_carries_miniaudios_code():
    missing = ma.lib.ma_backend_webaudio  # a browser's backend: never in a build for this machine
    assert missing not in ma.enabled_backends()
    with pytest.raises(ma.MiniaudioError) as e:
        ma.Playback(rate=44100, channels=2, period_ms=30, periods=3, backends=[missing], fill=lambda o, n: None)
    assert e.value.code == ma.lib.MA_NO_BACKEND


def test_backends_are_named_as_devices_report_them():
    assert ma.backend_name(ma.PULSEAUDIO) == "PulseAudio" and ma.backend_name(ma.ALSA) == "ALSA"
    assert ma.NULL in ma.enabled_backends()
