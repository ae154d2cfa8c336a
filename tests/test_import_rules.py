"""The importer's rules one at a time: times in prose, sentence kinds, titles, section kinds, furniture."""

import pytest

from voiceguide.importer import boilerplate, sentences, timing
from voiceguide.importer.fitting import nice
from voiceguide.importer.plaintext import parse_text
from voiceguide.importer.sections import kind_of
from voiceguide.importer.steps import FoundStep, _clean_titles, sentence_case, short_title
from voiceguide.importer.webpage import _iso_ms, parse_html
from voiceguide.importer.writer import duration_text

# --- times ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence, lo_s, hi_s",
    [
        ("Do this for about 2 to 3 minutes.", 120, 180),
        ("Continue for one minute.", 60, 60),
        ("Spend 30 seconds to a minute on the fingers.", 30, 60),
        ("Two minutes is enough.", 120, 120),
        ("Massage for 2-3 minutes.", 120, 180),
        ("about 2\u20133 min", 120, 180),
        ("Work here for a minute or two.", 60, 120),
        ("Hold for a minute and a half.", 90, 90),
        ("Take 1 1/2 minutes.", 90, 90),
        ("Stay for 1\u00bd minutes.", 90, 90),
        ("Keep going for half a minute.", 30, 30),
        ("Rest for forty-five seconds.", 45, 45),
        ("Hold for 90 seconds.", 90, 90),
        ("for one to two minutes", 60, 120),
        ("a couple of minutes", 120, 120),
        ("Hold for 1 minute to 90 seconds.", 60, 90),
        ("Knead for 5-10 mins.", 300, 600),
        ("Work on it for several minutes.", 180, 300),
    ],
)
def test_times_in_words_and_digits(sentence, lo_s, hi_s):
    spans = timing.find(sentence)
    assert len(spans) == 1
    assert (spans[0].lo_ms, spans[0].hi_ms) == (lo_s * 1000, hi_s * 1000)


@pytest.mark.parametrize(
    "sentence",
    [
        "Use a second towel.",  # an ordinal
        "Check in every two minutes.",  # a frequency
        "Take a few deep breaths.",  # no unit of time
        "Repeat three times.",
    ],
)
def test_not_times(sentence):
    assert timing.find(sentence) == []


def test_time_words_keep_their_qualifier_and_side():
    (span,) = timing.find("Hold for about 30 seconds on each side.")
    assert span.words == "about 30 seconds" and span.per_side
    assert timing.find("Work here for a few minutes.")[0].vague


@pytest.mark.parametrize(
    "sentence, only",
    [
        ("Do this for about 2 to 3 minutes.", True),
        ("Two minutes is enough.", True),
        ("Continue for 45 seconds.", True),
        ("Massage for 2-3 minutes.", True),
        ("Hold for 30 seconds.", False),  # says what to do: hold
        ("Spend a minute on the fingers.", False),
        ("Tilt your head and stay for one minute.", False),
    ],
)
def test_a_sentence_that_says_only_the_time(sentence, only):
    assert timing.says_only_time(sentence, timing.find(sentence)[0]) is only


def test_iso_durations_from_json_ld():
    assert _iso_ms("PT1M30S") == 90_000 and _iso_ms("PT8M") == 480_000 and _iso_ms("P0DT0H2M") == 120_000
    assert _iso_ms("soon") is None and _iso_ms("PT") is None and _iso_ms(None) is None


def test_rounding_and_writing_ranges():
    assert nice(47_000) == 45_000 and nice(131_000) == 135_000 and nice(131_000, up=True) == 135_000
    assert nice(400_000) == 390_000 and nice(1_000) == 5_000
    assert duration_text(120_000, 180_000) == "2-3m"
    assert duration_text(90_000, 180_000) == "1m30s-3m"
    assert duration_text(60_000, 60_000) == "1m"
    assert duration_text(45_000, 75_000) == "45s-1m15s"


# --- sentences -----------------------------------------------------------------------------------------


def test_split_keeps_abbreviations_inside_their_sentence():
    assert sentences.split("Use oil, e.g. almond oil. Then start. Warm it first!") == [
        "Use oil, e.g. almond oil.",
        "Then start.",
        "Warm it first!",
    ]


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("But don't overdo it.", "Don't overdo it."),
        ("So take your time.", "Take your time."),
        ("Please make sure they are comfortable.", "Make sure they are comfortable."),
        ("Tip: ask how it feels.", "Ask how it feels."),
        ("Press the arch (see photo) firmly", "Press the arch firmly."),
        ("And enjoy the healing touch process.", "Enjoy the healing touch process."),
        ("---", None),
    ],
)
def test_cleaning_only_takes_words_away(raw, clean):
    assert sentences.clean(raw) == clean


@pytest.mark.parametrize(
    "sentence, kind",
    [
        ("Use your palms and fingers.", "instruction"),
        ("Slowly increase as the muscles relax.", "instruction"),
        ("Start light, go deeper slowly.", "instruction"),
        ("Keep the rhythm steady.", "instruction"),
        ("This warms the muscles.", "description"),
        ("Friction helps reach deeper layers.", "description"),
        ("It often holds the most tension.", "description"),
        ("Effleurage is a classic bodywork move.", "description"),
        ("The lower back area needs a lot of massage care.", "description"),
    ],
)
def test_instructions_and_descriptions(sentence, kind):
    assert (sentences.is_instruction(sentence) and not sentences.is_description(sentence)) == (kind == "instruction")


@pytest.mark.parametrize(
    "sentence, safety",
    [
        ("Don't press directly on the spine.", True),
        ("Avoid the bones or spine.", True),
        ("Always stop if the person feels pain.", True),
        ("Never bounce.", True),
        ("Stop at once if you feel numbness.", True),
        ("But don't overdo it.", False),  # advice about the step, not a safety rule
        ("Don't rush.", False),
    ],
)
def test_cautions_about_the_body_are_safety(sentence, safety):
    assert sentences.is_caution(sentence)
    assert sentences.is_safety_caution(sentence) is safety


def test_rules_keep_instructions_and_ifs_not_reassurances():
    assert sentences.is_rule("If someone has a health condition, ask a doctor first.")
    assert sentences.is_rule("A good massage should never hurt.")
    assert sentences.is_rule("Massage is not recommended in the first weeks of pregnancy.")
    assert not sentences.is_rule("Massage is safe for most people.")
    assert not sentences.is_rule("Massage is about connection.")


def test_lists_become_sentences():
    assert (
        sentences.join_list("Avoid these areas:", ["Open wounds", "Rashes", "Recent injuries"])
        == "Avoid open wounds, rashes, and recent injuries."
    )
    assert (
        sentences.join_list("Do not massage:", ["broken skin", "a swollen ankle"])
        == "Do not massage: broken skin and a swollen ankle."
    )
    assert sentences.join_list("What you need:", ["A towel", "TMJ cream"]) == "What you need: a towel and TMJ cream."


def test_promotion_and_talk_about_the_page_are_not_spoken():
    said = sentences.speakable("Press gently. Book a session today! This guide shows you how. Here's how. Relax.")
    assert said == ["Press gently.", "Relax."]


# --- titles --------------------------------------------------------------------------------------------


def _titles(*titles):
    steps = [FoundStep(t, None) for t in titles]
    _clean_titles(steps)
    return [s.title for s in steps]


def test_titles_lose_numbering_repeats_and_times():
    assert _titles(
        "Back Massage Technique: Warm-Up Strokes",
        "Back Massage Technique: Effleurage",
        "Back Massage Technique: Lower Back Massage",
    ) == ["Warm-up strokes", "Effleurage", "Lower back massage"]
    assert _titles(
        "Step 2 - Thumb walk the sole",
        "Step three: Circle the ankle (2 minutes)",
        "4) Stretch the toes \u2013 1 minute",
    ) == ["Thumb walk the sole", "Circle the ankle", "Stretch the toes"]
    # a prefix only one title has is part of that title
    assert _titles("Neck: tilt", "Shoulders", "Back") == ["Neck: tilt", "Shoulders", "Back"]
    # "Step your right foot back" is not numbering
    assert _titles("Step your right foot back", "Fold forward") == ["Step your right foot back", "Fold forward"]


def test_sentence_case_and_short_names():
    assert sentence_case("Warm-Up Strokes") == "Warm-up strokes"
    assert sentence_case("TMJ Release Work") == "TMJ release work"
    assert sentence_case("Thumb walk the sole") == "Thumb walk the sole"
    assert short_title("Roll your shoulders backwards in big slow circles.") == "Roll your shoulders backwards"
    assert short_title("Stand tall with your feet hip-width apart and reach up.") == "Stand tall"
    assert short_title("Circle your arms forward, then backward.") == "Circle your arms forward"


# --- sections and furniture ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "heading, kind",
    [
        ("How to Give a Back Massage", "setup"),
        ("Getting ready", "setup"),
        ("What you'll need", "setup"),
        ("Safety and When to Stop", "safety"),
        ("Precautions", "safety"),
        ("Safety tips", "safety"),
        ("Tips for a Better Massage", "tips"),
        ("Back Massage and Steps", "steps"),
        ("Instructions", "steps"),
        ("Final Thoughts", "closing"),
        ("Conclusion", "closing"),
        ("Cool down", "closing"),
        ("Table of Contents", "skip"),
        ("Recent Posts", "skip"),
        ("Leave A Comment", "skip"),
        ("Why Back Massage Matters", "about"),
        ("Tools That Can Help", "about"),
        ("Massage Moves for Back Relief", "other"),
    ],
)
def test_section_kinds(heading, kind):
    assert kind_of(heading) == kind


@pytest.mark.parametrize(
    "line",
    [
        "top of page",
        "Writer: Monica Pineider",
        "Jul 14",
        "5 min read",
        "Updated: Jul 15",
        "By Jane Doe \u00b7 March 3",
        "March 3, 2024 \u00b7 4 min read",
        "Share this post",
        "Leave a comment",
        "Recent Posts",
        "Home | Blog | Shop",
        "\u00a9 2024 Calm Living. All rights reserved.",
        "Your email address will not be published.",
    ],
)
def test_page_furniture(line):
    assert boilerplate.is_furniture(line)


@pytest.mark.parametrize(
    "line",
    [
        "By the end, your hands will be warm.",
        "Share the work between both hands.",
        "Home is the best place for it.",
    ],
)
def test_instructions_that_start_like_furniture_are_kept(line):
    assert not boilerplate.is_furniture(line)


# --- readers ----------------------------------------------------------------------------------------------


def test_plain_text_headings_numbered_headings_items_and_captions():
    text = (
        "Top Title Here\n\nStep 1 - Warm up\n\nRub the hands together.\n\n"
        "1. Neck stretch\n\nTilt your head.\n\n2. Shrug your shoulders and let them fall.\n"
        "3. Breathe out slowly as you relax.\n\n"
        "A smiling woman stretching her arms above her head in a sunny room by the window\n\n"
        "Getting ready\nSit on a chair with your feet flat on the floor, and rest your hands.\n"
    )
    a = parse_text(text, source="t.txt", markdown=False)
    kinds = [(b.kind, b.level, b.number, b.text) for b in a.blocks]
    assert a.title == "Top Title Here"
    assert ("heading", 3, 1, "Warm up") in kinds  # Step 1 - ...
    assert ("heading", 3, 1, "Neck stretch") in kinds  # numbered, with a paragraph below
    assert ("item", 0, 2, "Shrug your shoulders and let them fall.") in kinds
    assert not any("smiling woman" in t for *_, t in kinds)  # a caption saved as a line
    assert ("heading", 2, None, "Getting ready") in kinds  # a heading glued to its paragraph
    lines = {b.text: b.lines for b in a.blocks}
    assert lines["Rub the hands together."] == (5, 5)


def test_markdown_markup_is_read_not_spoken():
    text = (
        "---\ntitle: Front Title\n---\n# Heading One\n\n![alt](x.png)\n*A caption*\n\n"
        "Some [linked words](http://x) and **bold** text.\n\n1. **Lead.** The rest.\n   > Tip: quoted.\n\n"
        "```\ncode = 1\n```\n"
    )
    a = parse_text(text, source="t.md", markdown=True)
    texts = [b.text for b in a.blocks]
    assert a.title == "Front Title"
    assert "Some linked words and bold text." in texts
    assert not any("caption" in t.lower() or "code" in t or "alt" in t for t in texts)
    item = next(b for b in a.blocks if b.kind == "item")
    assert item.lead == "Lead." and item.text == "Lead. The rest. Tip: quoted."


def test_html_main_text_without_navigation_comments_or_footer():
    html = (
        "<html><head><title>Foot care | Site</title></head><body><nav><a>Home</a> <a>Shop</a></nav>"
        "<article><h1>Foot care</h1><p>Soak your feet in warm water for ten minutes before you start.</p>"
        "<ol><li><b>Rub.</b> Rub the sole.</li><li>Press the heel.</li></ol></article>"
        "<section id='comments'><h2>Comments</h2><p>Loved it, thanks so much for this article!</p></section>"
        "<footer>Copyright 2024 Site</footer></body></html>"
    )
    a = parse_html(html, source="t.html")
    texts = [b.text for b in a.blocks]
    assert a.title == "Foot care"
    assert "Soak your feet in warm water for ten minutes before you start." in texts
    items = [b for b in a.blocks if b.kind == "item"]
    assert [(b.number, b.lead) for b in items] == [(1, "Rub."), (2, None)]
    assert not any("Loved it" in t or "Copyright" in t or t == "Home" for t in texts)
