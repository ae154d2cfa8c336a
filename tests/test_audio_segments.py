"""The plan of a split MP3 export: what each encoder is fed, where loop frames may be copied."""

import pytest

from voiceguide.audio.encode import segments as sg

DELAY = 1105
RATE = 44100


def check_feeds(plan):
    """Every fresh piece is fed on the frame grid, primed before its first frame and run past the
    window after its last (or from the session's start, to its end)."""
    spf = plan.spf
    fresh = [p for p in plan.pieces if not p.loop]
    assert fresh[0].feed_start == 0 and fresh[-1].feed_end == plan.total
    assert plan.pieces[0].first == 0 and not plan.pieces[0].loop and not plan.pieces[-1].loop
    for p in fresh:
        assert p.feed_start % spf == 0
        assert p.feed_end % spf == 0 or p.feed_end == plan.total
        assert p.feed_start == 0 or p.feed_start <= (p.first - sg.PRIME) * spf
        assert p.feed_end == plan.total or p.feed_end >= (p.end + sg.WINDOW + sg.TAIL) * spf
    for a, b in zip(plan.pieces, plan.pieces[1:]):
        assert a.end == b.first  # the pieces tile the session
    for p in plan.pieces[:-1]:
        assert p.end - p.first >= sg.WINDOW  # so the joins either side cannot cross


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_without_a_loop_the_session_is_cut_evenly(workers):
    total = 20 * 60 * RATE
    plan = sg.plan_session(total, RATE, workers)
    assert len(plan.pieces) == workers and plan.loop is None
    check_feeds(plan)
    lengths = [p.end - p.first for p in plan.pieces]
    assert max(lengths) - min(lengths) <= 1
    # the whole cost of splitting: PRIME + WINDOW + TAIL frames per join
    frames = -(-(total + DELAY) // 1152)
    assert plan.encoded_frames <= frames + (workers - 1) * (sg.PRIME + sg.WINDOW + sg.TAIL)


def test_half_size_frames_below_32_khz():
    assert sg.frame_samples(22050) == 576 and sg.frame_samples(32000) == 1152
    plan = sg.plan_session(60 * 22050, 22050, 2)
    assert plan.spf == 576
    check_feeds(plan)


def steady_session(loop_s=96, rate=RATE):
    """Ten minutes: a cue of 5 s every 30 s, the bed alone in between."""
    total = 600 * rate
    cues = [(t * rate, (t + 5) * rate) for t in range(10, 590, 30)]
    steady = [(a, b) for (_, a), (b, _) in zip(cues, cues[1:])]
    return total, steady, loop_s * rate


def test_steady_stretches_are_copied_from_the_loop():
    total, steady, loop = steady_session()
    plan = sg.plan_session(total, RATE, 2, steady=steady, loop_samples=loop)
    assert plan.loop is not None
    check_feeds(plan)
    spf = plan.spf
    copied = sum(p.end - p.first for p in plan.pieces if p.loop)
    assert copied > 0.6 * total / spf  # 25 s of every 30
    assert plan.encoded_frames < 0.45 * total / spf
    for p in (p for p in plan.pieces if p.loop):
        # every frame it may give (from its first to the end of the window after it) is the bed
        # alone, MARGIN frames either side included (the frame before is only looked at)
        lo = (p.first - sg.MARGIN) * spf - DELAY
        hi = (p.end + sg.WINDOW + sg.MARGIN) * spf - DELAY
        assert any(a <= lo and hi <= b for a, b in steady), p
        # and is the loop encoding's frame at the same place in the loop: that frame starts at
        # loop position loop.start + j * spf, the session's frame g at g * spf
        for g in (p.first - 1, p.first, p.end + sg.WINDOW - 1):
            j = g - p.loop_offset
            assert j >= 0 and (j + sg.TAIL) * spf < plan.loop.frames
            assert (plan.loop.start + j * spf) % loop == (g * spf) % loop


def test_a_long_steady_stretch_wraps_round_the_loop():
    total = 600 * RATE
    steady = [(20 * RATE, 500 * RATE)]  # 8 minutes of bed: five times round a 96 s loop
    plan = sg.plan_session(total, RATE, 2, steady=steady, loop_samples=96 * RATE)
    loops = [p for p in plan.pieces if p.loop]
    assert len(loops) >= 5
    lf = 96 * RATE // 1152
    for p in loops[1:]:
        assert p.first % lf == 0  # joined where the loop starts again


@pytest.mark.parametrize("off", [-20, -15, -5, -1, 0, 1, 5, 15, 16, 17, 20, 31, 33])
def test_steady_runs_starting_or_ending_near_a_wrap_leave_no_stub(off):
    """Runs that start, or whose last loop piece would start, ``off`` frames from where the loop
    wraps: no piece may come out shorter than a window, or run past what the loop encoding holds."""
    lf = 96 * RATE // 1152
    total = 500 * RATE

    def span(u, v):  # the steady samples that make run [u, v)
        return (u * 1152 - DELAY - sg.MARGIN * 1152, v * 1152 - DELAY + sg.MARGIN * 1152)

    for u, v in [(lf + off, lf + off + 8000), (lf - 800, 3 * lf + off + sg.WINDOW)]:  # long enough to pay
        plan = sg.plan_session(total, RATE, 2, steady=[span(u, v)], loop_samples=96 * RATE)
        assert plan.loop is not None
        check_feeds(plan)
        loops = [p for p in plan.pieces if p.loop]
        assert loops[0].first == u and loops[-1].end == v - sg.WINDOW
        for p in loops:
            for g in (p.first - 1, p.end + sg.WINDOW - 1):
                j = g - p.loop_offset
                assert j >= 0 and (j + sg.TAIL) * 1152 < plan.loop.frames, (u, v, p)


def test_a_loop_off_the_frame_grid_or_too_long_is_not_reused():
    total, steady, _ = steady_session()
    assert sg.plan_session(total, RATE, 2, steady=steady, loop_samples=36 * RATE + 144).loop is None
    # a playlist as long as the session: encoding it once costs more than it saves
    assert sg.plan_session(total, RATE, 2, steady=steady, loop_samples=600 * RATE).loop is None
    assert sg.plan_session(total, RATE, 2, steady=[], loop_samples=96 * RATE).loop is None


def test_short_steady_gaps_are_encoded_fresh():
    total = 300 * RATE
    steady = [(t * RATE, (t + 1) * RATE) for t in range(10, 290, 3)]  # 1 s gaps: joins would cost more
    plan = sg.plan_session(total, RATE, 2, steady=steady, loop_samples=96 * RATE)
    assert plan.loop is None and len(plan.pieces) == 2
