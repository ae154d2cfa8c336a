"""The Python API: voiceguide.Session, the README's example run for real, errors the library's own."""

import json
import re
import subprocess
import sys
import wave
from pathlib import Path

import pytest

import voiceguide

ROOT = Path(__file__).resolve().parents[1]
STRETCH = ROOT / "tests" / "routines" / "stretch.yaml"


def readme_example() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def ffprobe_duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(json.loads(out)["format"]["duration"])


def test_the_readmes_example_runs(tmp_path, monkeypatch, capsys):
    pytest.importorskip("pydub")
    code = readme_example()
    assert 'voiceguide.Session("back-massage", length="15m", engine="piper")' in code
    # smaller and faster here: one step, three and a half minutes, espeak-ng
    code = code.replace('length="15m", engine="piper"', 'length="3m30s", steps="1", engine="espeak-ng"')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOICEGUIDE_CACHE_DIR", str(tmp_path / "cache"))
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert capsys.readouterr().out.strip() == "210.0"
    assert ffprobe_duration(tmp_path / "massage.mp3") == pytest.approx(210.0, abs=0.1)
    vtt = (tmp_path / "massage.mp3.chapters.vtt").read_text()
    assert vtt.startswith("WEBVTT") and "Warm-up strokes" in vtt
    segment = scope["segment"]
    assert len(segment) == pytest.approx(210_000, abs=30) and segment.channels == 2 and segment.frame_rate == 44100
    assert ffprobe_duration(tmp_path / "first-minute.wav") == pytest.approx(60.0, abs=0.05)


def test_the_audiosegment_holds_the_wav_exports_very_samples(tmp_path):
    pytest.importorskip("pydub")
    with voiceguide.Session(
        STRETCH,
        engine="espeak-ng",
        length="2m30s",
        steps="1-2",
        mono=True,
        sample_rate=22050,
        cache_dir=tmp_path / "cache",
    ) as session:  # closed: its threads end with it
        result = session.export(tmp_path / "s.wav")
        segment = session.to_audiosegment()
    with wave.open(str(result.path)) as w:
        frames = w.readframes(w.getnframes())
    assert segment.raw_data == frames and segment.channels == 1 and segment.frame_rate == 22050
    assert session.timeline.total_ms == result.duration_ms


def test_errors_are_the_librarys_own_and_nothing_is_printed(tmp_path, capsys):
    with pytest.raises(voiceguide.PacingError, match="does not fit"):
        voiceguide.Session("back-massage", length="2m", cache_dir=tmp_path)
    with pytest.raises(voiceguide.PacingError, match="length: not a duration"):
        voiceguide.Session("back-massage", length="soon", cache_dir=tmp_path)
    with pytest.raises(voiceguide.RoutineError, match="no bundled routine or file"):
        voiceguide.Session("no-such-routine", cache_dir=tmp_path)
    with pytest.raises(voiceguide.ConfigError, match="chime"):
        voiceguide.Session(chime="gong", cache_dir=tmp_path)
    assert issubclass(voiceguide.PacingError, voiceguide.VoiceguideError)
    assert capsys.readouterr() == ("", "")


def test_music_louder_than_the_voice_is_a_note_not_a_print(tmp_path, capsys):
    with voiceguide.Session(
        STRETCH, engine="espeak-ng", steps="1", music_volume=10, sample_rate=22050, cache_dir=tmp_path / "cache"
    ) as session:
        session.mixer()
        assert any("louder than the voice" in n for n in session.notes)
    assert capsys.readouterr() == ("", "")


def test_import_voiceguide_stays_cheap():
    code = (
        "import sys, voiceguide; heavy = {'numpy', 'yaml', 'click', 'voiceguide.session', 'voiceguide.cli'} "
        "& set(sys.modules); assert not heavy, heavy; assert voiceguide.Session.__name__ == 'Session'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert "Session" in dir(voiceguide)
    with pytest.raises(AttributeError):
        _ = voiceguide.no_such_name
