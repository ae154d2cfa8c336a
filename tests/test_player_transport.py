"""The transport's logic, sample for sample, against a mixer whose output is known."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from audio_server import ToneMixer, onsets, stretched, tone_timeline
from hypothesis import given, settings
from hypothesis import strategies as st

from voiceguide.player.transport import (
    Fades,
    Mode,
    Pause,
    Say,
    Seek,
    Stop,
    Swap,
    Transport,
    remap,
)

RATE = 44100


def ms(n: int) -> int:
    return n * RATE // 1000


@pytest.fixture
def mixer() -> ToneMixer:
    return ToneMixer(tone_timeline(steps=3, step_ms=4000))


def pull_all(t: Transport, frames: int, block: int = 1000) -> np.ndarray:
    parts = []
    while frames > 0:
        parts.append(t.pull(min(block, frames)))
        frames -= block
    return np.concatenate(parts)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 9000), min_size=1, max_size=40))
def test_uninterrupted_play_is_the_mixer_output_whatever_the_block_sizes(sizes):
    m = ToneMixer(tone_timeline(steps=1, step_ms=2000, intro_ms=300, outro_ms=200))
    t = Transport(m)
    got = np.concatenate([t.pull(n) for n in sizes])
    want = np.zeros_like(got)
    k = min(len(got), m.total_frames)
    want[:k] = m.render(0, k)
    np.testing.assert_array_equal(got, want)
    assert t.finished == (len(got) >= m.total_frames)


def test_a_mode_is_its_name_as_text():
    # the display's labels and a Status built from text ("paused") rely on this
    assert Mode("paused") is Mode.PAUSED and Mode.PAUSED == "paused"
    assert f"{Mode.ENDED}" == str(Mode.ENDED) == "ended"


def test_the_end_is_silence_and_marks_the_device_frame(mixer):
    t = Transport(mixer)
    out = pull_all(t, mixer.total_frames + ms(500))
    assert t.end_frame == mixer.total_frames
    assert not np.any(out[mixer.total_frames :])
    assert t.at(t.frame).mode is Mode.ENDED


def test_pause_holds_the_place_and_resume_shifts_later_sound_by_the_pause(mixer):
    f = Fades()
    t = Transport(mixer, fades=f)
    a = pull_all(t, ms(1500))
    pos_at_pause = t.at(t.frame).session_frame
    t.post(Pause())
    hold = pull_all(t, ms(2000))
    assert t.at(t.frame).mode is Mode.PAUSED
    # the pause fades out, then it is silent
    assert not np.any(hold[ms(f.pause_ms) :])
    assert np.abs(hold[: ms(50)]).max() > 0
    t.post(Pause())
    b = pull_all(t, ms(4000))
    # from the end of the resume fade on, the session goes on from where it stopped, exactly
    fin = ms(f.resume_ms)
    np.testing.assert_array_equal(b[fin:], mixer.render(pos_at_pause + fin, len(b) - fin))
    assert [e.action for e in t.events] == ["pause", "resume"]
    pause, resume = t.events
    assert pause.before == pause.after == pos_at_pause
    assert resume.after == pos_at_pause
    # every onset after the pause came exactly the pause's length later than scheduled
    played = np.concatenate([a, hold, b])
    shift = resume.device_frame - pause.device_frame
    scheduled = [o for o in onsets(mixer.render(0, mixer.total_frames)) if o >= pos_at_pause]
    heard = [o for o in onsets(played) if o >= len(a)]
    assert len(heard) == 4
    assert heard == [o + shift for o in scheduled[: len(heard)]]


def test_seek_lands_the_targets_first_sound_at_full_level_after_the_fade(mixer):
    f = Fades()
    t = Transport(mixer, fades=f)
    pull_all(t, ms(700))
    step2 = mixer.frame_of_ms(mixer.timeline.steps[1].start_ms)
    t.post(Seek(step2, "next"))
    d = t.frame
    out = pull_all(t, ms(1000))
    j = ms(f.jump_ms)
    np.testing.assert_array_equal(out[j:], mixer.render(step2, len(out) - j))
    # the chime at the step's start comes right after the short fade, as loud as scheduled
    assert onsets(out)[0] == j + onsets(mixer.render(step2, ms(100)))[0]
    assert t.events[-1].action == "next" and t.events[-1].device_frame == d
    assert t.at(d + j).session_frame == step2


def test_a_crossfade_between_identical_sound_leaves_it_untouched(mixer):
    t = Transport(mixer)
    first = pull_all(t, ms(900))
    j = ms(Fades().jump_ms)
    # seeking to where the sound already is: the fade mixes two copies of the same samples
    t.post(Seek(t.frame + j))
    rest = pull_all(t, ms(900))
    np.testing.assert_allclose(np.concatenate([first, rest]), mixer.render(0, len(first) + len(rest)), atol=2e-6)


def test_seek_while_paused_stays_paused_at_the_target(mixer):
    t = Transport(mixer)
    pull_all(t, ms(500))
    t.post(Pause())
    pull_all(t, ms(400))
    t.post(Seek(ms(5000)))
    out = pull_all(t, ms(300))
    assert not np.any(out)
    assert t.at(t.frame).mode is Mode.PAUSED and t.at(t.frame).session_frame == ms(5000)


def test_a_said_line_plays_over_the_ducked_bed_then_the_session_goes_on(mixer):
    f = Fades()
    t = Transport(mixer, fades=f)
    pull_all(t, ms(1500))
    pos = t.at(t.frame).session_frame
    clip = mixer.speech("Again.")
    t.post(Say(clip, "repeat"))
    d = ms(f.duck_ms)
    out = pull_all(t, len(clip) + ms(2000))
    assert t.at(t.frame - 1).mode is Mode.PLAYING
    mid = slice(d, len(clip))
    np.testing.assert_allclose(out[mid], mixer.music(pos + d, len(clip) - d, ducked=True) + clip[d:], atol=1e-6)
    # after the line (and its fade back), the session resumes at the held position
    back = len(clip) + d
    np.testing.assert_array_equal(out[back:], mixer.render(pos, len(out) - back))
    assert t.at(len(clip) // 2 + t.events[-1].device_frame).mode is Mode.REPEATING


def test_a_line_said_while_paused_returns_to_the_pause(mixer):
    t = Transport(mixer)
    pull_all(t, ms(500))
    t.post(Pause())
    pull_all(t, ms(500))
    clip = mixer.speech("Safety first.")
    t.post(Say(clip, "safety"))
    out = pull_all(t, len(clip) + ms(1000))
    assert np.abs(out[: len(clip)]).max() > 0.3
    assert not np.any(out[len(clip) + ms(Fades().duck_ms) :])
    assert t.at(t.frame).mode is Mode.PAUSED


def test_stop_fades_out_marks_the_end_and_ignores_later_commands(mixer):
    t = Transport(mixer)
    pull_all(t, ms(1000))
    t.post(Stop(200))
    out = pull_all(t, ms(600))
    assert t.end_frame == ms(1000) + ms(200)
    assert not np.any(out[ms(200) :])
    gain = np.abs(out[: ms(200)]).max(axis=1)
    assert gain[: ms(20)].max() > gain[ms(180) :].max()
    t.post(Pause())
    t.post(Seek(0))
    assert not np.any(pull_all(t, ms(300)))
    assert t.at(t.frame).mode is Mode.STOPPED
    assert [e.action for e in t.events] == ["stop"]


def test_swap_keeps_the_offset_in_the_current_step(mixer):
    t = Transport(mixer)
    tl = mixer.timeline
    pull_all(t, mixer.frame_of_ms(tl.steps[1].start_ms + 1500))
    longer = stretched(tl, 2, 30_000)
    new = mixer.with_timeline(longer)
    t.post(Swap(new))
    out = pull_all(t, ms(3000))
    pos = t.at(t.frame).session_frame
    assert t.mixer is new
    assert pos - new.frame_of_ms(longer.steps[1].start_ms) == mixer.frame_of_ms(1500) + ms(3000)
    j = ms(Fades().jump_ms)
    start = new.frame_of_ms(longer.steps[1].start_ms + 1500)
    np.testing.assert_array_equal(out[j:], new.render(start + j, len(out) - j))


def test_remap_moves_positions_between_timelines():
    tl = tone_timeline(steps=3, step_ms=4000, intro_ms=1000)
    longer = stretched(tl, 2, 30_000)
    shorter = stretched(tl, 2, -3000)
    assert remap(tl, longer, 500) == 500  # intro unchanged
    assert remap(tl, longer, 5000 + 1200) == 5000 + 1200  # same offset in step 2
    assert remap(tl, longer, 9000 + 100) == 39000 + 100  # later steps move
    assert remap(tl, shorter, 5000 + 3500) == 5000 + 1000  # clamped to the shortened step's end
    assert remap(tl, longer, tl.total_ms - 10) == longer.total_ms - 10  # outro keeps its offset


def test_rewind_replays_exactly_and_applies_a_command_at_the_rewound_frame(mixer):
    t = Transport(mixer)
    first = pull_all(t, ms(3000))
    t.rewind(ms(1200))
    assert t.frame == ms(1200)
    again = pull_all(t, ms(1800))
    np.testing.assert_array_equal(again, first[ms(1200) :])
    # a pause and a say in the history are rebuilt exactly too
    t.post(Pause())
    pull_all(t, ms(400))
    t.post(Pause())
    pull_all(t, ms(400))
    t.post(Say(mixer.speech("abc"), "repeat"))
    out = pull_all(t, ms(2000))
    t.rewind(ms(3000) + ms(900))
    np.testing.assert_array_equal(pull_all(t, ms(1500)), out[ms(100) : ms(1600)])
    t.rewind(ms(3100))
    assert [e.action for e in t.events] == ["pause"]
    t.post(Seek(0, "back"))
    assert t.pull(10).shape == (10, 2)
    assert t.events[-1].device_frame == ms(3100)


def test_peek_does_not_move_on(mixer):
    t = Transport(mixer)
    pull_all(t, ms(100))
    p = t.peek(ms(50))
    np.testing.assert_array_equal(t.pull(ms(50)), p)


def test_position_is_readable_while_another_thread_pulls(mixer):
    t = Transport(mixer)
    stop = threading.Event()
    seen = []

    def reader():
        while not stop.is_set():
            p = t.at(t.frame)
            seen.append(p.session_frame)

    r = threading.Thread(target=reader)
    r.start()
    try:
        pull_all(t, ms(3000), block=441)
    finally:
        stop.set()
        r.join()
    assert seen == sorted(seen) and seen[-1] <= ms(3000)


def test_a_swap_while_a_line_plays_keeps_the_line_and_moves_the_place_to_return_to(mixer):
    t = Transport(mixer)
    tl = mixer.timeline
    pull_all(t, mixer.frame_of_ms(tl.steps[1].start_ms + 1500))
    clip = mixer.speech("A line long enough to swap under.")
    t.post(Say(clip, "repeat"))
    pull_all(t, ms(500))
    new = mixer.with_timeline(stretched(tl, 1, 2000))  # an earlier step grows: step 2 moves 2 s on
    t.post(Swap(new))
    pull_all(t, ms(100))
    p = t.at(t.frame)
    assert p.mode is Mode.REPEATING and p.mixer is new
    assert p.session_frame == new.frame_of_ms(tl.steps[1].start_ms + 2000 + 1500)
    pull_all(t, len(clip))
    assert t.at(t.frame).mode is Mode.PLAYING


def test_a_swap_while_paused_stays_paused(mixer):
    t = Transport(mixer)
    pull_all(t, ms(1500))
    t.post(Pause())
    pull_all(t, ms(500))
    new = mixer.with_timeline(stretched(mixer.timeline, 1, 5000))
    t.post(Swap(new))
    assert not np.any(pull_all(t, ms(300)))
    assert t.at(t.frame).mode is Mode.PAUSED and t.at(t.frame).mixer is new
