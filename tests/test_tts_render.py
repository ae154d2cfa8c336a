"""Texts -> cached clips, with the real espeak-ng and with misbehaving engines plugged in
through the registry (a hang, a crash, a flaky one, one that writes silence)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from voiceguide.background import Background
from voiceguide.errors import EngineError, RoutineError, VoiceError
from voiceguide.tts import (
    ClipCache,
    VoiceSettings,
    lookup_clips,
    render_clips,
)
from voiceguide.tts.command import CommandEngine
from voiceguide.tts.engine import EngineFailure, Voice
from voiceguide.tts.render import clip_key, spoken_form
from voiceguide.tts.wav import check_speech

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")

ROOT = Path(__file__).resolve().parent.parent

TEXTS = ["Warm up with long, slow strokes.", "Step 2 of 7: Effleurage.", "30 seconds left."]
OTHER = ["Step 2 of 7: Effleurage.", "Next: circular motions."]  # shares one sentence with TEXTS

# Writes a one-second tone as a WAV (what a working engine would write).
TONE = (
    "import math, struct, sys, wave\n"
    "w = wave.open(sys.argv[1], 'wb'); w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)\n"
    "w.writeframes(b''.join(struct.pack('<h', int(9000 * math.sin(i / 4))) for i in range(16000)))\n"
    "w.close()\n"
)


class Script(CommandEngine):
    """A fake engine: a Python snippet per clip; it appends a line to ``calls`` when run."""

    def __init__(self, name: str, code: str, calls: Path):
        self.name = name
        self.code = code
        self.calls = calls

    def available(self) -> bool:
        return True

    def version(self) -> str:
        return "test"

    def voices(self) -> list[Voice]:
        return []

    def argv(self, text, out, settings):
        log = f"open({str(self.calls)!r}, 'a').write('x\\n')\n"
        return [sys.executable, "-c", log + self.code, str(out), text]

    def count(self) -> int:
        return len(self.calls.read_text().splitlines()) if self.calls.exists() else 0


@pytest.fixture
def fake(tmp_path, fake_engines):
    def make(name: str, code: str, *, first_in_auto: bool = False) -> Script:
        engine = Script(name, code, tmp_path / f"{name}.calls")
        fake_engines(name, lambda: engine, first_in_auto=first_in_auto)
        return engine

    return make


def espeak(**kw) -> VoiceSettings:
    return VoiceSettings(engine="espeak-ng", **kw)


def test_clips_are_valid_cached_once_and_reused_across_routines(tmp_path):
    cache = ClipCache(tmp_path)
    seen = []
    first = render_clips(TEXTS, espeak(), cache, progress=lambda d, t: seen.append((d, t)))
    assert first.engine == "espeak-ng" and first.rendered == 3 and first.notes == []
    assert set(first.clips) == set(TEXTS)
    for text, clip in first.clips.items():
        info = check_speech(clip.path, text, 160)
        assert (info.frames, info.sample_rate) == (clip.frames, clip.sample_rate)
        assert clip.path.is_relative_to(tmp_path / "clips")
        assert clip.path.name == clip.key + ".wav"
    assert seen[0] == (0, 3) and seen[-1] == (3, 3) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert cache.info().count == 3

    again = render_clips(TEXTS, espeak(), cache)
    assert again.rendered == 0 and again.clips == first.clips

    other = render_clips(OTHER, espeak(), cache)
    assert other.rendered == 1  # the shared sentence came from the cache
    assert other.clips[OTHER[0]] == first.clips[OTHER[0]]
    assert cache.info().count == 4


def test_voice_and_rate_and_volume_key_the_clip(tmp_path):
    cache = ClipCache(tmp_path)
    text = ["Knead the shoulders gently."]
    base = render_clips(text, espeak(), cache).clips[text[0]]
    for settings in (espeak(rate_wpm=200), espeak(voice="en-us"), espeak(volume=0.5)):
        result = render_clips(text, settings, cache)
        assert result.rendered == 1, settings
        assert result.clips[text[0]].key != base.key
    fast = render_clips(text, espeak(rate_wpm=200), cache)
    assert fast.rendered == 0 and fast.clips[text[0]].frames < base.frames


def test_a_truncated_clip_is_rendered_again(tmp_path):
    cache = ClipCache(tmp_path)
    clip = render_clips(TEXTS, espeak(), cache).clips[TEXTS[0]]
    whole = clip.path.read_bytes()
    clip.path.write_bytes(whole[:64])
    assert TEXTS[0] not in lookup_clips(TEXTS, espeak(), cache)
    result = render_clips(TEXTS, espeak(), cache)
    assert result.rendered == 1
    assert clip.path.read_bytes() == whole


def test_lookup_renders_nothing_and_returns_only_whole_clips(tmp_path):
    cache = ClipCache(tmp_path)
    assert lookup_clips(TEXTS, espeak(), cache) == {}
    assert cache.info().count == 0
    rendered = render_clips(TEXTS[:2], espeak(), cache).clips
    found = lookup_clips(TEXTS, espeak(), cache)
    assert found == rendered
    assert lookup_clips(TEXTS, VoiceSettings(engine="piper-not-registered"), cache) == {}


def test_empty_text_is_refused_and_whitespace_does_not_split_the_cache(tmp_path):
    cache = ClipCache(tmp_path)
    for bad in ("", "   \n"):
        with pytest.raises(RoutineError, match="no text"):
            render_clips(["Fine.", bad], espeak(), cache)
    assert cache.info().count == 0  # refused before anything was rendered
    result = render_clips(["Breathe  in.", " Breathe in.\n"], espeak(), cache)
    assert result.rendered == 1
    assert result.clips["Breathe  in."] == result.clips[" Breathe in.\n"]
    assert spoken_form(" a\tb ") == "a b"


def test_unknown_voice_is_bad_input(tmp_path):
    with pytest.raises(VoiceError, match="no voice 'xx-nowhere'") as err:
        render_clips(TEXTS, espeak(voice="xx-nowhere"), ClipCache(tmp_path))
    assert err.value.exit_code == 2


def test_a_hung_engine_is_timed_out_retried_once_then_reported(tmp_path, fake):
    hang = fake("fake-hang", "import time; time.sleep(60)")
    t = time.monotonic()
    with pytest.raises(EngineError) as err:
        render_clips(["Hello there."], VoiceSettings(engine="fake-hang"), ClipCache(tmp_path), timeout_s=1.0)
    elapsed = time.monotonic() - t
    message = str(err.value)
    assert "\n" not in message
    assert message == "fake-hang gave no clip within 1 s (tried twice)"
    assert hang.count() == 2
    assert 2.0 <= elapsed < 10
    assert not any((tmp_path / "clips").rglob("*.tmp"))  # no half-written leftovers


def test_a_flaky_engine_succeeds_on_its_second_try(tmp_path, fake):
    code = (
        f"import os, sys\nif not os.path.exists({str(tmp_path / 'failed-once')!r}):\n"
        f"    open({str(tmp_path / 'failed-once')!r}, 'w').close(); sys.exit(1)\n" + TONE
    )
    flaky = fake("fake-flaky", code)
    result = render_clips(["one two"], VoiceSettings(engine="fake-flaky"), ClipCache(tmp_path))
    assert flaky.count() == 2 and result.rendered == 1
    assert result.clips["one two"].sample_rate == 16000


def test_a_clip_of_silence_is_never_cached(tmp_path, fake):
    code = (
        "import sys, wave\nw = wave.open(sys.argv[1], 'wb'); w.setnchannels(1); w.setsampwidth(2)\n"
        "w.setframerate(16000); w.writeframes(bytes(32000)); w.close()\n"
    )
    fake("fake-silent", code)
    cache = ClipCache(tmp_path)
    with pytest.raises(
        EngineError, match=r"fake-silent wrote a bad clip for 'Hello there.': clip is silent \(tried twice\)"
    ):
        render_clips(["Hello there."], VoiceSettings(engine="fake-silent"), cache)
    assert cache.info().count == 0


def test_an_engine_that_writes_nothing_is_reported(tmp_path, fake):
    fake("fake-mute", "pass")
    with pytest.raises(EngineError, match="fake-mute wrote no clip"):
        render_clips(["Hello there."], VoiceSettings(engine="fake-mute"), ClipCache(tmp_path))


def test_a_crash_under_auto_falls_back_to_espeak_with_a_note(tmp_path, fake):
    crash = fake("fake-crash", "import os; os.abort()", first_in_auto=True)
    progress = []
    result = render_clips(TEXTS, VoiceSettings(), ClipCache(tmp_path), progress=lambda d, t: progress.append(d))
    assert result.engine == "espeak-ng"
    assert result.notes == ["fake-crash failed: killed by SIGABRT (tried twice); fell back to espeak-ng"]
    assert crash.count() >= 2
    assert result.rendered == 3 and all(check_speech(c.path, t, 160) for t, c in result.clips.items())
    assert progress == sorted(progress) and progress[-1] == 3
    # Asked by name, the same crash is an error: no silent change of engine.
    with pytest.raises(EngineError, match=r"fake-crash .*\(tried twice\)"):
        render_clips(TEXTS, VoiceSettings(engine="fake-crash"), ClipCache(tmp_path / "b"))


def test_fallback_drops_a_voice_espeak_does_not_know(tmp_path, fake):
    crash = fake("fake-crash2", "import sys; sys.exit(2)", first_in_auto=True)
    crash.voices = lambda: [Voice("fake-crash2", "fancy-neural-voice", "en", "")]
    result = render_clips(TEXTS[:1], VoiceSettings(voice="fancy-neural-voice"), ClipCache(tmp_path))
    assert result.engine == "espeak-ng"
    assert result.notes[0].endswith("with its default voice ('fancy-neural-voice' is not one of its voices)")


def test_clip_key_covers_everything_that_changes_the_sound():
    base = ("espeak-ng", "1.51", "", 160, 1.0, 22050, "Hello.")
    keys = {clip_key(*base)}
    for i, changed in enumerate(["pyttsx3", "1.52", "en-us", 161, 0.9, 16000, "Hello!"]):
        args = list(base)
        args[i] = changed
        keys.add(clip_key(*args))
    assert len(keys) == 8
    assert clip_key(*base) == clip_key(*base)
    assert all(len(k) == 64 and int(k, 16) >= 0 for k in keys)


SNIPPET = """
import hashlib, json, sys
from voiceguide.tts import ClipCache, VoiceSettings, render_clips
texts = json.loads(sys.argv[2])
r = render_clips(texts, VoiceSettings(engine="espeak-ng"), ClipCache(sys.argv[1]))
print(json.dumps({t: hashlib.sha256(c.path.read_bytes()).hexdigest() for t, c in r.clips.items()}))
"""


def test_two_processes_rendering_into_one_cache_both_succeed_with_identical_clips(tmp_path):
    texts = [f"Hold the stretch for {n} breaths, then let go." for n in range(2, 14)]
    cmd = [sys.executable, "-c", SNIPPET, str(tmp_path / "shared"), json.dumps(texts)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    a, b = (json.loads(out) for out, _ in outs)
    assert a == b and len(a) == len(texts)
    cache = ClipCache(tmp_path / "shared")
    assert cache.info().count == len(texts) and cache.info().temp_files == 0
    # And a third render, alone, makes the very same bytes: clips are a function of their key.
    alone = render_clips(texts, espeak(), ClipCache(tmp_path / "alone")).clips
    assert {t: hashlib.sha256(c.path.read_bytes()).hexdigest() for t, c in alone.items()} == a


def test_parallel_render_matches_a_sequential_one(tmp_path):
    texts = [f"Count {n} slow circles with your palms." for n in range(1, 9)]
    with Background(4) as background:
        par = render_clips(texts, espeak(), ClipCache(tmp_path / "p"), jobs=4, background=background).clips
    seq = render_clips(texts, espeak(), ClipCache(tmp_path / "s"), jobs=1).clips
    for t in texts:
        assert par[t].key == seq[t].key
        assert par[t].path.read_bytes() == seq[t].path.read_bytes()


def test_a_failure_is_an_engine_failure_subclass_for_callers():
    assert issubclass(EngineFailure, EngineError)


def test_a_failed_clip_stops_the_others_at_once(tmp_path, fake):
    code = "import sys, time\nif sys.argv[2] == 'Hang on.':\n    time.sleep(60)\nsys.exit(5)\n"
    both = fake("fake-mixed", code)
    t = time.monotonic()
    with (
        Background(2) as background,
        pytest.raises(EngineError, match=r"fake-mixed failed: exit status 5 \(tried twice\)"),
    ):
        render_clips(
            ["Hang on.", "Fail now."],
            VoiceSettings(engine="fake-mixed"),
            ClipCache(tmp_path),
            jobs=2,
            timeout_s=30,
            background=background,
        )
    assert time.monotonic() - t < 10  # the hung clip was killed, not waited for
    assert both.count() >= 3


# --- a cache that cannot take clips: one line, at once, never an engine's retry ----------------------

from fs_support import fill, honouring_permissions, read_only_view, tmpfs  # noqa: E402


def test_a_read_only_cache_with_clips_to_render_fails_at_once(tmp_path, fake):
    from voiceguide.errors import EnvironmentFault

    engine = fake("fake-ok", TONE)
    src = tmp_path / "cache"
    render_clips(TEXTS[:1], VoiceSettings(engine="fake-ok"), ClipCache(src))
    before = engine.count()
    with read_only_view(src) as ro:
        # everything cached: a read-only cache serves its clips
        assert render_clips(TEXTS[:1], VoiceSettings(engine="fake-ok"), ClipCache(ro)).rendered == 0
        t = time.monotonic()
        with pytest.raises(EnvironmentFault, match="it is on a read-only file system") as err:
            render_clips(TEXTS, VoiceSettings(engine="fake-ok"), ClipCache(ro), timeout_s=30)
        assert time.monotonic() - t < 2
        assert not isinstance(err.value, EngineFailure)
    assert engine.count() == before  # no engine was started for nothing


def test_a_cache_folder_the_user_may_not_write_fails_at_once(tmp_path):
    """chmod does not stop root, so as root the render runs without the capabilities that would
    override the folder's permissions."""
    cache = tmp_path / "cache"
    (cache / "clips").mkdir(parents=True)
    code = (
        "import sys\n"
        "from voiceguide.tts import ClipCache, VoiceSettings, render_clips\n"
        "from voiceguide.errors import EnvironmentFault\n"
        "try:\n"
        "    render_clips(['Hello there.'], VoiceSettings(engine='espeak-ng'), ClipCache(sys.argv[1]))\n"
        "except EnvironmentFault as e:\n"
        "    print(e)\n"
    )
    for folder in (cache, cache / "clips"):
        folder.chmod(0o555)
    try:
        t = time.monotonic()
        p = subprocess.run(
            [*honouring_permissions(), sys.executable, "-c", code, str(cache)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=60,
        )
        assert time.monotonic() - t < 5, "a fresh interpreter, imports included"
    finally:
        for folder in (cache, cache / "clips"):
            folder.chmod(0o755)
    assert p.returncode == 0, p.stderr
    assert "cannot write to the clip cache" in p.stdout and "permission denied" in p.stdout
    assert list((cache / "clips").iterdir()) == []


def test_a_disk_that_fills_while_rendering_is_reported_as_full(fake):
    from voiceguide.errors import EnvironmentFault

    fake("fake-ok", TONE)
    texts = [f"Line number {n}, spoken slowly." for n in range(40)]
    with tmpfs("2m") as disk:
        t = time.monotonic()
        with pytest.raises(EnvironmentFault, match="the disk is full") as err:
            # 40 clips of a second at 16 kHz are 1.3 MB: the disk fills on the way
            fill(disk, leave_bytes=1_200_000)
            render_clips(texts, VoiceSettings(engine="fake-ok"), ClipCache(disk / "cache"), timeout_s=30)
        assert time.monotonic() - t < 20
        assert not isinstance(err.value, EngineFailure)
        assert "bad clip" not in str(err.value)
        leftovers = [p.name for p in (disk / "cache" / "clips").rglob("*") if p.is_file() and p.name.startswith(".")]
        assert leftovers == []


def test_a_full_disk_is_reported_before_any_engine_starts(fake):
    from voiceguide.errors import EnvironmentFault

    engine = fake("fake-ok", TONE)
    with tmpfs("2m") as disk:
        fill(disk, leave_bytes=0)
        t = time.monotonic()
        with pytest.raises(EnvironmentFault, match=r"the disk is full \(\d+ kB free\)"):
            render_clips(TEXTS, VoiceSettings(engine="fake-ok"), ClipCache(disk / "c"))
        assert time.monotonic() - t < 2 and engine.count() == 0


def test_a_folder_where_a_clip_should_be_is_moved_aside_and_rendered(tmp_path):
    cache = ClipCache(tmp_path)
    first = render_clips(TEXTS[:1], espeak(), cache).clips[TEXTS[0]]
    path = first.path
    path.unlink()
    path.mkdir()
    (path / "notes.txt").write_text("someone's")
    again = render_clips(TEXTS[:1], espeak(), cache)
    assert again.rendered == 1 and again.clips[TEXTS[0]].path.is_file()
    assert again.clips[TEXTS[0]].digest == first.digest  # espeak-ng's clips are a function of their key
    aside = [p for p in path.parent.iterdir() if p.name.endswith(".damaged")]
    assert len(aside) == 1 and (aside[0] / "notes.txt").read_text() == "someone's"
