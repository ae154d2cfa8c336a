"""The loader: good routines parse, every bad one gets a RoutineError naming the file and line."""

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voiceguide.errors import RoutineError
from voiceguide.routine import bundled_routines, load_routine, parse_routine

SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "back-massage-techniques.txt"

GOOD = """\
title: Stretch
description: A short stretch.
setup: Stand up straight.
safety:
  - Stop if anything hurts.
checkins:
  every: 45s
  lines: [Breathe slowly.]
closing: Well done.
steps:
  - title: Neck
    duration: 1-2m
    instruction: Tilt your head to the left.
    tips: [Keep your shoulders down.]
    cues:
      - at: 30s
        say: Now the other way.
  - title: Arms
    duration: 90s
    instruction:
      - Raise your arms.
      - Reach for the ceiling.
    sides: [left, right]
"""


def test_parses_a_complete_routine():
    r = parse_routine(GOOD, source="stretch.yaml")
    assert r.title == "Stretch" and r.name == "stretch"
    assert r.setup == ("Stand up straight.",)
    assert r.checkins == ("Breathe slowly.",) and r.checkin_every_ms == 45_000
    assert [s.title for s in r.steps] == ["Neck", "Arms"]
    assert (r.steps[0].min_ms, r.steps[0].max_ms) == (60_000, 120_000)
    assert r.steps[0].cues[0].at_ms == 30_000 and r.steps[0].cues[0].text == "Now the other way."
    assert r.steps[1].instruction == "Raise your arms. Reach for the ceiling."
    assert r.steps[1].sides == ("left", "right")


def test_bundled_back_massage_has_the_seven_techniques_in_order():
    assert "back-massage" in bundled_routines()
    r = load_routine()
    titles = [s.title.lower() for s in r.steps]
    assert titles == [
        "warm-up strokes",
        "effleurage",
        "petrissage",
        "circular motions",
        "tapotement",
        "friction",
        "lower back",
    ]
    assert (r.steps[0].min_ms, r.steps[0].max_ms) == (120_000, 180_000)  # "about 2 to 3 minutes"


# The words a sentence may add to what one passage of the guide says: articles, conjunctions,
# prepositions, pronouns, and the halves of a contraction ("don't" is "don" and "t"). Nothing else.
CONNECTIVES = frozenset(
    "a an the and or but so then if as of on in into at to for with from by is are be "
    "this that it its you your they s t".split()
)


def _words(text):
    return re.findall(r"[a-z]+", text.lower().replace("’", "'"))


def _passages(text):
    """The guide cut at its headings (a short line without closing punctuation, not a bullet)."""
    passages, current = [], []
    for line in text.splitlines():
        s = line.strip()
        heading = bool(s) and not s.startswith("•") and s[-1] not in ".?!:," and len(s.split()) <= 8
        if heading and current:
            passages.append(set(current))
            current = []
        current += _words(s)
    passages.append(set(current))
    return [p for p in passages if p]


def _spoken_sentences(r):
    """Every sentence the routine file makes the voice say (the compiler's own words, "Step 2 of 7",
    "Halfway", are not in it; side names are labels and are left out)."""
    lines = [*r.setup, *r.safety, *r.checkins, *r.closing]
    for s in r.steps:
        lines += [s.instruction, *s.tips, *(c.text for c in s.cues)]
    return [sentence for line in lines for sentence in re.split(r"(?<=[.!?])\s+", line) if sentence]


def test_the_passage_check_finds_a_sentence_stitched_from_two_passages():
    passages = _passages("Petrissage\n\nDon't press on the spine.\n\nTapotement\n\nAvoid the bones.\n")
    assert len(passages) == 2
    content = set(_words("Don't press on the bones.")) - CONNECTIVES
    assert not any(content <= p for p in passages)  # each half is in a passage, the whole in none
    assert any(set(_words("Avoid the bones.")) - CONNECTIVES <= p for p in passages)


@pytest.mark.skipif(not SEED.exists(), reason="the seed guide is not beside the checkout")
def test_each_spoken_sentence_of_the_bundled_routine_comes_from_one_passage_of_the_guide():
    """Traceability: a sentence's content words all come from one passage of the guide, so each
    line says what the guide says there, not a mix of places or words of our own."""
    passages = _passages(SEED.read_text(encoding="utf-8"))
    assert len(passages) > 10  # the guide was cut into its sections, not read as one passage
    sentences = _spoken_sentences(load_routine())
    assert len(sentences) > 40
    untraced = {}
    for sentence in sentences:
        content = set(_words(sentence)) - CONNECTIVES
        missing = min((content - p for p in passages), key=len)
        if missing:
            untraced[sentence] = sorted(missing)
    assert not untraced, f"sentences no single passage of the guide supports (and the words missing): {untraced}"


BAD = [
    ("title: [oops\n", "malformed YAML", 1),
    ("title: X\nsteps:\n  - title: One\n    duration: [oops\n", "never closed", 4),
    ("", "empty", 1),
    ("- a\n- b\n", "mapping", 1),
    ("title: X\n", "no steps", 1),
    ("title: X\nsteps: []\n", "no steps", 2),
    ("title: X\nstep:\n  - title: A\n", "did you mean 'steps'", 2),
    ("steps:\n  - title: A\n    duration: 1m\n    instruction: Go.\n", "no title", 1),
    ("title: X\nsteps:\n  - duration: 1m\n    instruction: Go.\n", "no title", 3),
    ("title: X\nsteps:\n  - title: A\n    instruction: Go.\n", "no duration", 3),
    ("title: X\nsteps:\n  - title: A\n    duration: 1m\n", "no instruction", 3),
    ("title: X\nsteps:\n  - title: A\n    duration: 3-2m\n    instruction: Go.\n", "above the longest", 4),
    ("title: X\nsteps:\n  - title: A\n    duration: -2m\n    instruction: Go.\n", "negative", 4),
    ("title: X\nsteps:\n  - title: A\n    duration: 0s\n    instruction: Go.\n", "longer than zero", 4),
    ("title: X\nsteps:\n  - title: A\n    duration: 300m\n    instruction: Go.\n", "too long; at most 2h", 4),
    ("title: X\nsteps:\n  - title: A\n    duration: soon\n    instruction: Go.\n", "not a duration", 4),
    ("title: X\nsteps:\n  - title: A\n    duration: 1m\n    instruction: '  '\n", "empty", 5),
    ("title: X\nsteps:\n  - title: A\n    duration: 1m\n    instrucion: Go.\n", "did you mean 'instruction'", 5),
    ("title: X\nsteps:\n  - title: A\n    duration: 1m\n    instruction: Go.\n    sides: [left]\n", "two sides", 6),
    (
        "title: X\nsteps:\n  - title: A\n    duration: 1m\n    instruction: Go.\n    cues:\n      - at: 2m\n"
        "        say: Late.\n",
        "not inside the step",
        7,
    ),
    (
        "title: X\nsteps:\n  - title: A\n    duration: 1m\n    instruction: Go.\n    cues:\n      - at: 10s\n",
        "no 'say'",
        7,
    ),
    ("title: X\ntitle: Y\nsteps: []\n", "given twice", 2),
    ("title: X\nsteps:\n  - title: A\n    duration: 1m\n    instruction: Go.\n    tips: {a: 1}\n", "list of lines", 6),
    ("title: X\nsteps: nope\n", "must be a list", 2),
]


def test_checkins_with_every_and_lines_are_read():
    """The near neighbour of the bad check-in entries above, read as meant."""
    text = (
        "title: X\ncheckins:\n  every: 2s\n  lines: [Hi.]\n"
        "steps:\n  - title: A\n    duration: 1m\n    instruction: Go.\n"
    )
    r = parse_routine(text, source="r.yaml")
    assert (r.checkins, r.checkin_every_ms) == (("Hi.",), 2000)
    assert [(s.title, s.instruction, s.min_ms, s.line) for s in r.steps] == [("A", "Go.", 60_000, 6)]


@pytest.mark.parametrize("text, needle, line", BAD)
def test_bad_routines_name_file_and_line(text, needle, line):
    with pytest.raises(RoutineError) as e:
        parse_routine(text, source="r.yaml")
    assert needle in e.value.message
    assert e.value.path == "r.yaml"
    assert e.value.line == line
    assert str(e.value).startswith(f"r.yaml:{line}: ")


def test_files_that_are_not_routines(tmp_path):
    with pytest.raises(RoutineError, match="no such file"):
        load_routine(tmp_path / "missing.yaml")
    with pytest.raises(RoutineError, match="folder, not a routine file"):
        load_routine(tmp_path)
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("title: Caf\xe9\nsteps: []\n".encode("latin-1"))
    with pytest.raises(RoutineError, match="not UTF-8") as e:
        load_routine(latin1)
    assert e.value.line == 1
    with pytest.raises(RoutineError, match="did you mean 'back-massage'"):
        load_routine("back-massag")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_fuzz_any_text_gives_a_routine_or_a_routine_error(text):
    try:
        parse_routine(text, source="fuzz.yaml")
    except RoutineError as e:
        assert e.path == "fuzz.yaml"


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10_000),
    st.floats(allow_nan=False, width=16),
    st.text(max_size=12),
    st.sampled_from(["1m", "2-3m", "90s", "-1m", "3-2m", "1:30", "0s"]),
)
_keys = st.sampled_from(
    [
        "title",
        "description",
        "setup",
        "safety",
        "checkins",
        "closing",
        "steps",
        "every",
        "lines",
        "instruction",
        "duration",
        "tips",
        "cues",
        "sides",
        "at",
        "say",
        "x",
    ]
)
_trees = st.recursive(
    _scalars,
    lambda kids: st.one_of(st.lists(kids, max_size=4), st.dictionaries(_keys, kids, max_size=6)),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_trees)
def test_fuzz_structured_yaml_gives_a_routine_or_a_routine_error(tree):
    import yaml

    text = yaml.safe_dump(tree)
    try:
        parse_routine(text, source="fuzz.yaml")
    except RoutineError as e:
        assert e.path == "fuzz.yaml"


def test_a_name_finds_name_yaml_in_the_current_folder_and_wins_over_a_bundled_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "neck-and-shoulders.yaml").write_text(GOOD)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "arms.yml").write_text(GOOD.replace("title: Stretch", "title: Arms"))
    assert load_routine("neck-and-shoulders").title == "Stretch"  # NAME -> ./NAME.yaml
    assert load_routine("neck-and-shoulders.yaml").title == "Stretch"  # the path itself
    assert load_routine(tmp_path / "neck-and-shoulders").title == "Stretch"  # a path without its extension
    assert load_routine("sub/arms").title == "Arms"  # .yml too
    assert load_routine("back-massage").title == "Back massage"  # bundled, nothing here
    (tmp_path / "back-massage.yaml").write_text(GOOD)
    assert load_routine("back-massage").title == "Stretch"  # the file here wins
    assert load_routine().title == "Back massage"  # no name: the bundled default
    with pytest.raises(RoutineError, match="no bundled routine or file named 'neck'"):
        load_routine("neck")
    with pytest.raises(RoutineError, match="sub/legs: no such file"):
        load_routine("sub/legs")


def test_checkins_every_takes_a_range():
    r = parse_routine(GOOD.replace("every: 45s", "every: 60-90s"), source="r.yaml")
    assert (r.checkin_every_ms, r.checkin_every_most_ms) == (60_000, 90_000)
    one = parse_routine(GOOD, source="r.yaml")
    assert (one.checkin_every_ms, one.checkin_every_most_ms) == (45_000, None)
    with pytest.raises(RoutineError, match=r"r\.yaml:7: checkins every"):
        parse_routine(GOOD.replace("every: 45s", "every: 90-60s"), source="r.yaml")
