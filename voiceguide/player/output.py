"""Where the sound goes: choosing an output, naming devices, and the errors a person can act on.

Two outputs play a ``Transport``: ``StreamOutput`` (miniaudio, the default) pulls small blocks
on the device's own clock; ``BufferOutput`` (simpleaudio) starts long buffers at deadlines on
the monotonic clock. Both count device frames, so the player knows what is heard at any moment.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Protocol

from voiceguide.errors import DeviceChoiceError, DeviceError

OUTPUTS = ("auto", "stream", "simpleaudio")
NO_DEVICE = (
    "No audio output device was found. Plug in speakers or headphones, "
    "or make a file to play elsewhere with `voiceguide export`."
)
BUSY = "The audio device is busy (another program holds it). Close that program, or pick another with --device."
GONE = "The audio device went away mid-session (unplugged, or the sound server stopped)."


class Output(Protocol):
    name: str  # "stream (PulseAudio)", "simpleaudio"
    latency_s: float  # from handing a frame over to hearing it, roughly

    def start(self, transport: Any) -> None: ...
    def audible_frame(self) -> int: ...
    def check(self) -> None:
        """Raise the error the audio side ran into (DeviceError when the device went away)."""

    def close(self) -> None: ...


if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


def to_pcm16(block: np.ndarray) -> np.ndarray:
    """float32 [-1, 1] -> int16, rounded and clipped the way a WAV export writes samples."""
    import numpy as np  # here: the device opens (this module) while numpy is still loading

    return np.clip(np.rint(block * 32767.0), -32768, 32767).astype(np.int16)


_alsa_handler: Any = None


def quiet_alsa() -> None:
    """Keep ALSA's own error chatter off stderr: the player reports one clear line instead."""
    global _alsa_handler
    if _alsa_handler is not None or not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        lib = ctypes.CDLL("libasound.so.2")
    except OSError:
        _alsa_handler = False
        return
    proto = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p)
    _alsa_handler = proto(lambda *args: None)  # kept alive here: ALSA calls it from any thread
    lib.snd_lib_error_set_handler(_alsa_handler)


def preferred_backends() -> list[int]:
    """PulseAudio (which PipeWire also serves) first, then ALSA; never the silent null backend.
    Elsewhere, every backend the library has, in its own order."""
    from voiceguide.player import miniaudio_device as ma

    enabled = ma.enabled_backends()
    if sys.platform.startswith("linux"):
        return [b for b in (ma.PULSEAUDIO, ma.ALSA, ma.JACK) if b in enabled]
    return []


def playback_devices(backend: str | None = None) -> list[dict[str, Any]]:
    """[{"name", "ident", "id", "default"}] for the backend miniaudio picks (or the one named, as
    a device reports it: "PulseAudio"); [] when none works."""
    from voiceguide.player import miniaudio_device as ma

    quiet_alsa()
    backends = preferred_backends()
    if backend is not None:
        backends = [b for b in ma.enabled_backends() if ma.backend_name(b) == backend] or backends
    try:
        ctx = ma.Context(backends)
    except ma.MiniaudioError:
        return []
    ffi = ma.ffi
    try:
        out = []
        for info in ctx.playback_devices():
            raw = bytes(ffi.buffer(ffi.addressof(info, "id")))
            ident = raw.split(b"\0", 1)[0].decode("utf-8", "replace") if ctx.backend in ("PulseAudio", "ALSA") else ""
            out.append(
                {
                    "name": ffi.string(info.name).decode("utf-8", "replace"),
                    "ident": ident,
                    "id": ffi.new("ma_device_id *", info.id),
                    "default": bool(info.isDefault),
                }
            )
        return out
    finally:
        ctx.close()


def list_devices() -> list[str]:
    """Names of the playback devices, as --device accepts them."""
    return [d["name"] for d in playback_devices()]


def _accepted(d: dict[str, Any]) -> str:
    """A device as a list shows it: every name --device takes for it, each quoted."""
    names = [d["name"]] + ([d["ident"]] if d["ident"] and d["ident"] != d["name"] else [])
    return " or ".join(repr(n) for n in names)


def find_device(name: str) -> Any:
    """The miniaudio device id for a --device name: exact name or system name, else a unique part.

    A name that fits no device, or several, is bad input (exit 2): the message lists each device
    by the names that select it."""
    devices = playback_devices()
    if not devices:
        raise DeviceError(NO_DEVICE)
    for d in devices:
        if name in (d["name"], d["ident"]):
            return d["id"]
    low = name.casefold()
    hits = [d for d in devices if low in d["name"].casefold() or (d["ident"] and low in d["ident"].casefold())]
    if len(hits) == 1:
        return hits[0]["id"]
    what = "matches several audio devices" if hits else "is not an audio device here"
    raise DeviceChoiceError(f"--device {name!r} {what}. Available: {'; '.join(_accepted(d) for d in devices)}")
