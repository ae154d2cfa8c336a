"""The derived-data cache: whole entries or none."""

import numpy as np

from voiceguide.audio.cache import DerivedCache, digest


def test_round_trips(tmp_path):
    c = DerivedCache(tmp_path)
    c.save_arrays("k", "a", x=np.arange(5.0))
    assert np.array_equal(c.load_arrays("k", "a")["x"], np.arange(5.0))
    c.save_raw("k", "r.f32", np.ones(7, np.float32))
    assert np.array_equal(c.load_raw("k", "r.f32", "<f4", 7), np.ones(7))
    c.save_json("k", "j", {"a": 1})
    assert c.load_json("k", "j") == {"a": 1}
    assert not list(tmp_path.rglob("*.tmp"))


def test_damaged_or_missing_entries_read_as_absent(tmp_path):
    c = DerivedCache(tmp_path)
    assert c.load_arrays("k", "none") is None and c.load_json("k", "none") is None
    c.save_raw("k", "r.f32", np.ones(7, np.float32))
    assert c.load_raw("k", "r.f32", "<f4", 8) is None          # truncated: not trusted
    (tmp_path / "k" / "bad.npz").write_bytes(b"junk")
    assert c.load_arrays("k", "bad") is None
    (tmp_path / "k" / "bad.json").write_text("{")
    assert c.load_json("k", "bad") is None


def test_an_unwritable_cache_only_costs_speed(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    c = DerivedCache(blocker / "sub")       # its root cannot be made
    c.save_json("k", "j", 1)
    assert c.load_json("k", "j") is None


def test_digest_is_stable_and_distinct():
    assert digest("a", 1) == digest("a", 1) != digest("a", 2)
