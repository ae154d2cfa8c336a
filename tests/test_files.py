"""Temp names that carry their writer, leftovers removed only once the writer is gone, first-wins
publishing, the cache tag, and what a failed write is called."""

from __future__ import annotations

import errno
import os
import time

from voiceguide import files
from voiceguide.errors import EnvironmentFault


def test_a_temp_name_says_what_it_becomes_and_who_writes_it():
    name = files.temp_name("ab" * 32 + ".wav")
    assert name.startswith(".") and name.endswith(".tmp")
    assert files.temp_target(name) == "ab" * 32 + ".wav"
    assert files.temp_target(files.temp_name("s.mp3", ".part")) == "s.mp3"
    assert files.temp_target(name + ".1.tmp") == "ab" * 32 + ".wav"  # pyttsx3's retry beside it
    pid = name.split(".")[-3].split("-")[0]
    assert int(pid) == os.getpid()
    for foreign in ("interview.wav", ".s.mp3.1234.part", ".x.abc-1-2.deadbeef.tmp", "notes.tmp"):
        assert files.temp_target(foreign) is None


def test_a_live_writer_is_alive_and_an_exited_one_is_not(dead_writer_name):
    mine = files.temp_name("x.json")
    assert files.writer_alive(mine)
    assert files.writer_alive(mine, time.time() - 10 * 86400)  # however old: its writer runs
    dead = dead_writer_name("x.json")
    assert not files.writer_alive(dead, time.time())


def test_a_recycled_pid_does_not_keep_a_temp_alive():
    # our own pid, with a start time that is not ours: an earlier process that had this pid
    tag = files.writer_tag()
    pid, start, host = tag.split("-")
    name = f".x.json.{pid}-{int(start) + 1}-{host}.0123abcd.tmp"
    assert files.temp_target(name) == "x.json"
    assert not files.writer_alive(name, time.time())


def test_a_temp_from_another_host_or_boot_goes_by_its_age():
    name = ".x.json.12-34-00000000.0123abcd.tmp"
    assert files.writer_alive(name, time.time() - 60)
    assert not files.writer_alive(name, time.time() - 2 * files.FOREIGN_STALE_S)


def test_remove_leftovers_takes_only_dead_writers_temps_it_is_asked_for(tmp_path, dead_writer_name):
    dead = tmp_path / dead_writer_name("a.mp3", ".part")
    dead_retry = tmp_path / (dead_writer_name("b.wav") + ".2.tmp")
    live = tmp_path / files.temp_name("c.mp3", ".part")
    other_target = tmp_path / dead_writer_name("notes.txt")
    user = [tmp_path / "a.mp3", tmp_path / ".a.mp3.1234.part", tmp_path / "draft.tmp"]
    for p in [dead, dead_retry, live, other_target, *user]:
        p.write_bytes(b"x" * 10)
    folder_named_like_a_temp = tmp_path / dead_writer_name("d.mp3", ".part")
    folder_named_like_a_temp.mkdir()
    removed = files.remove_leftovers(tmp_path, lambda t: t.endswith((".mp3", ".wav")))
    assert removed == (2, 20)
    assert not dead.exists() and not dead_retry.exists()
    assert live.exists() and other_target.exists() and folder_named_like_a_temp.is_dir()
    assert all(p.exists() for p in user)


def test_publish_first_keeps_the_first_entry(tmp_path):
    a, b, final = tmp_path / "a", tmp_path / "b", tmp_path / "final"
    a.write_text("first")
    b.write_text("second")
    assert files.publish_first(a, final)
    assert not files.publish_first(b, final)
    assert final.read_text() == "first" and a.exists() and b.exists()  # temps are the caller's


def test_set_aside_removes_files_and_links_but_only_moves_folders(tmp_path):
    target = tmp_path / "kept.txt"
    target.write_text("the user's")
    link = tmp_path / "link.wav"
    link.symlink_to(target)
    files.set_aside(link)
    assert not link.is_symlink() and target.read_text() == "the user's"
    folder = tmp_path / "entry.wav"
    folder.mkdir()
    (folder / "inside.txt").write_text("not ours to delete")
    files.set_aside(folder)
    assert not folder.exists()
    moved = [p for p in tmp_path.iterdir() if p.name.startswith(".entry.wav.") and p.name.endswith(".damaged")]
    assert len(moved) == 1 and (moved[0] / "inside.txt").read_text() == "not ours to delete"
    plain = tmp_path / "plain"
    plain.write_text("x")
    files.set_aside(plain, ino=os.lstat(plain).st_ino + 1)  # another file by now: left alone
    assert plain.exists()


def test_write_faults_name_a_full_disk_and_a_read_only_one():
    full = files.write_fault(OSError(errno.ENOSPC, "No space left on device"), "the clip cache /c")
    assert isinstance(full, EnvironmentFault) and full.exit_code == 1
    assert str(full).startswith("the disk is full")
    ro = files.write_fault(OSError(errno.EROFS, "Read-only file system"), "the clip cache /c")
    assert "read-only file system" in str(ro)
    denied = files.write_fault(OSError(errno.EACCES, "Permission denied"), "the clip cache /c")
    assert "permission denied" in str(denied)


def test_the_cache_tag_follows_the_spec(tmp_path):
    assert not files.has_cache_tag(tmp_path)
    files.tag_cache_dir(tmp_path)
    text = (tmp_path / "CACHEDIR.TAG").read_bytes()
    # the spec: the file begins with exactly these 43 bytes
    assert text.startswith(b"Signature: 8a477f597d28d172789f06886806bc55")
    assert files.has_cache_tag(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CACHEDIR.TAG"]  # no temp left


def test_disk_is_full_reads_the_free_space(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "free_bytes", lambda path: 5000)
    assert files.disk_is_full(tmp_path)
    assert str(files.full_disk_fault("the clip cache", tmp_path)).endswith(
        "the disk is full (4 kB free): cannot write to the clip cache"
    )
    monkeypatch.setattr(files, "free_bytes", lambda path: 50 << 20)
    assert not files.disk_is_full(tmp_path)
