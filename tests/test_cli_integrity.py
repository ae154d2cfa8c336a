"""The cache and the files an export writes, tried as users break them, through the real CLI:
damage on disk, several runs at once on one empty cache, kills, a full disk, a read-only cache,
a folder that is no cache. Real espeak-ng, piper (when installed), ffmpeg and files read back."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from fs_support import fill, read_only_view, tmpfs

ROOT = Path(__file__).resolve().parents[1]
VG = ROOT / ".venv" / "bin" / "voiceguide"
ESPEAK = ["--engine", "espeak-ng", "--steps", "1-2"]

pytestmark = [
    pytest.mark.skipif(not VG.exists(), reason="no .venv/bin/voiceguide (run scripts/bootstrap)"),
    pytest.mark.skipif(
        shutil.which("espeak-ng") is None or shutil.which("ffmpeg") is None, reason="needs espeak-ng and ffmpeg"
    ),
]


_NO_SETTINGS = Path(tempfile.mkdtemp(prefix="voiceguide-test-config-")) / "config.toml"
_NO_SETTINGS.write_text("")  # the user's own settings file must not change these runs


def env_for(cache: Path) -> dict:
    return {**os.environ, "VOICEGUIDE_CACHE_DIR": str(cache), "VOICEGUIDE_CONFIG": str(_NO_SETTINGS)}


def vg(cache: Path, *args, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VG), *map(str, args)], capture_output=True, text=True, env=env_for(cache), timeout=timeout
    )


def timed(cache: Path, *args) -> tuple[float, subprocess.CompletedProcess]:
    t = time.monotonic()
    p = vg(cache, *args)
    return time.monotonic() - t, p


def pcm(path: Path) -> np.ndarray:
    if path.suffix == ".wav":
        with wave.open(str(path)) as w:
            return np.frombuffer(w.readframes(w.getnframes()), np.int16)
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "s16le", "-"], capture_output=True)
    return np.frombuffer(out.stdout, np.int16)


def scramble(path: Path, keep_head: int, keep_tail: int = 0) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.seek(keep_head)
        f.write(np.random.default_rng(11).integers(0, 256, size - keep_head - keep_tail, np.uint8).tobytes())


def one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


# --- damage is found and made again; the export equals an undamaged one ----------------------------


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    d = tmp_path_factory.mktemp("ref")
    p = vg(d / "cache", "export", *ESPEAK, "-o", d / "ref.wav")
    assert p.returncode == 0, p.stderr
    return d / "ref.wav"


def copy_cache(reference: Path, tmp_path: Path) -> Path:
    cache = tmp_path / "cache"
    shutil.copytree(reference.parent / "cache", cache)
    return cache


def test_damage_that_keeps_sizes_and_headers_never_reaches_the_export(reference, tmp_path):
    cache = copy_cache(reference, tmp_path)
    clips = sorted(cache.rglob("clips/*/*.wav"))
    derived = sorted(p for p in cache.rglob("mix/*/*") if p.is_file())
    scramble(clips[len(clips) // 2], 64)  # a clip, seal and all
    scramble(clips[1], 64, keep_tail=24)  # a clip's samples, its seal kept
    for p in derived:  # every derived entry, trailers kept
        scramble(p, 0, keep_tail=24)
    p = vg(cache, "export", *ESPEAK, "-o", tmp_path / "again.wav")
    assert p.returncode == 0, p.stderr
    assert np.array_equal(pcm(tmp_path / "again.wav"), pcm(reference))
    assert "cached clip" in p.stderr and "damaged" in p.stderr and "again" in p.stderr
    assert "Warning" not in p.stderr and "overflow" not in p.stderr


def test_a_damaged_clip_is_rendered_again_when_the_mix_data_is_cold(reference, tmp_path):
    cache = copy_cache(reference, tmp_path)
    shutil.rmtree(cache / "mix")
    clip = sorted(cache.rglob("clips/*/*.wav"))[3]
    scramble(clip, 64, keep_tail=24)
    p = vg(cache, "export", *ESPEAK, "-o", tmp_path / "again.wav")
    assert p.returncode == 0, p.stderr
    assert np.array_equal(pcm(tmp_path / "again.wav"), pcm(reference))
    render = vg(cache, "render", *ESPEAK)
    assert "0 rendered" in render.stderr


def test_an_edited_codec_calibration_is_not_trusted(reference, tmp_path):
    cache = tmp_path / "cache"
    first = vg(cache, "export", *ESPEAK, "-o", tmp_path / "a.mp3")
    assert first.returncode == 0, first.stderr
    calibration = next((cache / "mix" / "codec").glob("*.json"))
    data = calibration.read_bytes()
    value = data[:-24].decode()
    calibration.write_bytes(value.replace(value[2], "7" if value[2] != "7" else "8", 1).encode() + data[-24:])
    again = vg(cache, "export", *ESPEAK, "-o", tmp_path / "b.mp3")
    assert again.returncode == 0, again.stderr
    assert np.array_equal(pcm(tmp_path / "a.mp3"), pcm(tmp_path / "b.mp3"))


# --- several runs at once on one empty cache --------------------------------------------------------


@pytest.mark.slow
def test_five_exports_at_once_on_an_empty_cache_all_succeed_with_identical_audio(tmp_path):
    """The default engine (piper when installed, whose output varies from run to run)."""
    cache = tmp_path / "shared"
    outs = [tmp_path / f"c{i}.wav" for i in range(5)]
    procs = [
        subprocess.Popen(
            [str(VG), "export", "--steps", "1-2", "-o", str(o)],
            env=env_for(cache),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for o in outs
    ]
    errs = [p.communicate(timeout=900)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 5, errs
    audio = [pcm(o) for o in outs]
    assert all(np.array_equal(a, audio[0]) for a in audio[1:])
    # what was left behind is whole: a sixth export from the cache renders nothing and agrees
    p = vg(cache, "export", "--steps", "1-2", "-o", tmp_path / "later.wav")
    assert p.returncode == 0 and np.array_equal(pcm(tmp_path / "later.wav"), audio[0])
    assert not [q for q in cache.rglob("*") if q.is_file() and q.name.startswith(".")]


# --- SIGTERM is Ctrl-C; after SIGKILL the next run clears up ------------------------------------------


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    cache = tmp_path_factory.mktemp("warm") / "cache"
    p = vg(cache, "render", "--engine", "espeak-ng", "--pace", "3")
    assert p.returncode == 0, p.stderr
    return cache


def start_export(cache: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(VG), "export", "--engine", "espeak-ng", "--pace", "3", "-o", str(out)],
        env=env_for(cache),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_part(folder: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not any(p.name.endswith(".part") for p in folder.iterdir()):
        assert time.monotonic() < deadline, "the export never started writing"
        time.sleep(0.05)


def test_sigterm_during_an_export_stops_it_cleanly(warm, tmp_path):
    out = tmp_path / "s.mp3"
    out.write_bytes(b"an older export")
    p = start_export(warm, out)
    wait_for_part(tmp_path)
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    err = p.communicate(timeout=30)[1]
    assert p.returncode == 143
    assert one_line(err) == "voiceguide: stopped (terminated)"
    assert sorted(q.name for q in tmp_path.iterdir()) == ["s.mp3"] and out.read_bytes() == b"an older export"


def test_after_a_sigkill_the_next_export_removes_what_was_left(warm, tmp_path):
    out = tmp_path / "s.mp3"
    p = start_export(warm, out)
    wait_for_part(tmp_path)
    p.send_signal(signal.SIGKILL)
    p.wait(30)
    left = [q.name for q in tmp_path.iterdir()]
    assert left and all(n.endswith(".part") for n in left)
    time.sleep(0.5)  # the killed run's ffmpeg finishes reading its closed pipe
    again = vg(warm, "export", "--engine", "espeak-ng", "--steps", "1", "-o", out)
    assert again.returncode == 0, again.stderr
    assert sorted(q.name for q in tmp_path.iterdir()) == ["s.mp3"]


def test_sigterm_during_a_render_stops_the_engines_and_leaves_no_temp(tmp_path):
    cache = tmp_path / "cache"
    p = subprocess.Popen(
        [str(VG), "render", "--engine", "espeak-ng", "--pace", "3"],
        env=env_for(cache),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not list(cache.glob("clips/*/*.wav")):
        assert time.monotonic() < deadline and p.poll() is None
        time.sleep(0.02)
    p.send_signal(signal.SIGTERM)
    err = p.communicate(timeout=30)[1]
    assert p.returncode == 143 and one_line(err) == "voiceguide: stopped (terminated)"
    time.sleep(0.3)
    assert [q.name for q in cache.rglob("*") if q.is_file() and q.name.startswith(".")] == []


# --- a full disk, a read-only cache: one line, at once ---------------------------------------------


def test_a_full_disk_under_the_clips_says_so_at_once(tmp_path):
    with tmpfs("4m") as disk:
        fill(disk, leave_bytes=200_000)
        t, p = timed(disk / "cache", "render", *ESPEAK)
    assert p.returncode == 1 and t < 2
    assert "the disk is full" in one_line(p.stderr)


def test_a_disk_filling_during_the_render_says_so(tmp_path):
    with tmpfs("3m") as disk:
        fill(disk, leave_bytes=1_600_000)  # room for a few clips, not for all of them
        t, p = timed(disk / "cache", "render", "--engine", "espeak-ng")
        leftovers = [q.name for q in (disk / "cache").rglob("*") if q.is_file() and q.name.startswith(".")]
    assert p.returncode == 1 and "the disk is full" in one_line(p.stderr) and "bad clip" not in p.stderr
    assert t < 10 and leftovers == []


def test_a_full_disk_under_the_mix_data_says_so(reference, tmp_path):
    with tmpfs("8m") as disk:
        cache = disk / "cache"
        shutil.copytree(reference.parent / "cache" / "clips", cache / "clips")
        fill(disk, leave_bytes=0)
        t, p = timed(cache, "export", *ESPEAK, "-o", tmp_path / "s.wav")
    assert p.returncode == 1 and t < 3
    assert "the disk is full" in one_line(p.stderr)
    assert list(tmp_path.iterdir()) == []


def test_a_full_export_target_says_so(warm, tmp_path):
    with tmpfs("1m") as disk:
        t, p = timed(warm, "export", "--engine", "espeak-ng", "--steps", "1-2", "-o", disk / "s.mp3")
        left = list(disk.iterdir())
    assert p.returncode == 1 and t < 4
    assert "the disk is full" in one_line(p.stderr) and left == []


def test_a_read_only_cache_with_clips_to_render_fails_at_once(reference, tmp_path):
    cache = copy_cache(reference, tmp_path)
    with read_only_view(cache) as ro:
        served = vg(ro, "export", *ESPEAK, "-o", tmp_path / "from-ro.wav")  # nothing to write: works
        t, p = timed(ro, "render", "--engine", "espeak-ng", "--steps", "3")
    assert served.returncode == 0, served.stderr
    assert np.array_equal(pcm(tmp_path / "from-ro.wav"), pcm(reference))
    assert p.returncode == 1 and t < 2
    assert "read-only file system" in one_line(p.stderr)


# --- clear and prune --------------------------------------------------------------------------------


def test_clear_refuses_a_folder_that_is_no_cache(tmp_path):
    plain = tmp_path / "not-a-cache"
    plain.mkdir()
    (plain / "notes.txt").write_text("mine")
    for args in (["cache", "clear"], ["cache", "prune", "--older-than", "1d"]):
        p = vg(tmp_path / "unused", *args, "--cache-dir", plain)
        assert p.returncode == 2 and "not a voiceguide cache" in one_line(p.stderr)
    assert (plain / "notes.txt").read_text() == "mine"


def test_clear_and_prune_report_what_they_did(reference, tmp_path):
    cache = copy_cache(reference, tmp_path)
    mine = cache / "clips" / "drafts" / "interview.wav"
    mine.parent.mkdir()
    mine.write_text("mine")
    n = sum(1 for q in cache.rglob("*") if q.is_file()) - 2  # less the tag and mine
    p = vg(cache, "cache", "prune", "--older-than", "0m")
    assert p.returncode == 0 and p.stdout.startswith(f"removed {n} files (")
    assert "left 1 files or folders that voiceguide did not make" in p.stdout
    p = vg(cache, "cache", "clear")
    assert p.returncode == 0 and p.stdout.startswith("removed 0 files") and mine.exists()
