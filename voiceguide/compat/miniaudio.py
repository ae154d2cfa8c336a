"""The miniaudio package's private parts that player/miniaudio_device.py builds on.

``_miniaudio`` is the cffi module the package ships (miniaudio 1.71): the C library, loaded in
1.4 ms where importing the package's Python layer took 120-200 ms. The library calls two
"extern Python" callbacks by name, ``_internal_data_callback`` and ``_internal_stop_callback``;
the package registers them too, and whichever registration came last serves every device in the
process. So both dispatch the package's way: a device's ``pUserData`` is a cffi handle to an
object with ``_data_callback(device, output, input, frames)`` and ``_stop_callback(device)``,
and the two modules may be loaded in either order. tests/test_compat.py fails when a release
changes these names or that dispatch.
"""

from __future__ import annotations

from typing import Any

from _miniaudio import ffi, lib

__all__ = ["DATA_CALLBACK", "STOP_CALLBACK", "ffi", "lib"]


@ffi.def_extern(name="_internal_data_callback")
def _data_callback(device: Any, output: Any, input: Any, frames: int) -> None:  # noqa: A002 - miniaudio's names
    if frames > 0 and device.pUserData:
        ffi.from_handle(device.pUserData)._data_callback(device, output, input, frames)


@ffi.def_extern(name="_internal_stop_callback")
def _stop_callback(device: Any) -> None:
    if device.pUserData:
        ffi.from_handle(device.pUserData)._stop_callback(device)


#: What a device config's dataCallback and stopCallback are set to.
DATA_CALLBACK = lib._internal_data_callback
STOP_CALLBACK = lib._internal_stop_callback
