"""The live player's key logic at full speed, everywhere: a fake output whose heard position
follows the transport, and keys pressed at set points of a virtual clock. The real sound server
tests (test_player_controller.py) check the same controls by ear; these check the bookkeeping:
what is shown as said, what ``r`` repeats, where jumps land, what the hints say.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from pathlib import Path

import pytest
from audio_server import ToneMixer

from voiceguide.cli import main
from voiceguide.durations import format_clock
from voiceguide.player import PlayerOptions, controller, play_session
from voiceguide.timeline import Cue, CueKind, Step, Timeline

RATE = 8000  # a low rate keeps the pulled arrays small


class FakeOutput:
    """Pulls the transport as a device would, ``frames_per_read`` at each key poll; what it has
    pulled is what is heard (no latency)."""

    name = "fake"
    latency_s = 0.0
    underruns = 0

    def __init__(self, frames_per_read: int):
        self.step = frames_per_read
        self.heard = 0
        self.transport = None

    def start(self, transport):
        self.transport = transport

    def tick(self):
        self.transport.pull(self.step)
        self.heard += self.step

    def audible_frame(self):
        return self.heard

    def check(self):
        pass

    def close(self):
        pass


class VirtualKeys:
    """Keys at virtual times (seconds of heard sound); each poll moves the fake output one tick."""

    def __init__(self, out: FakeOutput, script):
        self.out = out
        self.script = sorted(script)

    def read_key(self, timeout):
        self.out.tick()
        if self.script and self.out.heard >= self.script[0][0] * RATE:
            return self.script.pop(0)[1]
        return None


class Recorder:
    def __init__(self):
        self.cues, self.notes, self.said = [], [], []

    def cue(self, cue, status):
        self.cues.append(cue.text)
        self.said.append(status.last_line)

    def note(self, text, status):
        self.notes.append(text)
        self.said.append(status.last_line)

    def update(self, status):
        self.said.append(status.last_line)

    def close(self):
        pass


def timeline() -> Timeline:
    """An intro of two lines, then two steps of a line each."""
    cues = (
        Cue(200, 500, CueKind.SETUP, "Welcome.", None),
        Cue(900, 1300, CueKind.SAFETY, "Stop if it hurts.", None),
        Cue(2000, 2200, CueKind.TRANSITION, "", 1),
        Cue(2400, 2800, CueKind.INSTRUCTION, "Long strokes.", 1),
        Cue(5000, 5200, CueKind.TRANSITION, "", 2),
        Cue(5400, 5800, CueKind.INSTRUCTION, "Small circles.", 2),
    )
    steps = (Step(1, 1, "Strokes", 2000, 5000), Step(2, 2, "Circles", 5000, 8000))
    return Timeline("Logic", "logic", 9000, steps, cues)


def run(monkeypatch, script, **options):
    out = FakeOutput(RATE // 50)  # 20 ms of sound per poll
    monkeypatch.setattr(controller, "open_output", lambda *a, **k: out)
    shown = Recorder()
    result = play_session(
        ToneMixer(timeline(), rate=RATE),
        options=PlayerOptions(**options),
        display=shown,
        keys=VirtualKeys(out, script),
        safety_texts=["Stop if it hurts."],
    )
    return result, shown


def test_an_uninterrupted_session_shows_every_cue_as_said(monkeypatch):
    result, shown = run(monkeypatch, [])
    assert result.completed and result.underruns == 0
    assert [c for c in shown.cues if c] == ["Welcome.", "Stop if it hurts.", "Long strokes.", "Small circles."]


def test_cues_skipped_by_next_are_never_said_nor_repeated(monkeypatch):
    # "Welcome." is heard; n 0.6 s in skips "Stop if it hurts." and lands on step 1 (2.0 s); r
    # 0.3 s later (the session at about 2.3 s, before "Long strokes." at 2.4 s) repeats what was
    # really said last
    result, shown = run(monkeypatch, [(0.6, "n"), (0.9, "r")])
    assert [e.action for e in result.events][:1] == ["next"]
    assert "Stop if it hurts." not in shown.said
    assert "Stop if it hurts." not in shown.cues
    assert "Again: Welcome." in shown.notes


def test_repeat_with_nothing_heard_yet_says_so(monkeypatch):
    _, shown = run(monkeypatch, [(0.1, "r")])
    assert "Nothing has been said yet" in shown.notes


def test_a_cue_a_jump_lands_on_counts_as_heard(monkeypatch):
    # p in step 1 after its line: back to the step's start, where its chime and line play again
    _, shown = run(monkeypatch, [(3.5, "p")])
    assert shown.cues.count("Long strokes.") == 2


@pytest.mark.parametrize(
    "keymap, key, hint",
    [
        (None, " ", "Paused: press space to go on"),
        ({"pause": "b"}, "b", "Paused: press b to go on"),
        ({"pause": "pagedown"}, "pagedown", "Paused: press pagedown to go on"),
    ],
)
def test_the_pause_hint_names_the_key_as_mapped(monkeypatch, keymap, key, hint):
    _, shown = run(monkeypatch, [(1.0, key), (1.5, key)], keymap=keymap)
    assert shown.notes[:2] == [hint, "Playing"]


def test_every_action_has_a_handler():
    from voiceguide.keynames import ACTIONS, Keymap
    from voiceguide.player.transport import Transport

    mixer = ToneMixer(timeline(), rate=RATE)
    live = controller._Live(Transport(mixer), FakeOutput(1), Recorder(), None, Keymap(), None, (), PlayerOptions())
    assert set(live.actions) == set(ACTIONS)


def test_safety_says_the_routine_safety_lines_over_the_session(monkeypatch):
    result, shown = run(monkeypatch, [(3.0, "s")])
    assert "Safety: Stop if it hurts." in shown.notes
    safety = [e for e in result.events if e.action == "safety"]
    assert len(safety) == 1 and safety[0].before == safety[0].after  # said over the session, no jump
    assert result.completed


def test_safety_without_safety_lines_says_so(monkeypatch):
    out = FakeOutput(RATE // 50)
    monkeypatch.setattr(controller, "open_output", lambda *a, **k: out)
    shown = Recorder()
    play_session(
        ToneMixer(timeline(), rate=RATE), options=PlayerOptions(), display=shown, keys=VirtualKeys(out, [(1.0, "s")])
    )
    assert "This routine has no safety lines" in shown.notes


def test_extend_and_shorten_say_why_they_cannot_without_a_retimer_or_outside_a_step(monkeypatch):
    _, shown = run(monkeypatch, [(1.0, "+"), (3.0, "-")])
    assert shown.notes == ["Steps cannot be made longer here", "Steps cannot be made shorter here"]


def test_extend_asks_the_retimer_for_the_step_heard_and_swaps_in_its_session(monkeypatch):
    asked = []
    longer = ToneMixer(timeline(), rate=RATE).with_timeline(
        Timeline(
            "Logic",
            "logic",
            12000,
            (Step(1, 1, "Strokes", 2000, 8000), Step(2, 2, "Circles", 8000, 11000)),
            timeline().cues,
        )
    )

    def retime(step, delta_ms):
        asked.append((step, delta_ms))
        return longer if delta_ms > 0 else None

    out = FakeOutput(RATE // 50)
    monkeypatch.setattr(controller, "open_output", lambda *a, **k: out)
    shown = Recorder()
    result = play_session(
        ToneMixer(timeline(), rate=RATE),
        options=PlayerOptions(step_adjust_ms=3000),
        display=shown,
        keys=VirtualKeys(out, [(0.5, "+"), (3.0, "+"), (3.5, "-")]),
        retime=retime,
    )
    assert asked == [(1, 3000), (1, -3000)]  # none in the intro; the step heard, by the set amount
    assert shown.notes == [
        "Only a step can be made longer",
        "Step 1 is 3 s longer; the session now ends at 00:12",
        "Step 1 cannot be made shorter",
    ]
    assert result.completed and result.position_ms >= 12000  # the longer session was played to its end


def test_quit_stops_where_it_is_heard(monkeypatch):
    result, _ = run(monkeypatch, [(2.5, "q")])
    assert result.quit and not result.completed
    assert 2500 <= result.position_ms < 4000


class InStepKeys:
    """Presses ``key`` once, when what is heard is ``into_ms`` into the first step, and notes the
    session's length just before."""

    def __init__(self, out: FakeOutput, key: str, into_ms: int = 2000):
        self.out, self.key, self.into_ms = out, key, into_ms
        self.total_before: int | None = None

    def read_key(self, timeout):
        self.out.tick()
        heard = self.out.transport.at(self.out.heard)
        step = heard.mixer.timeline.step_at(heard.session_ms)
        if self.total_before is None and step is not None and heard.session_ms >= step.start_ms + self.into_ms:
            self.total_before = heard.mixer.timeline.total_ms
            return self.key
        return None


class _Terminal:
    def isatty(self):
        return True


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_a_key_from_the_settings_file_drives_the_real_retimer_end_to_end(tmp_path, monkeypatch, capsys):
    """`voiceguide play` as wired: [keys] from the settings file, real clips, the real mixer and
    session.Retimer, wired by player.live; only the sound card and the keyboard are fakes."""
    settings = tmp_path / "settings.toml"
    settings.write_text('[keys]\nextend = "]"\n')
    monkeypatch.setenv("VOICEGUIDE_CONFIG", str(settings))
    monkeypatch.setenv("VOICEGUIDE_CACHE_DIR", str(tmp_path / "cache"))
    rate = 8000
    out = FakeOutput(rate // 10)
    keys = InStepKeys(out, "]")
    monkeypatch.setattr("voiceguide.player.opening.open_output", lambda *a, **k: out)
    monkeypatch.setattr("voiceguide.player.TerminalKeys", lambda: contextlib.nullcontext(keys), raising=False)
    monkeypatch.setattr(sys, "stdin", _Terminal())
    routine = Path(__file__).parent / "routines" / "stretch.yaml"
    with pytest.raises(SystemExit) as end:
        main(
            [
                "play",
                str(routine),
                "--steps",
                "2",
                "--engine",
                "espeak-ng",
                "--sample-rate",
                str(rate),
                "--mono",
                "--music",
                "none",
                "--no-checkins",
            ]
        )
    assert end.value.code == 0
    shown = capsys.readouterr().out
    assert keys.total_before is not None, shown
    longer = keys.total_before + 30_000
    assert f"(Step 1 is 30 s longer; the session now ends at {format_clock(longer)})" in shown
    assert out.heard >= longer * rate // 1000  # and the longer session was played to its new end
