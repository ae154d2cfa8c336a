"""A clip held in memory: anything that is not a TTS clip (a test tone, a recorded line) can be mixed.

The mixer reads clips through five names only (key, digest, sample_rate, frames, read), which the
TTS layer's clips have too.
"""

from __future__ import annotations

import hashlib

import numpy as np


class ArrayClip:
    def __init__(self, samples: np.ndarray, sample_rate: int, key: str | None = None):
        self._samples = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
        self.sample_rate = int(sample_rate)
        # by default the key is the content, so equal audio shares cache entries
        self.key = (
            key or "array:" + hashlib.sha256(self._samples.tobytes() + str(self.sample_rate).encode()).hexdigest()[:32]
        )

    @property
    def digest(self) -> str:
        """Names the samples for the mixer's cache: the key, which the caller chose to name them
        (by default it is their hash). Held in memory, they cannot be damaged."""
        return self.key

    @property
    def frames(self) -> int:
        return len(self._samples)

    def read(self) -> np.ndarray:
        return self._samples
