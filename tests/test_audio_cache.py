"""The derived-data cache: whole, checked entries or none; damage of any kind made again; the
first entry stays; a read-only cache only costs speed, a full one is reported."""

import errno
import os
import time

import numpy as np
import pytest

from voiceguide.audio.cache import TRAILER_BYTES, DerivedCache, digest
from voiceguide.errors import EnvironmentFault

NAME = "0123456789abcdef" * 2


def test_round_trips(tmp_path):
    c = DerivedCache(tmp_path)
    c.save_arrays("k", NAME, x=np.arange(5.0))
    assert np.array_equal(c.load_arrays("k", NAME)["x"], np.arange(5.0))
    c.save_raw("k", NAME + ".f32", np.ones(7, np.float32))
    got = c.load_raw("k", NAME + ".f32", "<f4", 7)
    assert np.array_equal(got, np.ones(7)) and got.flags.writeable
    c.save_json("k", NAME, {"a": 1})
    assert c.load_json("k", NAME) == {"a": 1}
    assert sorted(p.name for p in (tmp_path / "k").iterdir()) == [NAME + s for s in (".f32", ".json", ".npz")]
    # payload first (a raw entry's samples start at 0), then the trailer
    assert (tmp_path / "k" / (NAME + ".f32")).stat().st_size == 28 + TRAILER_BYTES


def test_garbage_of_the_same_size_is_found_and_made_again(tmp_path):
    c = DerivedCache(tmp_path)
    c.save_raw("k", NAME + ".f32", np.linspace(-1, 1, 1000).astype(np.float32))
    path = tmp_path / "k" / (NAME + ".f32")
    size = path.stat().st_size
    with open(path, "r+b") as f:  # the samples overwritten, the trailer kept
        f.write(np.random.default_rng(3).standard_normal(1000).astype(np.float32).tobytes())
    assert path.stat().st_size == size
    fresh = DerivedCache(tmp_path)  # another process: it checks what it reads
    assert fresh.load_raw("k", NAME + ".f32", "<f4", 1000) is None
    assert not path.exists()  # taken out of the way, so the next save puts a good one there
    fresh.save_raw("k", NAME + ".f32", np.zeros(1000, np.float32))
    assert np.array_equal(fresh.load_raw("k", NAME + ".f32", "<f4", 1000), np.zeros(1000))


@pytest.mark.parametrize("kind", ["json", "npz"])
def test_an_edited_small_entry_is_not_trusted(tmp_path, kind):
    c = DerivedCache(tmp_path)
    if kind == "json":
        c.save_json("codec", NAME, 0.95)
    else:
        c.save_arrays("codec", NAME, powers=np.arange(3.0))
    path = tmp_path / "codec" / f"{NAME}.{kind}"
    data = bytearray(path.read_bytes())
    data[2] ^= 0x01  # one bit: "0.95" becomes "0/95", or a zip header byte
    path.write_bytes(bytes(data))
    load = DerivedCache(tmp_path).load_json if kind == "json" else DerivedCache(tmp_path).load_arrays
    assert load("codec", NAME) is None


def test_damaged_or_missing_entries_read_as_absent(tmp_path):
    c = DerivedCache(tmp_path)
    assert c.load_arrays("k", "none") is None and c.load_json("k", "none") is None
    c.save_raw("k", NAME + ".f32", np.ones(7, np.float32))
    assert c.load_raw("k", NAME + ".f32", "<f4", 8) is None  # not what its name promised
    (tmp_path / "k" / "bad.npz").write_bytes(b"junk")
    assert c.load_arrays("k", "bad") is None
    (tmp_path / "k" / "bad.json").write_text("{")
    assert c.load_json("k", "bad") is None
    c.save_json("k", "cut", {"a": 1})
    path = tmp_path / "k" / "cut.json"
    path.write_bytes(path.read_bytes()[:-3])  # truncated
    assert c.load_json("k", "cut") is None


def test_a_folder_or_symlink_where_an_entry_should_be_is_moved_aside(tmp_path):
    c = DerivedCache(tmp_path)
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / (NAME + ".json")).mkdir()
    outside = tmp_path / "mine.npz"
    outside.write_bytes(b"the user's")
    (tmp_path / "k" / (NAME + ".npz")).symlink_to(outside)
    assert c.load_json("k", NAME) is None and c.load_arrays("k", NAME) is None
    c.save_json("k", NAME, 1)
    c.save_arrays("k", NAME, x=np.zeros(2))
    assert c.load_json("k", NAME) == 1 and c.load_arrays("k", NAME)["x"].shape == (2,)
    assert outside.read_bytes() == b"the user's"
    assert any(p.name.endswith(".damaged") and p.is_dir() for p in (tmp_path / "k").iterdir())


def test_the_first_entry_stays(tmp_path):
    a, b = DerivedCache(tmp_path), DerivedCache(tmp_path)
    a.save_json("k", NAME, 1)
    b.save_json("k", NAME, 2)
    assert DerivedCache(tmp_path).load_json("k", NAME) == 1
    assert [p.name for p in (tmp_path / "k").iterdir()] == [NAME + ".json"]


def test_an_unwritable_cache_only_costs_speed(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    c = DerivedCache(blocker / "sub")  # its root cannot be made
    c.save_json("k", NAME, 1)
    assert c.load_json("k", NAME) is None


def test_a_full_disk_is_an_error_not_a_silent_miss(tmp_path, monkeypatch):
    c = DerivedCache(tmp_path)
    real_open = open

    def full(path, mode="r", *args, **kw):
        if "x" in mode:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_open(path, mode, *args, **kw)

    monkeypatch.setattr("builtins.open", full)
    with pytest.raises(EnvironmentFault, match="the disk is full: cannot write to the cache"):
        c.save_raw("k", NAME + ".f32", np.ones(4, np.float32))


def test_a_full_tmpfs_is_reported_as_full(tmp_path):
    from fs_support import fill, tmpfs

    with tmpfs("1m") as disk:
        c = DerivedCache(disk / "mix")
        c.save_json("k", NAME, 1)  # the folders exist before the disk fills
        fill(disk)
        with pytest.raises(EnvironmentFault, match="the disk is full") as err:
            c.save_raw("k", NAME + ".f32", np.ones(100_000, np.float32))
        assert err.value.exit_code == 1
        assert [p.name for p in (disk / "mix" / "k").iterdir()] == [NAME + ".json"]  # no temp left


def test_dead_writers_temps_are_removed_when_the_folder_is_next_written(tmp_path, dead_writer_name):
    folder = tmp_path / "speech"
    folder.mkdir()
    dead = folder / dead_writer_name(NAME + ".npz")
    live = folder / ("." + NAME + ".npz.x.tmp")  # not our pattern: not ours to judge
    user = folder / "notes.txt"
    for p in (dead, live, user):
        p.write_bytes(b"x")
    DerivedCache(tmp_path).save_json("speech", NAME, 1)
    assert not dead.exists() and live.exists() and user.exists()


def test_a_checked_entry_is_touched_for_prune(tmp_path):
    c = DerivedCache(tmp_path)
    c.save_json("k", NAME, 1)
    path = tmp_path / "k" / (NAME + ".json")
    old = time.time() - 40 * 86400
    os.utime(path, (old, old))
    assert DerivedCache(tmp_path).load_json("k", NAME) == 1
    assert path.stat().st_mtime > time.time() - 60


def test_digest_is_stable_and_distinct():
    assert digest("a", 1) == digest("a", 1) != digest("a", 2)
