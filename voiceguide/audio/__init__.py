"""The audio engine: one mixer makes every sample; live play and export read the same blocks.

    mixer = build_mixer(timeline, clips, MixSettings(music="builtin"))
    export_session(mixer, Path("session.mp3"), chapters=("vtt", "json"))

Names are loaded on first use, so importing this package (e.g. for ``voiceguide --help``) does
not import numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voiceguide.lazy import loader

_EXPORTS = {
    "MixSettings": "voiceguide.audio.settings",
    "CHIME_STYLES": "voiceguide.audio.settings",
    "DEFAULT_MUSIC_VOLUME_DB": "voiceguide.audio.settings",
    "Mixer": "voiceguide.audio.mix.mixer",
    "build_mixer": "voiceguide.audio.mix.mixer",
    "TARGET_LUFS": "voiceguide.audio.mix.mixer",
    "CEILING_DBTP": "voiceguide.audio.mix.mixer",
    "export_session": "voiceguide.audio.encode.export",
    "ExportResult": "voiceguide.audio.encode.export",
    "sidecar_path": "voiceguide.audio.encode.export",
    "Chapter": "voiceguide.audio.encode.chapters",
    "session_chapters": "voiceguide.audio.encode.chapters",
    "ArrayClip": "voiceguide.audio.sources.clip",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from voiceguide.audio.encode.chapters import Chapter, session_chapters  # noqa: F401 - for type checkers; __getattr__ imports on first use
    from voiceguide.audio.encode.export import ExportResult, export_session, sidecar_path  # noqa: F401 - for type checkers; __getattr__ imports on first use
    from voiceguide.audio.mix.mixer import CEILING_DBTP, TARGET_LUFS, Mixer, build_mixer  # noqa: F401 - for type checkers; __getattr__ imports on first use
    from voiceguide.audio.settings import CHIME_STYLES, DEFAULT_MUSIC_VOLUME_DB, MixSettings  # noqa: F401 - for type checkers; __getattr__ imports on first use
    from voiceguide.audio.sources.clip import ArrayClip  # noqa: F401 - for type checkers; __getattr__ imports on first use


__getattr__ = loader(__name__, _EXPORTS)
