"""The vendor workarounds in voiceguide/compat/, checked against the installed packages.

Each test names what a workaround relies on upstream and fails when a release changes it: the
message says which. The package's own code runs in a fresh process where importing it here
would change this one (pyttsx3 loads espeak's library; the miniaudio package re-registers the
callbacks every device in the process goes through).
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time
import types

import pytest

from voiceguide.compat import pyttsx3 as compat_pyttsx3


def run_python(code: str) -> str:
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout


# --- pyttsx3: the espeak driver's loop polls every 1 ms, not 10 ----------------------------------


def _espeak_driver_present() -> bool:
    from voiceguide.tts.pyttsx3_engine import Pyttsx3Engine

    return sys.platform.startswith("linux") and Pyttsx3Engine().available()


@pytest.mark.skipif(not _espeak_driver_present(), reason="needs pyttsx3 and libespeak-ng")
def test_pyttsx3s_espeak_driver_still_sleeps_through_its_time_global():
    out = run_python(
        """
        import ast, inspect, textwrap, time
        import pyttsx3.drivers.espeak as driver
        from voiceguide.compat import pyttsx3 as compat

        assert compat.ESPEAK_DRIVER == driver.__name__
        assert driver.time is time, "the espeak driver no longer holds the time module as a global"
        loop = ast.parse(textwrap.dedent(inspect.getsource(driver.EspeakDriver.startLoop)))
        sleeps = [n for n in ast.walk(loop) if isinstance(n, ast.Call) and ast.unparse(n.func) == "time.sleep"]
        assert sleeps, "EspeakDriver.startLoop no longer polls with time.sleep"
        assert compat.shorten_espeak_poll() and isinstance(driver.time, compat.QuickPoll)
        assert compat.shorten_espeak_poll()  # twice is harmless
        t = time.perf_counter()
        driver.time.sleep(0.05)
        print(time.perf_counter() - t, driver.time.monotonic() > 0)
        """
    )
    took, rest = out.split()
    assert float(took) < 0.02 and rest == "True"


def test_the_poll_is_shortened_only_where_the_driver_sleeps_through_time(monkeypatch):
    name = compat_pyttsx3.ESPEAK_DRIVER
    monkeypatch.delitem(sys.modules, name, raising=False)
    assert compat_pyttsx3.shorten_espeak_poll() is False  # not loaded: another driver speaks
    fake = types.ModuleType(name)
    monkeypatch.setitem(sys.modules, name, fake)
    assert compat_pyttsx3.shorten_espeak_poll() is False  # a release without the time global
    fake.time = time
    assert compat_pyttsx3.shorten_espeak_poll() is True
    quick = fake.time
    assert isinstance(quick, compat_pyttsx3.QuickPoll) and quick.monotonic is time.monotonic
    t = time.perf_counter()
    quick.sleep(0.05)
    assert time.perf_counter() - t < 0.02


# --- simpleaudio: its error class is only in the private extension module ---------------------------


def test_simpleaudio_raises_its_private_error_class_with_a_code_in_the_message():
    simpleaudio = pytest.importorskip("simpleaudio")
    from voiceguide.compat.simpleaudio import SimpleaudioError

    assert issubclass(SimpleaudioError, Exception)
    assert not hasattr(simpleaudio, "SimpleaudioError"), "simpleaudio exports its error now: use the public name"
    with pytest.raises(SimpleaudioError) as e:
        simpleaudio.play_buffer(bytes(40), 2, 5, 44100)  # 5 bytes a sample: refused before any device opens
    # player/buffer_output.device_error reads the code (-16: busy) from this form of message
    assert re.search(r"-- CODE: -?\d+ -- MSG:", str(e.value)), str(e.value)


# --- miniaudio: the package's cffi module and its callback contract --------------------------------

#: What voiceguide calls through ``_miniaudio`` (compat/miniaudio.py and player/miniaudio_device.py).
LIB_NAMES = (
    "_internal_data_callback",
    "_internal_stop_callback",
    "MA_SUCCESS",
    "MA_NO_BACKEND",
    "ma_backend_pulseaudio",
    "ma_backend_alsa",
    "ma_backend_jack",
    "ma_backend_null",
    "ma_get_backend_name",
    "ma_get_enabled_backends",
    "ma_context_config_init",
    "ma_thread_priority_highest",
    "ma_context_init",
    "ma_context_get_devices",
    "ma_context_uninit",
    "ma_device_config_init",
    "ma_device_type_playback",
    "ma_format_s16",
    "ma_device_init",
    "ma_device_start",
    "ma_device_stop",
    "ma_device_uninit",
)

#: Calls each callback the way the library does, for a device with and without a handle.
DISPATCH = """
import types
from _miniaudio import ffi

class Recorder:
    def __init__(self):
        self.calls = []
    def _data_callback(self, device, output, input, frames):
        self.calls.append(("data", output, input, frames))
    def _stop_callback(self, device):
        self.calls.append(("stop",))

def dispatch(data_callback, stop_callback):
    rec = Recorder()
    handle = ffi.new_handle(rec)
    device, orphan = types.SimpleNamespace(pUserData=handle), types.SimpleNamespace(pUserData=ffi.NULL)
    data_callback(device, "out", "in", 3)
    data_callback(device, "out", "in", 0)
    stop_callback(device)
    data_callback(orphan, "out", "in", 3)
    stop_callback(orphan)
    return rec.calls
"""
WANT = [("data", "out", "in", 3), ("stop",)]


def test_miniaudios_cffi_module_has_what_voiceguide_calls():
    from _miniaudio import lib

    from voiceguide.compat import miniaudio as compat

    missing = [n for n in LIB_NAMES if not hasattr(lib, n)]
    assert not missing, f"the miniaudio package's _miniaudio module lacks {missing}"
    assert lib._internal_data_callback == compat.DATA_CALLBACK and lib._internal_stop_callback == compat.STOP_CALLBACK


def test_our_callbacks_dispatch_through_the_devices_handle():
    from voiceguide.compat import miniaudio as compat

    scope: dict = {}
    exec(DISPATCH, scope)
    assert scope["dispatch"](compat._data_callback, compat._stop_callback) == WANT


def test_the_packages_callbacks_dispatch_the_same_way():
    """Whichever registration came last serves every device: the package's must call ours."""
    out = run_python(
        DISPATCH
        + "import miniaudio\n"
        + "print(repr(dispatch(miniaudio._internal_data_callback, miniaudio._internal_stop_callback)))\n"
    )
    assert out.strip() == repr(WANT)
