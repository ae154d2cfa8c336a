"""Displays: the plain log line per cue, and the live screen laid out as text."""

from __future__ import annotations

import io
import re

import pytest
from audio_server import tone_timeline

from voiceguide.keynames import Keymap
from voiceguide.player.display import PlainDisplay, Status, TerminalDisplay

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TL = tone_timeline(steps=3, step_ms=4000, intro_ms=1000)  # steps at 1-5, 5-9, 9-13 s; ends at 14 s


def status(ms, **kw):
    return Status(TL, ms, keys=Keymap().help(), **kw)


def test_status_knows_where_the_session_is():
    intro, mid, closing = status(500), status(6000), status(13_500)
    assert (intro.where, intro.heading, intro.step_left_ms) == ("Intro", "Getting ready", 500)
    assert (mid.where, mid.heading, mid.step_left_ms) == ("Step 2/3", "Step 2", 3000)
    assert mid.next_step.title == "Step 3" and mid.session_left_ms == 8000
    assert mid.step_progress == pytest.approx(0.25) and mid.progress == pytest.approx(6 / 14)
    assert (closing.where, closing.heading, closing.next_step) == ("Closing", "Closing", None)
    assert closing.step_left_ms == 500


def test_plain_display_writes_one_line_per_spoken_cue_and_one_per_note():
    out = io.StringIO()
    d = PlainDisplay(out)
    for c in TL.cues[:4]:
        d.cue(c, status(c.start_ms))
    d.note("Paused", status(2100, mode="paused"))
    assert out.getvalue().splitlines() == [
        "00:00  Intro  Welcome.",
        "00:02  Step 1/3  Step 1 line 1.",
        "00:03  Step 1/3  Step 1 line 2.",
        "00:02  Step 1/3  (Paused)",
    ]


class Broken(io.StringIO):
    """A pipe whose reader has gone: every write fails, and each attempt is counted."""

    def __init__(self):
        super().__init__()
        self.attempts = 0

    def write(self, s):
        self.attempts += 1
        raise BrokenPipeError


def test_a_closed_pipe_silences_the_display_not_the_session():
    pipe = Broken()
    d = PlainDisplay(pipe)
    d.cue(TL.cues[0], status(0))  # raises nothing: the session goes on
    d.note("Paused", status(0))
    d.cue(TL.cues[1], status(1))
    assert pipe.attempts == 1  # after the first failure the display stops writing
    screen = Broken()
    t = TerminalDisplay(screen, size=(80, 24))
    t.update(status(0))
    t.update(status(1))
    t.close()
    assert screen.attempts == 1


def visible(line):
    return ANSI.sub("", line)


def test_the_live_screen_shows_step_times_progress_next_line_and_keys():
    d = TerminalDisplay(io.StringIO(), unicode=True)
    lines = d.render(status(6000, last_line="Step 2 line 1.", message="Paused"), 80, 24)
    text = "\n".join(visible(ln) for ln in lines)
    assert "Tones" in text and "Step 2/3" in text and "playing" in text
    assert "\u2588" in text or "\u2580" in text  # the step's name in block letters
    assert "This step" in text and "00:03 left" in text
    assert "Session" in text and "00:08 left of 00:14" in text
    assert "Next:  Step 3" in text and "\u201cStep 2 line 1.\u201d" in text
    assert "space pause" in text and "n next" in text and "q quit" in text
    assert lines[-1] == "Paused"
    assert all(len(visible(ln)) <= 80 for ln in lines)


def test_a_narrow_or_short_terminal_still_gets_every_fact():
    d = TerminalDisplay(io.StringIO(), unicode=True)
    for cols, rows in ((30, 24), (80, 9), (20, 6)):
        lines = d.render(status(6000, mode="paused"), cols, rows)
        text = "\n".join(visible(ln) for ln in lines)
        assert len(lines) <= rows and all(len(visible(ln)) <= max(20, cols) for ln in lines)
        assert "PAUSED" in text
        assert "Step 2" in text or "STEP 2" in text


def test_without_unicode_the_screen_is_plain_ascii():
    d = TerminalDisplay(io.StringIO(), unicode=False)
    text = "\n".join(visible(ln) for ln in d.render(status(6000, last_line="x"), 80, 30))
    assert text.isascii() and "#####" in text


def test_the_screen_is_drawn_on_the_alternate_screen_only_when_it_changes():
    out = io.StringIO()
    d = TerminalDisplay(out, size=(80, 24))
    d.update(status(6000))
    first = out.getvalue()
    assert first.startswith("\x1b[?1049h\x1b[?25l")
    d.update(status(6000))
    assert out.getvalue() == first  # nothing new to show: nothing written
    d.update(status(7000))
    assert len(out.getvalue()) > len(first) and out.getvalue().count("\x1b[?1049h") == 1
    d.close()
    assert out.getvalue().endswith("\x1b[?25h\x1b[?1049l")
    d.close()
    assert out.getvalue().count("\x1b[?1049l") == 1
