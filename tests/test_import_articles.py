"""Whole articles of different shapes -> drafts: steps in order, times, safety, tips, and nothing invented.

Each article in tests/articles/ has an EXPECTED.json in the acceptance check's format (steps,
durations_s, safety, checkins_or_tips, setup, never_spoken) plus stricter keys these tests read:
exact titles, which steps have sides, step tips, the closing, sentences that must not be spoken.
"""

import json
import re
from pathlib import Path

import pytest

from voiceguide.compiler import Pacing, compile_timeline
from voiceguide.errors import ArticleError, PacingError
from voiceguide.importer import draft_text, import_article
from voiceguide.importer.fitting import DEFAULT_RANGE_MS
from voiceguide.routine import parse_routine

ARTICLES = Path(__file__).resolve().parent / "articles"
SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "back-massage-techniques.txt"
FIXTURES = sorted(
    p
    for p in ARTICLES.iterdir()
    if p.suffix in (".txt", ".md", ".html") and (ARTICLES / f"{p.stem}.EXPECTED.json").exists()
)


def expected(path: Path) -> dict:
    return json.loads((ARTICLES / f"{path.stem}.EXPECTED.json").read_text(encoding="utf-8"))


def normalised(text: str) -> str:
    """Lower case, straight apostrophes, words separated by single spaces."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    return " ".join(re.findall(r"[a-z0-9']+", text))


def article_words(path: Path) -> str:
    """The article as a reader sees it (for HTML, the page's text, its JSON-LD included)."""
    raw = path.read_text(encoding="utf-8")
    if path.suffix == ".html":
        import lxml.html

        raw = " ".join(lxml.html.fromstring(raw).itertext())  # "<li>a</li><li>b</li>": two words, not one
    return normalised(raw)


def spoken_lines(draft):
    """(where, line) for every line the session will speak, titles included."""
    out = [(part, line) for part in ("setup", "safety", "checkins", "closing") for line in getattr(draft, part)]
    for k, step in enumerate(draft.steps):
        out.append((f"step {k + 1} title", type("L", (), {"text": step.title, "origin": step.origin})()))
        out += [(f"step {k + 1}", line) for line in step.instruction + step.tips]
    return out


def assert_traceable(draft, path: Path) -> None:
    """Every clause of every spoken line stands in the article word for word.

    A clause is what lies between commas and stops; only an opening "and" or "or" may be the
    importer's (joining a list). A line drawn from a list ("Avoid these areas:" and its items)
    is checked word by word instead, since it is a sentence made of the list's entries.
    """
    text = article_words(path)
    vocabulary = set(text.split())
    for where, line in spoken_lines(draft):
        joined = re.search(r"\b(lines \d+-\d+|items \d+-\d+|paragraphs \d+-\d+)", line.origin)
        for clause in re.split(r"[,.;:!?]", line.text):
            words = normalised(clause)
            words = re.sub(r"^(and|or) ", "", words)
            if not words:
                continue
            if joined:
                missing = set(words.split()) - vocabulary
                assert not missing, f"{where}: {missing} not in the article ({line.text!r})"
            else:
                assert words in text, f"{where}: {clause.strip()!r} is not in the article ({line.origin})"


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_article_drafts_as_expected(path):
    want = expected(path)
    draft = import_article(path)
    titles = [s.title for s in draft.steps]
    assert titles == want["titles"]
    for i, (lo_s, hi_s) in want["durations_s"].items():
        step = draft.steps[int(i)]
        assert (step.min_ms, step.max_ms) == (lo_s * 1000, hi_s * 1000), (step.title, step.timing)
        assert not step.defaulted
    for i in want.get("defaulted", []):
        assert draft.steps[i].defaulted and draft.steps[i].timing.startswith("default:")
    assert [k for k, s in enumerate(draft.steps) if s.sides] == want["sides"]
    for k in want["sides"]:
        assert draft.steps[k].sides == ("left", "right")

    safety = " ".join(line.text.lower() for line in draft.safety)
    assert all(w in safety for w in want["safety"]), (want["safety"], safety)
    setup = " ".join(line.text.lower() for line in draft.setup)
    assert all(w in setup for w in want["setup"]), setup
    helpful = (
        " ".join(line.text.lower() for line in draft.checkins)
        + " "
        + " ".join(line.text.lower() for s in draft.steps for line in s.tips + s.instruction)
    )
    assert all(w in helpful for w in want["checkins_or_tips"])
    for i, tips in want.get("step_tips", {}).items():
        said = " ".join(line.text for line in draft.steps[int(i)].tips)
        assert all(t in said for t in tips), (i, said)
    closing = " ".join(line.text for line in draft.closing)
    assert all(c in closing for c in want.get("closing", [])), closing
    everything = " ".join(line.text.lower() for _, line in spoken_lines(draft))
    assert not [w for w in want["never_spoken"] if w in everything]
    for sentence in want.get("not_said", []):
        assert sentence not in " ".join(line.text for _, line in spoken_lines(draft))
    if "how" in want:
        assert want["how"] in draft.how


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_every_spoken_line_is_in_the_article(path):
    assert_traceable(import_article(path), path)


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_draft_validates_and_says_where_each_line_came_from(path):
    draft = import_article(path)
    text = draft_text(draft)
    routine = parse_routine(text, source="draft.yaml")
    compile_timeline(routine)
    assert [s.title for s in routine.steps] == [s.title for s in draft.steps]
    # every spoken item of the YAML carries a comment beside it
    spoken = [line for line in text.splitlines() if line.lstrip().startswith("- ") and "title:" not in line]
    assert spoken and all("    # " in line for line in spoken)
    for step_line in (line for line in text.splitlines() if line.strip().startswith("duration:")):
        assert "    # " in step_line
    assert text == draft_text(import_article(path)), "the same article must give the same draft"


def test_steps_found_in_each_shape():
    hows = {p.name: import_article(p).how for p in FIXTURES}
    assert hows["foot-massage.txt"] == "numbered headings"  # Step 1 - ...
    assert hows["hand-massage.html"] == "numbered headings"  # <h3>Step 1: ...</h3>
    assert hows["lower-back-stretches.html"] == "the headings under a steps heading"
    assert hows["neck-stretches.md"] == "a numbered list"
    assert hows["morning-stretch.txt"] == "a numbered list"
    assert "HowTo" in hows["shoulder-howto.html"]
    assert hows["self-foot-massage.md"] == "numbered headings"  # ## Step 1: ...
    assert hows["scalp-massage.html"] == "numbered headings"  # <h2>1. ...</h2>
    assert hows["hand-stretch-break.txt"] == "a numbered list"  # 1) ... wrapped over two lines
    assert hows["calf-massage.html"] == "a numbered list"  # <li><p><strong>Lead.</strong> ...


def test_the_traceability_check_catches_an_invented_sentence():
    from dataclasses import replace

    from voiceguide.importer.draft import Line

    path = ARTICLES / "foot-massage.txt"
    draft = import_article(path)
    invented = replace(draft, closing=(Line("Wiggle your toes and smile.", 'line 74 ("Finishing up")'),))
    with pytest.raises(AssertionError, match="not in the article"):
        assert_traceable(invented, path)
    reworded = replace(draft, closing=(Line("Wrap both feet in a warm towel.", "line 74"),))  # "the" -> "a"
    with pytest.raises(AssertionError, match="not in the article"):
        assert_traceable(reworded, path)


def test_howto_json_ld_comes_first_and_its_tips_are_step_tips():
    draft = import_article(ARTICLES / "shoulder-howto.html")
    assert draft.title == "Shoulder release in four moves"
    assert all(s.origin.startswith("the page's HowTo data") for s in draft.steps)
    assert draft.steps[2].timing.endswith("timeRequired")  # "PT1M30S"
    # the page shows the same steps in its body: they are not read again as set-up or closing
    assert not any("Lift both shoulders" in line.text for line in draft.setup + draft.closing)


def test_no_times_in_the_article_gives_marked_defaults_and_length_fits_them():
    path = ARTICLES / "morning-stretch.txt"
    draft = import_article(path)
    assert all((s.min_ms, s.max_ms) == DEFAULT_RANGE_MS for s in draft.steps)
    assert "5 of 5 steps have no time in the article" in draft_text(draft)
    assert all(
        "default: the article gives no time here" in line
        for line in draft_text(draft).splitlines()
        if "duration:" in line
    )
    fitted = import_article(path, length_ms=12 * 60_000)
    routine = parse_routine(draft_text(fitted), source="fitted.yaml")
    tl = compile_timeline(routine, Pacing(length_ms=12 * 60_000))
    assert tl.total_ms == 12 * 60_000
    assert all(s.max_ms > DEFAULT_RANGE_MS[1] for s in fitted.steps)  # a share of 12 minutes, not 1-2m
    with pytest.raises(PacingError, match="does not fit"):
        compile_timeline(routine, Pacing(length_ms=60_000))  # the plain compiler says it cannot
    with pytest.raises(PacingError, match="too short for 5 steps"):
        import_article(path, length_ms=60_000)


@pytest.mark.parametrize("minutes", [5, 20, 45])
def test_length_widens_the_article_times_when_they_cannot_fit(minutes):
    path = ARTICLES / "neck-stretches.md"  # every step timed: 4-5 minutes in all
    draft = import_article(path, length_ms=minutes * 60_000)
    routine = parse_routine(draft_text(draft), source="fitted.yaml")
    assert compile_timeline(routine, Pacing(length_ms=minutes * 60_000)).total_ms == minutes * 60_000
    if minutes >= 20:
        assert all("widened to fit --length" in s.timing for s in draft.steps)


def test_not_a_how_to_is_refused():
    with pytest.raises(ArticleError, match="no steps found") as e:
        import_article(ARTICLES / "not-a-howto.txt")
    assert str(e.value).startswith(str(ARTICLES / "not-a-howto.txt"))


# --- the seed article ---------------------------------------------------------------------------------

needs_seed = pytest.mark.skipif(not SEED.exists(), reason="the seed guide is not beside the checkout")


@needs_seed
def test_seed_seven_techniques_in_order_with_the_warm_up_at_2_to_3_minutes():
    draft = import_article(SEED)
    assert draft.title == "Back Massage Techniques: A Simple Guide"
    assert [s.title for s in draft.steps] == [
        "Warm-up strokes",
        "Effleurage",
        "Petrissage",
        "Circular motions",
        "Tapotement",
        "Friction",
        "Lower back massage",
    ]
    warm_up = draft.steps[0]
    assert (warm_up.min_ms, warm_up.max_ms) == (120_000, 180_000) and "about 2 to 3 minutes" in warm_up.timing
    assert not any("2 to 3 minutes" in line.text for line in warm_up.instruction + warm_up.tips)
    assert all(s.defaulted for s in draft.steps[1:])  # the guide times only the warm-up
    assert draft.steps[3].sides == ("left", "right")  # "Use both hands and alternate sides."


@needs_seed
def test_seed_safety_rules_and_tips_as_check_ins():
    draft = import_article(SEED)
    safety = [line.text for line in draft.safety]
    assert safety[0] == "Always stop if the person feels pain. A good massage should never hurt."
    assert (
        "Avoid open wounds, rashes or skin infections, areas with swelling or bruising, and recent injuries." in safety
    )
    assert any("spine" in s for s in safety) and any("bones" in s for s in safety)
    assert not any("safe for most people" in s for s in safety)  # a reassurance, not a rule
    checkins = [line.text for line in draft.checkins]
    assert checkins[0] == "Use both hands. Keep pressure even."
    assert "Check in often. Ask how the pressure feels." in checkins
    assert len(checkins) == 6 and all(line.origin.startswith("line ") for line in draft.checkins)
    assert [line.text for line in draft.setup][2].startswith("Use massage oil or lotion.")
    assert draft.closing[0].text.startswith("A little massage can go a long way. Take your time.")


@needs_seed
def test_seed_leaves_out_the_page_furniture_and_invents_nothing():
    draft = import_article(SEED)
    everything = " ".join(line.text.lower() for _, line in spoken_lines(draft))
    for junk in (
        "top of page",
        "writer",
        "monica",
        "min read",
        "updated",
        "table of contents",
        "recent posts",
        "leave a comment",
        "your email",
        "here's a step-by-step",
        "tools can help",
        "a man performing",
    ):
        assert junk not in everything, junk
    assert_traceable(draft, SEED)


def test_a_long_sidebar_does_not_win_over_the_article(tmp_path):
    """trafilatura alone returned the sidebar of this page (300 teaser lines beside a short how-to)."""
    html = (ARTICLES / "hand-massage.html").read_text(encoding="utf-8")
    teasers = "".join(f"<p>Sidebar teaser number {i} about some other post.</p>" for i in range(300))
    page = tmp_path / "busy.html"
    page.write_text(html.replace("</main>", f"</main><aside>{teasers}</aside>"), encoding="utf-8")
    draft = import_article(page)
    assert [s.title for s in draft.steps] == expected(ARTICLES / "hand-massage.html")["titles"]
    assert not any("teaser" in line.text for _, line in spoken_lines(draft))
