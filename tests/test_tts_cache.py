"""The clip cache on its own: layout, sealed clips, damage found and moved aside, first whole clip
wins, writes that fail in one line, info, clear, prune, the default folder."""

from __future__ import annotations

import math
import os
import shutil
import struct
import subprocess
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from voiceguide.errors import DamagedClip, EnvironmentFault
from voiceguide.tts.cache import CacheInfo, Clip, ClipCache, default_cache_dir
from voiceguide.tts.wav import SEAL_BYTES, write_pcm16

KEY_A = "ab" + "0" * 62
KEY_B = "cd" + "1" * 62


def test_layout_and_atomic_commit(tmp_path, put_clip):
    cache = ClipCache(tmp_path)
    tmp = cache.temp_path(KEY_A)
    assert tmp.parent == tmp_path / "clips" / "ab" and tmp.name.startswith(f".{KEY_A}.wav.")
    assert tmp.name.endswith(".tmp")
    clip = put_clip(cache, KEY_A)
    assert clip.path == tmp_path / "clips" / "ab" / f"{KEY_A}.wav"
    assert sorted(p.name for p in clip.path.parent.iterdir()) == [f"{KEY_A}.wav"]  # no temp left


def test_a_sealed_clip_is_still_a_plain_wav(tmp_path, put_clip):
    clip = put_clip(ClipCache(tmp_path), KEY_A, ms=500)
    data = clip.path.read_bytes()
    # the canonical 44-byte header, the samples, then one chunk holding the digest
    assert data[:4] == b"RIFF" and struct.unpack_from("<I", data, 4)[0] == len(data) - 8
    assert data[12:16] == b"fmt " and data[36:40] == b"data"
    n = struct.unpack_from("<I", data, 40)[0]
    assert n == clip.frames * 2 and len(data) == 44 + n + SEAL_BYTES and data[44 + n : 48 + n] == b"vgdg"
    with wave.open(str(clip.path)) as w:
        assert (w.getnframes(), w.getframerate(), w.getnchannels()) == (clip.frames, 22050, 1)
        assert w.readframes(clip.frames) == data[44 : 44 + n]
    if shutil.which("ffmpeg"):
        decoded = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(clip.path), "-f", "s16le", "-"], capture_output=True, check=True
        ).stdout
        assert decoded == data[44 : 44 + n]


def test_get_returns_whole_sealed_clips_only(tmp_path, put_clip):
    cache = ClipCache(tmp_path)
    assert cache.get(KEY_A) is None
    clip = put_clip(cache, KEY_A, ms=500)
    got = cache.get(KEY_A)
    assert got == clip and got.frames == 22050 // 2 and got.sample_rate == 22050
    assert got.digest == clip.digest and len(got.digest) == 32
    clip.path.write_bytes(clip.path.read_bytes()[:64])
    assert cache.get(KEY_A) is None  # truncated: reads as missing, so it is rendered again
    clip.path.write_bytes(b"garbage" * 100)
    assert cache.get(KEY_A) is None
    write_pcm16(clip.path, b"\x01\x02" * 1000, 22050)  # a plain WAV of an older format: no seal
    assert cache.get(KEY_A) is None


def test_samples_that_do_not_match_the_digest_are_found_and_removed(tmp_path, put_clip):
    cache = ClipCache(tmp_path)
    clip = put_clip(cache, KEY_A, ms=500)
    size = clip.path.stat().st_size
    with open(clip.path, "r+b") as f:  # garbage of the same size after the header, seal kept
        f.seek(64)
        f.write(np.random.default_rng(1).integers(0, 256, size - 64 - SEAL_BYTES, dtype=np.uint8).tobytes())
    found = cache.get(KEY_A)
    assert found is not None  # the header is whole: only reading the samples tells
    with pytest.raises(DamagedClip, match=r"damaged .*do not match its digest") as err:
        found.read()
    assert err.value.keys == (KEY_A,) and err.value.exit_code == 1
    assert not clip.path.exists()  # taken out of the cache, so the next render makes it again


def test_a_damaged_seal_is_found_when_the_digest_is_asked_for(tmp_path, put_clip):
    cache = ClipCache(tmp_path)
    clip = put_clip(cache, KEY_A)
    with open(clip.path, "r+b") as f:
        f.seek(-SEAL_BYTES, os.SEEK_END)
        f.write(b"\0" * SEAL_BYTES)
    with pytest.raises(DamagedClip, match="digest is missing"):
        _ = cache.get(KEY_A).digest
    assert not clip.path.exists()


def test_a_clip_replaced_while_in_use_is_reported_not_removed(tmp_path, put_clip):
    cache = ClipCache(tmp_path)
    clip = put_clip(cache, KEY_A)
    clip.path.unlink()
    other = put_clip(cache, KEY_A, phase=3)  # another recording under the same key
    with pytest.raises(DamagedClip, match="changed while this session used it"):
        clip.read()
    assert other.path.exists() and cache.get(KEY_A) == other
    other.path.unlink()
    with pytest.raises(EnvironmentFault, match="changed while this session used it"):
        other.read()


def test_clip_duration_and_samples(tmp_path, put_clip):
    clip = put_clip(ClipCache(tmp_path), KEY_A, ms=1000, rate=16000)
    assert clip.duration_ms == 1000
    odd = Clip(clip.key, clip.path, 22050, 1)
    assert odd.duration_ms == 1  # rounded up: a slot of this length holds the whole clip
    x = clip.read()
    assert x.dtype == np.float32 and x.shape == (16000,)
    assert 0.2 < float(np.abs(x).max()) <= 1.0
    assert abs(float(x[5]) - 8000 * math.sin(1) / 32768) < 1e-4


def test_the_first_whole_clip_stays(tmp_path, put_clip):
    cache = ClipCache(tmp_path)
    first = put_clip(cache, KEY_A)
    second = put_clip(cache, KEY_A, phase=7)  # a later rendering that differs
    assert second == first and second.digest == first.digest
    assert cache.get(KEY_A).read().tobytes() == first.read().tobytes()


@pytest.mark.parametrize("damage", ["folder", "symlink", "garbage", "truncated"])
def test_whatever_holds_a_clips_name_is_moved_aside_and_the_clip_made_again(tmp_path, damage, put_clip):
    cache = ClipCache(tmp_path)
    final = cache.path_for(KEY_A)
    final.parent.mkdir(parents=True)
    outside = tmp_path / "users-own.wav"
    write_pcm16(outside, b"\x10\x00" * 5000, 22050)
    if damage == "folder":
        final.mkdir()
        (final / "inside.txt").write_text("kept")
    elif damage == "symlink":
        final.symlink_to(outside)
    elif damage == "garbage":
        final.write_bytes(b"RIFF" + os.urandom(500))
    else:
        final.write_bytes(put_clip(ClipCache(tmp_path / "other"), KEY_A).path.read_bytes()[:300])
    assert cache.get(KEY_A) is None
    clip = put_clip(cache, KEY_A)
    assert cache.get(KEY_A) == clip and final.is_file() and not final.is_symlink()
    assert outside.stat().st_size == 44 + 10000  # a symlink's target is never touched
    if damage == "folder":
        aside = [p for p in final.parent.iterdir() if p.name.endswith(".damaged")]
        assert len(aside) == 1 and (aside[0] / "inside.txt").read_text() == "kept"


def test_get_touches_for_prune(tmp_path, put_clip):
    cache = ClipCache(tmp_path)
    clip = put_clip(cache, KEY_A)
    old = time.time() - 10 * 86400
    os.utime(clip.path, (old, old))
    assert cache.get(KEY_A, touch=False) is not None
    assert clip.path.stat().st_mtime == pytest.approx(old)
    cache.get(KEY_A)
    assert clip.path.stat().st_mtime > time.time() - 60


def test_a_render_that_died_leaves_temps_the_next_writer_removes(tmp_path, dead_writer_name, put_clip):
    cache = ClipCache(tmp_path)
    folder = tmp_path / "clips" / "ab"
    folder.mkdir(parents=True)
    dead = folder / dead_writer_name(f"{KEY_A}.wav")
    dead.write_bytes(b"half a clip")
    retry = folder / (dead_writer_name(f"{KEY_A}.wav") + ".1.tmp")  # pyttsx3's second attempt
    retry.write_bytes(b"half a clip")
    other_process = ClipCache(tmp_path)
    live = other_process.temp_path(KEY_A)  # being written right now (by this process)
    live.write_bytes(b"being written")
    put_clip(cache, "ab" + "2" * 62)
    assert not dead.exists() and not retry.exists() and live.exists()


def test_info_clear_prune(tmp_path, dead_writer_name, put_clip):
    cache = ClipCache(tmp_path)
    empty = cache.info()
    assert (empty.count, empty.bytes, empty.oldest, empty.newest) == (0, 0, None, None)
    a = put_clip(cache, KEY_A)
    b = put_clip(cache, KEY_B, ms=600)
    old = time.time() - 40 * 86400
    os.utime(a.path, (old, old))
    dead_temp = b.path.parent / dead_writer_name(f"{KEY_B}.wav")
    dead_temp.write_bytes(b"half a clip")
    live_temp = ClipCache(tmp_path).temp_path(KEY_A)
    live_temp.write_bytes(b"being written now")
    os.utime(live_temp, (old, old))  # old, but its writer (this process) is alive

    info = cache.info()
    assert isinstance(info, CacheInfo)
    assert info.count == 2 and info.temp_files == 2
    assert info.bytes == a.path.stat().st_size + b.path.stat().st_size
    assert info.oldest == pytest.approx(old) and info.newest >= info.oldest
    described = info.describe()
    assert described["clips"] == "2" and described["unfinished temp files"] == "2"

    # 30 days: the 40-day-old clip and the dead writer's temp go; the live temp and b stay.
    pruned = cache.prune(30 * 86400)
    assert (pruned.files, pruned.kept_live) == (2, 1)
    assert not a.path.exists() and not dead_temp.exists()
    assert b.path.exists() and live_temp.exists()
    assert cache.info().count == 1

    b_size = b.path.stat().st_size
    cleared = cache.clear()
    assert (cleared.files, cleared.bytes, cleared.kept_live) == (1, b_size, 1)
    assert cache.info().count == 0 and live_temp.exists()
    live_temp.unlink()
    assert cache.clear().files == 0
    assert (tmp_path / "CACHEDIR.TAG").exists()  # the folder is still a cache


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
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(EnvironmentFault, match="cannot write to the clip cache"):
        ClipCache(blocker).temp_path(KEY_A)
    with pytest.raises(EnvironmentFault, match="cannot write to the clip cache"):
        ClipCache(blocker).prepare_write()


def test_prepare_write_tags_the_folder_and_leaves_nothing(tmp_path):
    cache = ClipCache(tmp_path / "c")
    cache.prepare_write()
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["CACHEDIR.TAG", "clips"]
    assert list((tmp_path / "c" / "clips").iterdir()) == []


def test_prepare_write_says_when_the_disk_is_full(tmp_path, monkeypatch):
    from voiceguide import files

    monkeypatch.setattr(files, "free_bytes", lambda path: 12 * 1024)
    with pytest.raises(EnvironmentFault, match=r"the disk is full \(12 kB free\): cannot write to the clip cache"):
        ClipCache(tmp_path).prepare_write()


def test_clear_and_prune_also_manage_the_mixers_derived_audio(tmp_path, put_clip):
    cache = ClipCache(tmp_path)
    put_clip(cache, KEY_A)
    old = tmp_path / "mix" / "speech" / ("1" * 32 + ".npz")
    new = tmp_path / "mix" / "music" / ("2" * 32 + ".f32")
    for f in (old, new):
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"x" * 1000)
    week_ago = time.time() - 7 * 86400
    os.utime(old, (week_ago, week_ago))
    info = cache.info()
    assert (info.derived_files, info.derived_bytes) == (2, 2000)
    assert "mix data" in info.describe()
    assert cache.prune(86400).files == 1 and not old.exists() and new.exists()
    assert cache.clear().files == 2 and not (tmp_path / "mix").exists()
