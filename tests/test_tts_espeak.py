"""The espeak-ng command line as an engine, run for real."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from voiceguide.errors import EngineError, VoiceError
from voiceguide.tts.engine import VoiceSettings
from voiceguide.tts.espeak import EspeakEngine, amplitude, parse_voices
from voiceguide.tts.wav import check_speech

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")

LISTING = """\
Pty Language       Age/Gender VoiceName          File                 Other Languages
 5  af              --/M      Afrikaans          gmw/af
 2  en-gb           --/M      English_(Great_Britain) gmw/en               (en 2)
 2  en-us           --/F      English_(America)  gmw/en-US            (en 3)
 5  en-us           --/M      us-mbrola-2        mb/mb-us2            (en 7)
"""


def test_parse_voices_names_by_language_when_unique():
    voices = parse_voices(LISTING)
    assert [(v.name, v.language) for v in voices] == [
        ("af", "af"),
        ("en-gb", "en-gb"),
        ("gmw/en-US", "en-us"),
        ("mb/mb-us2", "en-us"),
    ]
    assert voices[1].description == "English (Great Britain), male"
    assert voices[2].description == "English (America), female"


def test_real_voice_list_holds_english():
    voices = EspeakEngine().voices()
    assert len(voices) > 20
    assert any(v.language == "en-us" for v in voices)


def test_version_names_the_release():
    v = EspeakEngine().version()
    assert "1." in v and "eSpeak" in v


def test_renders_a_valid_clip_with_rate_and_volume(tmp_path):
    engine = EspeakEngine()
    text = "Slow, long strokes up the back."
    out = {}
    for label, settings in {
        "normal": VoiceSettings(engine="espeak-ng"),
        "fast": VoiceSettings(engine="espeak-ng", rate_wpm=320),
        "quiet": VoiceSettings(engine="espeak-ng", volume=0.25),
    }.items():
        path = tmp_path / f"{label}.wav"
        engine.open(settings, 1, 10).render(text, path, 10)
        out[label] = (check_speech(path, text, settings.rate_wpm), path)
    normal, fast = out["normal"][0], out["fast"][0]
    assert normal.sample_rate == 22050 == engine.sample_rate(None)
    assert fast.frames < normal.frames * 0.75  # the rate is applied, not just asked for
    from voiceguide.tts.wav import peak, read_pcm16

    loud = peak(read_pcm16(out["normal"][1]), stride=1)
    quiet = peak(read_pcm16(out["quiet"][1]), stride=1)
    assert quiet < loud * 0.5


def test_known_voices_and_variants_pass_unknown_ones_fail():
    engine = EspeakEngine()
    engine.check_voice(VoiceSettings(voice="en-us"))
    engine.check_voice(VoiceSettings(voice="en-us+f3"))  # a variant: accepted though not listed
    with pytest.raises(VoiceError, match=r"espeak-ng has no voice 'xx-nowhere'.*voiceguide voices --engine espeak-ng"):
        engine.check_voice(VoiceSettings(voice="xx-nowhere"))
    with pytest.raises(VoiceError) as err:
        engine.open(VoiceSettings(voice="xx-nowhere"), 1, 10)
    assert err.value.exit_code == 2  # a mistyped voice is bad input
    assert engine.knows_voice("en-us") and not engine.knows_voice("xx-nowhere")


def test_missing_program_is_reported_with_the_install_line():
    engine = EspeakEngine(program="espeak-ng-not-here")
    assert not engine.available()
    with pytest.raises(EngineError, match="apt-get install espeak-ng"):
        engine.require()


def test_amplitude_maps_volume_onto_espeaks_scale():
    assert amplitude(1.0) == 100 and amplitude(0.5) == 50 and amplitude(0.001) == 1


def test_a_text_starting_with_a_dash_is_spoken_not_parsed(tmp_path):
    path = tmp_path / "dash.wav"
    EspeakEngine().open(VoiceSettings(), 1, 10).render("-5 minutes left", path, 10)
    assert check_speech(path, "-5 minutes left", 160).frames > 22050 // 2


def test_naming_the_default_voice_file_sounds_the_same_as_no_voice(tmp_path):
    engine = EspeakEngine()
    text = "Step 3 of 7: Petrissage."
    ours = tmp_path / "ours.wav"
    engine.open(VoiceSettings(), 1, 10).render(text, ours, 10)
    plain = tmp_path / "plain.wav"
    subprocess.run(["espeak-ng", "-b", "1", "-s", "160", "-a", "100", "-w", str(plain), "--", text], check=True)
    voice = engine.default_voice_arg()
    if not voice:
        pytest.skip("this espeak-ng has no gmw/en voice file to name")
    argv = engine.argv(text, ours, VoiceSettings())
    assert argv[argv.index("-v") + 1] == voice
    assert ours.read_bytes() == plain.read_bytes()
