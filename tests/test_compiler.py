"""The compiler: golden timelines pin its output; properties hold for any routine and pacing."""

import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voiceguide.compiler import CLEAR_MS, Pacing, compile_timeline, estimate_speech_ms, select_steps
from voiceguide.durations import parse_duration
from voiceguide.errors import PacingError
from voiceguide.routine import Routine, RoutineStep, StepCue, load_routine, parse_routine
from voiceguide.timeline import CueKind

GOLDEN = Path(__file__).parent / "golden"
ROUTINES = Path(__file__).parent / "routines"

CASES = {
    "back-massage-default": ("back-massage", Pacing()),
    "back-massage-15m-steps": ("back-massage", Pacing(length_ms=15 * 60_000, steps="1-3,lower back")),
    "back-massage-slow": (
        "back-massage",
        Pacing(pace=1.5, rate_wpm=130, countdowns_ms=(60_000, 30_000, 10_000), checkin_every_ms=120_000),
    ),
    "back-massage-quiet": ("back-massage", Pacing(countdowns_ms=(), checkins=False, lead_in_ms=0)),
    "stretch-default": (ROUTINES / "stretch.yaml", Pacing()),
    "stretch-fit": (ROUTINES / "stretch.yaml", Pacing(length_ms=4 * 60_000, pace=0.8)),
}


def _render(tl) -> str:
    return json.dumps(tl.to_json(), indent=1, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name):
    """Set VOICEGUIDE_UPDATE_GOLDEN=1 to rewrite the files after an intended change; review the diff."""
    ref, pacing = CASES[name]
    got = _render(compile_timeline(load_routine(ref), pacing))
    path = GOLDEN / f"{name}.json"
    if os.environ.get("VOICEGUIDE_UPDATE_GOLDEN"):
        path.write_text(got, encoding="utf-8")
        # comparing the file just written with itself would pass whatever changed
        pytest.fail(f"golden files rewritten, review the diff: git diff {path}")
    assert got == path.read_text(encoding="utf-8"), f"timeline changed; diff it against {path}"


def test_default_session_is_about_twenty_minutes_with_the_seven_techniques():
    tl = compile_timeline(load_routine())
    assert 18 * 60_000 <= tl.total_ms <= 22 * 60_000
    assert [s.title for s in tl.steps][0] == "Warm-up strokes" and len(tl.steps) == 7
    kinds = {c.kind for c in tl.cues}
    for k in (
        CueKind.SETUP,
        CueKind.SAFETY,
        CueKind.ANNOUNCE,
        CueKind.INSTRUCTION,
        CueKind.TIP,
        CueKind.CHECKIN,
        CueKind.HALFWAY,
        CueKind.COUNTDOWN,
        CueKind.PREVIEW,
        CueKind.TRANSITION,
        CueKind.CLOSING,
        CueKind.SWITCH,
        CueKind.CUE,
    ):
        assert k in kinds, k
    assert tl.cues[-1].kind is CueKind.TRANSITION  # the session ends on a chime
    announce = [c.text for c in tl.cues if c.kind is CueKind.ANNOUNCE]
    assert announce[2] == "Step 3 of 7: Petrissage."


@pytest.mark.parametrize("minutes", [14, 15, 17.5, 20, 25])
def test_length_fits_exactly(minutes):
    tl = compile_timeline(load_routine(), Pacing(length_ms=int(minutes * 60_000)))
    assert tl.total_ms == int(minutes * 60_000)


def test_impossible_length_names_the_feasible_range():
    with pytest.raises(PacingError) as e:
        compile_timeline(load_routine(), Pacing(length_ms=2 * 60_000))
    found = re.search(r"can last from (\S+) to (\S+) ", e.value.message)
    assert found, e.value.message
    shortest, longest = (parse_duration(t) for t in found.groups())
    assert 2 * 60_000 < shortest < longest < 3 * 3_600_000
    # the range named is the one the compiler keeps to: inside it fits, a minute outside it does not
    middle = (shortest + longest) // 2 // 1000 * 1000
    assert compile_timeline(load_routine(), Pacing(length_ms=middle)).total_ms == middle
    for outside in (shortest - 60_000, longest + 60_000):
        with pytest.raises(PacingError, match="can last from"):
            compile_timeline(load_routine(), Pacing(length_ms=outside))
    with pytest.raises(PacingError, match="can last from"):
        compile_timeline(load_routine(), Pacing(length_ms=3 * 3_600_000))


def test_step_selection():
    r = load_routine()
    assert select_steps(r, "1-3,7") == [0, 1, 2, 6]
    assert select_steps(r, "effleurage, friction") == [1, 5]
    assert select_steps(r, "lower") == [6]
    assert select_steps(r, "2,2,1") == [1, 0]
    for bad, needle in [
        ("0", "outside"),
        ("8", "outside"),
        ("3-1", "backwards"),
        ("massage", "matches no"),
        ("1,,2", "empty"),
        ("ion", "several"),
    ]:
        with pytest.raises(PacingError, match=needle):
            select_steps(r, bad)
    tl = compile_timeline(r, Pacing(steps="petrissage,7"))
    assert [s.title for s in tl.steps] == ["Petrissage", "Lower back"]
    assert [s.number for s in tl.steps] == [3, 7]
    assert "Step 2 of 2: Lower back." in tl.spoken_texts()


def test_countdowns_are_dropped_in_short_steps_not_crammed():
    r = parse_routine(
        "title: T\nsteps:\n  - title: Short\n    duration: 12s\n    instruction: Go.\n"
        "  - title: Long\n    duration: 3m\n    instruction: Go on.\n",
        source="t.yaml",
    )
    tl = compile_timeline(r)
    by_step = {i: [c.kind for c in tl.cues if c.step == i] for i in (1, 2)}
    assert CueKind.COUNTDOWN not in by_step[1]
    assert by_step[2].count(CueKind.COUNTDOWN) == 2


def test_real_clip_lengths_retime_the_session():
    r = load_routine()
    slow = compile_timeline(r, Pacing(), lambda text: (estimate_speech_ms(text, 160) * 2, False))
    fast = compile_timeline(r, Pacing())
    assert slow.steps[0].start_ms > fast.steps[0].start_ms  # longer set-up speech pushes step 1 later
    assert not slow.estimated and fast.estimated


def test_fixed_step_lengths_refit_the_rest_under_length():
    r = load_routine()
    base = compile_timeline(r, Pacing(length_ms=18 * 60_000))
    longer = base.steps[0].duration_ms + 30_000
    tl = compile_timeline(r, Pacing(length_ms=18 * 60_000), fixed_ms={1: longer})
    assert tl.steps[0].duration_ms == longer
    assert tl.total_ms == 18 * 60_000


def _check_invariants(tl, pacing):
    prev_end = 0
    for c in tl.cues:
        assert c.start_ms >= prev_end, f"overlap at {c}"
        assert c.end_ms > c.start_ms
        prev_end = c.end_ms
    assert prev_end <= tl.total_ms
    for s in tl.steps:
        inside = [c for c in tl.cues if c.step == s.index]
        assert inside, "every step has cues"
        assert all(s.start_ms <= c.start_ms and c.end_ms <= s.end_ms for c in inside)
    for a, b in zip(tl.steps, tl.steps[1:]):
        assert a.end_ms == b.start_ms
    for i, c in enumerate(tl.cues):
        if c.kind in (CueKind.TIP, CueKind.CHECKIN):
            for other in tl.cues[max(0, i - 1) : i] + tl.cues[i + 1 : i + 2]:
                gap = other.start_ms - c.end_ms if other.start_ms >= c.end_ms else c.start_ms - other.end_ms
                assert gap >= CLEAR_MS, f"{c.kind} too close to {other.kind}"
    if pacing.length_ms is not None:
        assert tl.total_ms == pacing.length_ms


_text = st.text(alphabet="abcdefghij klmnop.,", min_size=1, max_size=80).filter(lambda t: t.strip(" .,"))


@st.composite
def _routines(draw):
    steps = []
    for i in range(draw(st.integers(1, 6))):
        lo = draw(st.integers(5, 400)) * 1000
        hi = lo + draw(st.integers(0, 300)) * 1000
        cues = tuple(
            sorted(
                (StepCue(draw(st.integers(0, lo - 1)), draw(_text)) for _ in range(draw(st.integers(0, 2)))),
                key=lambda c: c.at_ms,
            )
        )
        sides = ("left", "right") if draw(st.booleans()) else ()
        steps.append(
            RoutineStep(f"Step {i}", draw(_text), lo, hi, tuple(draw(st.lists(_text, max_size=3))), cues, sides)
        )
    return Routine(
        "gen",
        "gen.yaml",
        "Gen",
        "",
        tuple(draw(st.lists(_text, max_size=2))),
        tuple(draw(st.lists(_text, max_size=2))),
        tuple(draw(st.lists(_text, max_size=3))),
        draw(st.sampled_from([None, 20_000, 60_000])),
        tuple(draw(st.lists(_text, max_size=2))),
        tuple(steps),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    _routines(),
    st.floats(0.5, 3),
    st.integers(100, 250),
    st.sampled_from([(), (30_000, 10_000), (60_000,)]),
    st.one_of(st.none(), st.integers(1, 60).map(lambda m: m * 60_000)),
)
def test_property_no_overlaps_and_every_step_fits(routine, pace, rate, countdowns, length):
    pacing = Pacing(pace=pace, rate_wpm=rate, countdowns_ms=countdowns, length_ms=length)
    try:
        tl = compile_timeline(routine, pacing)
    except PacingError as e:
        assert length is not None and "can last from" in e.message
        return
    _check_invariants(tl, pacing)


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_cases_hold_the_invariants(name):
    ref, pacing = CASES[name]
    _check_invariants(compile_timeline(load_routine(ref), pacing), pacing)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"pace": 0}, "--pace"),
        ({"rate_wpm": 5}, "--rate"),
        ({"length_ms": -1}, "--length"),
        ({"countdowns_ms": (0,)}, "--countdown"),
        ({"checkin_every_ms": 1000}, "--checkin-every"),
    ],
)
def test_bad_pacing(kwargs, needle):
    with pytest.raises(PacingError, match=needle):
        Pacing(**kwargs)


# --- placement: the fast _Slot answers exactly what the plain scan over every interval answered ---------


class _NaiveSlot:
    """The placement search as it was first written (quadratic), kept as the reference.

    Cues last at least 1 ms (the compiler makes sure), so intervals never tie.
    """

    def __init__(self, start, end):
        self.start, self.end, self.busy = start, end, []

    def fits(self, t, dur, clear):
        if t < self.start or t + dur > self.end:
            return False
        return all(t + dur + clear <= a or t >= b + clear for a, b in self.busy)

    def take(self, t, dur):
        self.busy.append((t, t + dur))
        self.busy.sort()

    def first_fit(self, earliest, dur, clear, latest=None):
        candidates = [earliest] + [b + clear for _, b in self.busy if b + clear > earliest]
        for t in sorted(candidates):
            if latest is not None and t > latest:
                return None
            if self.fits(t, dur, clear):
                return t
        return None


_ops = st.lists(
    st.tuples(
        st.sampled_from(["fit", "fits"]),
        st.integers(-50, 1100),
        st.one_of(st.integers(1, 4), st.integers(1, 120)),
        st.sampled_from([0, 5, 40]),
        st.one_of(st.none(), st.integers(-50, 1200)),
    ),
    min_size=1,
    max_size=300,
)


@settings(max_examples=200, deadline=None)
@given(_ops)
def test_slot_search_matches_the_plain_scan(ops):
    from voiceguide.compiler import _Slot

    fast, naive = _Slot(0, 1000), _NaiveSlot(0, 1000)
    for op, t, dur, clear, latest in ops:
        if op == "fits":
            assert fast.fits(t, dur, clear) == naive.fits(t, dur, clear)
            continue
        got = fast.first_fit(t, dur, clear, latest)
        assert got == naive.first_fit(t, dur, clear, latest), (t, dur, clear, latest, naive.busy)
        if got is not None:
            fast.take(got, dur)
            naive.take(got, dur)
    assert fast.busy == naive.busy


def test_slot_refuses_an_overlapping_cue():
    from voiceguide.compiler import _Slot

    slot = _Slot(0, 1000)
    slot.take(100, 50)
    with pytest.raises(ValueError, match="overlaps"):
        slot.take(120, 10)


def test_slot_search_matches_the_plain_scan_with_thousands_of_cues():
    """Many blocks of the fast search, filled to the brim: same answers, in the same order."""
    import random

    from voiceguide.compiler import _Slot

    rng = random.Random(11)
    fast, naive = _Slot(0, 60_000), _NaiveSlot(0, 60_000)
    for _ in range(1200):
        t, dur, clear = rng.randrange(0, 60_000), rng.choice([1, 3, 10, 40]), rng.choice([0, 2, 9])
        latest = rng.choice([None, t + rng.randrange(0, 5000)])
        got = fast.first_fit(t, dur, clear, latest)
        assert got == naive.first_fit(t, dur, clear, latest)
        if got is not None:
            fast.take(got, dur)
            naive.take(got, dur)
    assert len(fast.busy) > 4 * 64 and fast.busy == naive.busy


# --- check-ins: a spacing or a range of spacings ----------------------------------------------------


def _checkin_gaps(tl):
    """(start_ms, gap from the previous check-in or the end of the intro) per check-in."""
    last, out = tl.intro_end_ms, []
    for c in tl.cues:
        if c.kind is CueKind.CHECKIN:
            out.append((c.start_ms, c.start_ms - last))
            last = c.start_ms
    return out


def _range_routine(every: str) -> Routine:
    return parse_routine(
        f"""\
title: Long hold
checkins:
  every: {every}
  lines: [Breathe slowly., Relax your shoulders., Keep the pressure even.]
steps:
  - title: Hold
    duration: 12m
    instruction: Hold the stretch.
""",
        source="long.yaml",
    )


def test_a_range_of_spacings_keeps_every_checkin_inside_it_where_the_step_has_room():
    routine = _range_routine("60-90s")
    assert (routine.checkin_every_ms, routine.checkin_every_most_ms) == (60_000, 90_000)
    tl = compile_timeline(routine)
    gaps = _checkin_gaps(tl)
    assert len(gaps) >= 8
    # nothing else in this step but the countdowns and the halfway cue: room everywhere
    assert all(60_000 <= g <= 90_000 for _, g in gaps), gaps
    assert tl.checkin_waits == ()


def test_checkins_that_waited_past_the_longest_spacing_are_listed_with_the_wait():
    for pacing in (
        Pacing(),
        Pacing(checkin_every_ms=60_000, checkin_every_most_ms=90_000),
        Pacing(checkin_every_ms=75_000),
    ):
        tl = compile_timeline(load_routine("back-massage"), pacing)
        most = pacing.checkin_every_most_ms or pacing.checkin_every_ms or 90_000
        late = {start: gap - most for start, gap in _checkin_gaps(tl) if gap - most >= 1000}
        assert {w.start_ms: w.waited_ms for w in tl.checkin_waits} == late
        assert late, "the bundled routine's countdowns and previews make some check-ins wait"
        assert tl.to_json()["checkin_waits"][0] == {"start_s": min(late) / 1000, "waited_s": late[min(late)] / 1000}


def test_a_range_waits_less_than_one_spacing_in_the_bundled_routine():
    # 75s was measured to give gaps of 75, 83, 100, 75 and 85 s; 60-90s keeps more of them in range
    routine = load_routine("back-massage")
    one = compile_timeline(routine, Pacing(checkin_every_ms=75_000))
    span = compile_timeline(routine, Pacing(checkin_every_ms=60_000, checkin_every_most_ms=90_000))
    inside = [g for _, g in _checkin_gaps(span) if 60_000 <= g <= 90_000]
    assert len(inside) / len(_checkin_gaps(span)) > 0.7
    assert sum(w.waited_ms for w in span.checkin_waits) < sum(w.waited_ms for w in one.checkin_waits)


def test_a_range_is_refused_backwards_and_out_of_range():
    with pytest.raises(PacingError, match="--checkin-every"):
        Pacing(checkin_every_ms=90_000, checkin_every_most_ms=60_000)
    with pytest.raises(PacingError, match="--checkin-every"):
        Pacing(checkin_every_ms=60_000, checkin_every_most_ms=10**9)
    with pytest.raises(Exception, match="shortest"):
        _range_routine("90-60s")


def test_no_tips_keeps_the_checkins():
    routine = load_routine("back-massage")
    tl = compile_timeline(routine, Pacing(tips=False))
    kinds = {c.kind for c in tl.cues}
    assert CueKind.TIP not in kinds and CueKind.CHECKIN in kinds
    assert CueKind.TIP in {c.kind for c in compile_timeline(routine).cues}
    assert tl.pacing["tips"] is False
