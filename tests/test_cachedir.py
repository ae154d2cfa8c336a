"""The cache folder as a whole: only voiceguide's own names are removed, a folder that is no cache
is refused, the counts are what happened."""

from __future__ import annotations

import os
import time

import pytest

from voiceguide import files
from voiceguide.cachedir import CacheDir
from voiceguide.errors import CacheDirError
from voiceguide.tts.cache import ClipCache

# clip keys in two fan-out folders of the cache, as in test_tts_cache
KEY_A = "ab" + "0" * 62
KEY_B = "cd" + "1" * 62

OLD = time.time() - 90 * 86400


def aged(path, t=OLD):
    os.utime(path, (t, t))
    return path


@pytest.fixture
def shared(tmp_path, put_clip):
    """A cache folder that also holds the user's own files, all of them old."""
    cache = ClipCache(tmp_path)
    clips = [put_clip(cache, KEY_A), put_clip(cache, KEY_B)]
    derived = tmp_path / "mix" / "speech" / ("a" * 32 + ".npz")
    derived.parent.mkdir(parents=True)
    derived.write_bytes(b"x" * 100)
    foreign = [
        tmp_path / "clips" / "drafts" / "interview.wav",  # a folder of the user's
        tmp_path / "clips" / "ab" / "interview.wav",  # beside our clips
        tmp_path / "clips" / "cd" / (KEY_A + ".wav"),  # our name, in the wrong folder
        tmp_path / "clips" / "ab" / (KEY_A.upper() + ".wav"),
        tmp_path / "mix" / "album" / "final-master.wav",  # a folder that is no kind of ours
        tmp_path / "mix" / "speech" / "notes.txt",
        tmp_path / "mix" / "speech" / ("a" * 31 + ".npz"),
        tmp_path / "readme.txt",
    ]
    for f in foreign:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"RIFF not voiceguide's")
    for p in [*(c.path for c in clips), derived, *foreign]:
        aged(p)
    return tmp_path, clips, derived, foreign


def test_prune_and_clear_remove_only_voiceguides_files(shared, put_clip):
    root, clips, derived, foreign = shared
    pruned = CacheDir(root).prune(30 * 86400)
    assert pruned.files == 3 and pruned.bytes == sum(c.size for c in clips) + 100
    assert pruned.kept_foreign == 7  # 7 things in our folders (the readme at the root is not looked at)
    assert all(f.exists() for f in foreign)
    assert not derived.exists() and not any(c.path.exists() for c in clips)
    assert "left 7 files or folders that voiceguide did not make" in pruned.describe()

    put_clip(ClipCache(root), KEY_A)
    cleared = CacheDir(root).clear()
    assert (cleared.files, cleared.kept_foreign) == (1, 7)
    assert all(f.exists() for f in foreign)
    assert (root / "CACHEDIR.TAG").exists() and not (root / "clips" / "ab" / (KEY_A + ".wav")).exists()


def test_clear_refuses_a_folder_that_is_no_cache(tmp_path):
    plain = tmp_path / "documents"
    plain.mkdir()
    (plain / "notes.txt").write_text("mine")
    (plain / "clips").mkdir()
    (plain / "clips" / "song.wav").write_text("mine too")
    for command in (lambda: CacheDir(plain).clear(), lambda: CacheDir(plain).prune(0)):
        with pytest.raises(CacheDirError, match="not a voiceguide cache") as err:
            command()
        assert err.value.exit_code == 2
    assert (plain / "notes.txt").exists() and (plain / "clips" / "song.wav").exists()
    with pytest.raises(CacheDirError, match="not a folder"):
        CacheDir(plain / "notes.txt").clear()


def test_a_cache_from_before_the_tag_is_still_recognised(tmp_path, put_clip):
    put_clip(ClipCache(tmp_path), KEY_A)
    (tmp_path / "CACHEDIR.TAG").unlink()
    assert CacheDir(tmp_path).is_cache()
    assert CacheDir(tmp_path).clear().files == 1


def test_a_missing_folder_has_nothing_to_remove(tmp_path):
    assert CacheDir(tmp_path / "never-made").clear().files == 0
    assert not (tmp_path / "never-made").exists()


def test_temps_go_when_their_writer_is_gone_whatever_their_age(tmp_path, dead_writer_name, put_clip):
    cache = ClipCache(tmp_path)
    put_clip(cache, KEY_A)
    folder = tmp_path / "clips" / "ab"
    dead = folder / dead_writer_name(KEY_A + ".wav")
    live = folder / files.temp_name(KEY_A + ".wav")
    legacy_old = folder / f"{KEY_A}.1234-0badf00d.tmp"  # from before temps named their writer
    legacy_new = folder / f"{KEY_A}.1234-0badf00d.tmp.1.tmp"
    mix = tmp_path / "mix" / "music"
    mix.mkdir(parents=True)
    mix_dead = mix / dead_writer_name("b" * 32 + ".f32")
    mix_legacy = mix / (".%s.f32.abc_de12.tmp" % ("c" * 32))
    for p in (dead, live, legacy_new, mix_dead):
        p.write_bytes(b"partial")
    for p in (legacy_old, mix_legacy):
        p.write_bytes(b"partial")
        aged(p)
    info = CacheDir(tmp_path).info()
    assert info.temp_files == 6 and info.count == 1
    pruned = CacheDir(tmp_path).prune(30 * 86400)
    assert pruned.files == 4 and pruned.kept_live == 1
    assert live.exists() and legacy_new.exists()
    assert not any(p.exists() for p in (dead, legacy_old, mix_dead, mix_legacy))
    assert (folder / (KEY_A + ".wav")).exists()  # a clip used lately stays


def test_info_counts_what_is_not_ours(shared):
    root, clips, _, foreign = shared
    info = CacheDir(root).info()
    assert info.count == 2 and info.derived_files == 1 and info.foreign_files == 7
    assert info.describe()["not voiceguide's (left alone)"] == "7 files or folders"


def test_the_voice_digest_memos_are_the_caches_and_go_with_it(tmp_path, put_clip):
    from voiceguide.tts.piper_engine import content_digest

    model = tmp_path / "model.onnx"
    model.write_bytes(b"not really a model")
    cache_root = tmp_path / "cache"
    put_clip(ClipCache(cache_root), KEY_A)
    content_digest(model, cache_root)
    memos = list((cache_root / "voices").iterdir())
    assert len(memos) == 1 and memos[0].suffix == ".json"
    mine = cache_root / "voices" / "my-notes.txt"
    mine.write_text("mine")

    cleared = CacheDir(cache_root).clear()
    assert cleared.files == 2 and cleared.kept_foreign == 1
    assert not memos[0].exists() and mine.read_text() == "mine"
