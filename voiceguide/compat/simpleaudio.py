"""simpleaudio's error class, which the package does not export.

``simpleaudio.play_buffer`` raises ``SimpleaudioError`` for a device that cannot be opened (busy,
missing) or a format it cannot play, and the class lives only in the private extension module
``simpleaudio._simpleaudio`` (simpleaudio 1.0.4). The buffer output catches exactly it, so that
a programming error elsewhere is not reported as "no audio device". tests/test_compat.py fails
when the class moves, or when the package starts exporting it (then use the public name).
Import this only once ``import simpleaudio`` has succeeded (the package is optional).
"""

from __future__ import annotations

from simpleaudio import _simpleaudio

SimpleaudioError: type[Exception] = _simpleaudio.SimpleaudioError
