"""The clip cache on its own: layout, whole-clip reads, info, clear, prune, the default folder."""

from __future__ import annotations

import math
import os
import time
from array import array
from pathlib import Path

import numpy as np
import pytest

from voiceguide.tts.cache import CacheInfo, Clip, ClipCache, default_cache_dir
from voiceguide.tts.wav import read_info, write_pcm16

KEY_A = "ab" + "0" * 62
KEY_B = "cd" + "1" * 62


def put(cache: ClipCache, key: str, ms: int = 300, rate: int = 22050) -> Clip:
    n = rate * ms // 1000
    pcm = array("h", (int(8000 * math.sin(i / 5)) for i in range(n))).tobytes()
    tmp = cache.temp_path(key)
    write_pcm16(tmp, pcm, rate)
    return cache.commit(tmp, key, read_info(tmp))


def test_layout_and_atomic_commit(tmp_path):
    cache = ClipCache(tmp_path)
    tmp = cache.temp_path(KEY_A)
    assert tmp.parent == tmp_path / "clips" / "ab" and tmp.name.endswith(".tmp")
    clip = put(cache, KEY_A)
    assert clip.path == tmp_path / "clips" / "ab" / f"{KEY_A}.wav"
    assert sorted(p.name for p in clip.path.parent.iterdir()) == [f"{KEY_A}.wav"]  # no temp left


def test_get_returns_whole_clips_only(tmp_path):
    cache = ClipCache(tmp_path)
    assert cache.get(KEY_A) is None
    clip = put(cache, KEY_A, ms=500)
    got = cache.get(KEY_A)
    assert got == clip and got.frames == 22050 // 2 and got.sample_rate == 22050
    clip.path.write_bytes(clip.path.read_bytes()[:64])
    assert cache.get(KEY_A) is None  # truncated: reads as missing, so it is rendered again
    clip.path.write_bytes(b"garbage" * 100)
    assert cache.get(KEY_A) is None


def test_clip_duration_and_samples(tmp_path):
    clip = put(ClipCache(tmp_path), KEY_A, ms=1000, rate=16000)
    assert clip.duration_ms == 1000
    odd = Clip(clip.key, clip.path, 22050, 1)
    assert odd.duration_ms == 1  # rounded up: a slot of this length holds the whole clip
    x = clip.read()
    assert x.dtype == np.float32 and x.shape == (16000,)
    assert 0.2 < float(np.abs(x).max()) <= 1.0
    assert abs(float(x[5]) - 8000 * math.sin(1) / 32768) < 1e-4


def test_reading_a_vanished_clip_is_a_user_error(tmp_path):
    from voiceguide.errors import EnvironmentFault

    clip = put(ClipCache(tmp_path), KEY_A)
    clip.path.unlink()
    with pytest.raises(EnvironmentFault, match="render it again"):
        clip.read()


def test_get_touches_for_prune(tmp_path):
    cache = ClipCache(tmp_path)
    clip = put(cache, KEY_A)
    old = time.time() - 10 * 86400
    os.utime(clip.path, (old, old))
    assert cache.get(KEY_A, touch=False) is not None
    assert clip.path.stat().st_mtime == pytest.approx(old)
    cache.get(KEY_A)
    assert clip.path.stat().st_mtime > time.time() - 60


def test_info_clear_prune(tmp_path):
    cache = ClipCache(tmp_path)
    empty = cache.info()
    assert (empty.count, empty.bytes, empty.oldest, empty.newest) == (0, 0, None, None)
    a = put(cache, KEY_A)
    b = put(cache, KEY_B, ms=600)
    old = time.time() - 40 * 86400
    os.utime(a.path, (old, old))
    stale_temp = cache.temp_path(KEY_B)
    stale_temp.write_bytes(b"half a clip")
    os.utime(stale_temp, (time.time() - 2 * 3600,) * 2)
    fresh_temp = cache.temp_path(KEY_A)
    fresh_temp.write_bytes(b"being written now")

    info = cache.info()
    assert isinstance(info, CacheInfo)
    assert info.count == 2 and info.temp_files == 2
    assert info.bytes == a.path.stat().st_size + b.path.stat().st_size
    assert info.oldest == pytest.approx(old) and info.newest >= info.oldest
    described = info.describe()
    assert described["clips"] == "2" and described["unfinished temp files"] == "2"

    # 30 days: the 40-day-old clip and the 2-hour-old temp go; the fresh temp and b stay.
    assert cache.prune(30 * 86400) == 2
    assert not a.path.exists() and not stale_temp.exists()
    assert b.path.exists() and fresh_temp.exists()
    assert cache.info().count == 1

    assert cache.clear() == 2  # b and the fresh temp
    assert cache.info().count == 0 and not (tmp_path / "clips").exists()
    assert cache.clear() == 0


def test_prune_refuses_negative_age(tmp_path):
    with pytest.raises(ValueError):
        ClipCache(tmp_path).prune(-1)


def test_default_cache_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICEGUIDE_CACHE_DIR", str(tmp_path / "env"))
    assert default_cache_dir(tmp_path / "flag") == tmp_path / "flag"
    assert default_cache_dir(None) == tmp_path / "env"
    monkeypatch.delenv("VOICEGUIDE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "voiceguide"
    monkeypatch.setenv("VOICEGUIDE_CACHE_DIR", "")
    assert default_cache_dir() == tmp_path / "xdg" / "voiceguide"
    assert default_cache_dir("~/x") == Path.home() / "x"


def test_unwritable_cache_is_an_environment_fault(tmp_path):
    from voiceguide.errors import EnvironmentFault

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(EnvironmentFault, match="cannot write to the clip cache"):
        ClipCache(blocker).temp_path(KEY_A)


def test_clear_and_prune_also_manage_the_mixers_derived_audio(tmp_path):
    import os
    import time

    from voiceguide.tts import ClipCache

    cache = ClipCache(tmp_path)
    old = tmp_path / "mix" / "speech" / "old.npz"
    new = tmp_path / "mix" / "bed" / "new.raw"
    for f in (old, new):
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"x" * 1000)
    week_ago = time.time() - 7 * 86400
    os.utime(old, (week_ago, week_ago))
    info = cache.info()
    assert (info.derived_files, info.derived_bytes) == (2, 2000)
    assert "mix data" in info.describe()
    assert cache.prune(86400) == 1 and not old.exists() and new.exists()
    assert cache.clear() == 1 and not (tmp_path / "mix").exists()
