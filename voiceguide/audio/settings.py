"""The one settings object the mixer is built from (every CLI flag that changes the sound)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from voiceguide.errors import ConfigError

CHIME_STYLES = ("soft", "bell", "none")

#: Where the bed sits by default, relative to the voice. -20 dB keeps the music a background:
#: audible in every pause, never competing with a cue (and 33 dB under the voice while ducked).
DEFAULT_MUSIC_VOLUME_DB = -20.0


@dataclass(frozen=True)
class MixSettings:
    """How a session is mixed.

    sample_rate, channels: the output format (44.1 kHz stereo by default; 1 channel for --mono).
    music: "builtin" (a generated ambient bed), "none", or a path to a music file or a folder of
        them (played in name order as a playlist); looped with a crossfade at every seam.
    music_volume_db: the bed's loudness relative to the voice's, before ducking. Default -20 dB.
        Raising it makes the music fuller, but the program is normalised to -16 LUFS integrated, so
        in a sparse session a loud bed also pushes the voice up (and the limiter works harder).
    chime: the bell that marks step transitions and the end: "soft", "bell" or "none".
    duck_db: how far the bed dips under every spoken cue (13 dB by default).
    cache_dir: where derived audio (processed clips, decoded music loops) is kept between runs;
        None keeps nothing.
    """

    sample_rate: int = 44100
    channels: int = 2
    music: str = "builtin"
    music_volume_db: float = DEFAULT_MUSIC_VOLUME_DB
    chime: str = "soft"
    duck_db: float = 13.0
    cache_dir: Path | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.sample_rate, int) or not 8000 <= self.sample_rate <= 192000:
            raise ConfigError(f"sample rate must be a whole number of Hz from 8000 to 192000, not {self.sample_rate!r}")
        if self.channels not in (1, 2):
            raise ConfigError(f"channels must be 1 (mono) or 2 (stereo), not {self.channels!r}")
        if self.chime not in CHIME_STYLES:
            raise ConfigError(f"chime must be one of {', '.join(CHIME_STYLES)}, not {self.chime!r}")
        if not isinstance(self.music, str) or not self.music:
            raise ConfigError("music must be 'builtin', 'none' or a path to a music file or folder")
        if not math.isfinite(self.music_volume_db) or not -60 <= self.music_volume_db <= 20:
            raise ConfigError(f"music volume must be between -60 and +20 dB, not {self.music_volume_db!r}")
        if not math.isfinite(self.duck_db) or not 0 <= self.duck_db <= 40:
            raise ConfigError(f"ducking must be between 0 and 40 dB, not {self.duck_db!r}")
        if self.cache_dir is not None and not isinstance(self.cache_dir, Path):
            object.__setattr__(self, "cache_dir", Path(self.cache_dir))
