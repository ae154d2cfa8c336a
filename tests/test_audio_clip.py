"""ArrayClip: any samples as a clip the mixer takes."""

import numpy as np

from voiceguide.audio.sources.clip import ArrayClip


def test_array_clip():
    x = np.sin(np.arange(1000) / 10)
    c = ArrayClip(x, 16000)
    assert c.frames == 1000 and c.sample_rate == 16000 and c.read().dtype == np.float32
    assert ArrayClip(x, 16000).key == c.key != ArrayClip(x * 0.5, 16000).key != ArrayClip(x, 22050).key
    assert ArrayClip(x, 16000, key="mine").key == "mine"
