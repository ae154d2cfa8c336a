"""A playback device and a device list on miniaudio's C library, through the cffi module that the
miniaudio package ships (``_miniaudio``), without importing the package's Python layer.

Why: importing ``miniaudio`` took 120-200 ms on a 2-core machine (it imports urllib.request,
html and inspect, and builds a dozen enums from the library), in the thread that opens the
device while the session is being built, where it competes for the interpreter with that work:
about a third of the time ``voiceguide play`` took to its first sound. The C library itself loads
in 1.4 ms, and a playback device is a handful of calls into it.

The package's own contract is kept: a device's ``pUserData`` is a cffi handle to an object with
``_data_callback(device, output, input, frames)`` and ``_stop_callback(device)``, and the two
"extern Python" callbacks the library calls dispatch through it, exactly as the package's do
(they and the private module are in voiceguide/compat/miniaudio.py). So this module and the
package may both be loaded, in either order. tests/test_player_miniaudio_device.py and
tests/test_compat.py fail when a new release of the package changes any of this.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from voiceguide.compat.miniaudio import DATA_CALLBACK, STOP_CALLBACK, ffi, lib

#: Backends by the names a device reports ("PulseAudio"), for the ones voiceguide asks for.
PULSEAUDIO, ALSA, JACK, NULL = (
    lib.ma_backend_pulseaudio,
    lib.ma_backend_alsa,
    lib.ma_backend_jack,
    lib.ma_backend_null,
)


class MiniaudioError(Exception):
    """A call into miniaudio failed; ``args`` are (what failed, miniaudio's result code)."""

    def __init__(self, what: str, code: int | None = None):
        super().__init__(what, code)
        self.code = code


def backend_name(backend: int) -> str:
    return ffi.string(lib.ma_get_backend_name(backend)).decode()


def enabled_backends() -> set[int]:
    """The backends this build of the library has."""
    with ffi.new("size_t *") as count, ffi.new("ma_backend[32]") as backends:
        if lib.ma_get_enabled_backends(backends, 32, count) != lib.MA_SUCCESS:
            return set()
        return {int(backends[i]) for i in range(count[0])}


class Context:
    """A miniaudio context on the first of ``backends`` that works; close it (or use ``with``)."""

    def __init__(self, backends: list[int], app_name: str = ""):
        config = lib.ma_context_config_init()
        config.threadPriority = lib.ma_thread_priority_highest
        self._name = ffi.new("char[]", app_name.encode()) if app_name else ffi.NULL
        if app_name:
            config.pulse.pApplicationName = self._name
            config.jack.pClientName = self._name
        self.ptr = ffi.new("ma_context *")
        wanted = ffi.new("ma_backend[]", backends) if backends else ffi.NULL
        result = lib.ma_context_init(wanted, len(backends), ffi.addressof(config), self.ptr)
        if result != lib.MA_SUCCESS:
            self.ptr = None
            raise MiniaudioError("cannot init context", result)
        self.backend = backend_name(self.ptr.backend)

    def playback_devices(self) -> list[Any]:
        """The ``ma_device_info`` of each playback device (without asking each for its formats:
        ALSA fails that for some devices, and a full listing then gives up on all of them)."""
        with ffi.new("ma_device_info**") as infos, ffi.new("ma_uint32*") as count:
            if lib.ma_context_get_devices(self.ptr, infos, count, ffi.NULL, ffi.NULL) != lib.MA_SUCCESS:
                return []
            return [infos[0][i] for i in range(count[0])]

    def close(self) -> None:
        if self.ptr is not None:
            lib.ma_context_uninit(self.ptr)
            self.ptr = None

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Playback:
    """Interleaved signed 16-bit playback; ``fill(output, frames)`` is called on miniaudio's audio
    thread to write ``frames`` frames at the ``output`` pointer, and must never wait on anything."""

    def __init__(
        self,
        *,
        rate: int,
        channels: int,
        period_ms: int,
        periods: int,
        backends: list[int],
        fill: Callable[[Any, int], None],
        device_id: Any = None,
        app_name: str = "",
    ):
        self._fill = fill
        self._context = Context(backends, app_name)
        self._handle = ffi.new_handle(self)  # kept alive here: the library holds only its pointer
        config = lib.ma_device_config_init(lib.ma_device_type_playback)
        config.sampleRate = rate
        config.playback.channels = channels
        config.playback.format = lib.ma_format_s16
        config.playback.pDeviceID = device_id if device_id is not None else ffi.NULL
        config.periodSizeInMilliseconds = period_ms
        config.periods = periods
        config.pUserData = self._handle
        config.dataCallback = DATA_CALLBACK
        config.stopCallback = STOP_CALLBACK
        self._device = ffi.new("ma_device *")
        result = lib.ma_device_init(self._context.ptr, ffi.addressof(config), self._device)
        if result != lib.MA_SUCCESS:
            self._device = None
            self._context.close()
            raise MiniaudioError("failed to init device", result)
        self.backend = backend_name(self._device.pContext.backend)
        self._started = False

    def _data_callback(self, device: Any, output: Any, input: Any, frames: int) -> None:  # noqa: A002
        self._fill(output, frames)

    def _stop_callback(self, device: Any) -> None:
        pass  # a device that stops by itself is noticed by the stream's watch on its requests

    def start(self) -> None:
        result = lib.ma_device_start(self._device)
        if result != lib.MA_SUCCESS:
            raise MiniaudioError("failed to start audio device", result)
        self._started = True

    def close(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            if self._started:
                lib.ma_device_stop(device)
            lib.ma_device_uninit(device)
        self._context.close()
