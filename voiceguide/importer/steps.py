"""Where an article's steps are, and what each is called.

How-to articles give their steps in one of a few shapes. ``find_steps`` tries them in this order
and takes the first that yields two steps or more:

1. the page's schema.org HowTo data (JSON-LD): the author's own list;
2. numbered headings, "1. Warm-Up Strokes" or "Step 2 - Thumb walk the sole", numbered 1, 2, 3...;
3. the headings under a steps heading ("Instructions" > "Warm the hand", "Thumb circles");
4. a numbered list ("1. Tilt your head..."), the one under a steps heading if there is one;
5. a bulleted list under a steps heading.

A new shape is one more function in ``STRATEGIES``. Titles are then cleaned of what repeats
("Back Massage Technique: Effleurage" -> "Effleurage"), of numbering and of times in brackets.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from voiceguide.importer import sections as kinds
from voiceguide.importer.blocks import Article, Block, HowToStep
from voiceguide.importer.sentences import split

#: Headings of these kinds are never steps, even numbered ("1. Why massage helps").
_NOT_STEPS = (kinds.SKIP, kinds.ABOUT, kinds.SAFETY, kinds.TIPS)
#: A list under a heading of these kinds is not the list of steps.
_NOT_STEP_LISTS = (kinds.SKIP, kinds.ABOUT, kinds.SAFETY, kinds.TIPS, kinds.SETUP, kinds.CLOSING)
TITLE_MAX_WORDS = 8


@dataclass
class FoundStep:
    title: str
    title_block: Block | None  # None for HowTo steps
    body: list[Block] = field(default_factory=list)
    howto: HowToStep | None = None
    title_is_sentence: bool = False  # the heading was a whole instruction; it is spoken too


@dataclass
class Found:
    steps: list[FoundStep]
    consumed: set[int]  # indices of blocks the steps took (not to be read again)
    how: str  # which shape, for the draft's header


def find_steps(article: Article) -> Found | None:
    """The article's steps, or None when it has none (it is not a how-to)."""
    blocks = list(article.blocks)
    body = None
    for how, strategy in STRATEGIES:
        found = strategy(blocks)
        if found and len(found[0]) >= 2:
            body = Found(found[0], found[1], how)
            break
    if article.howto and len(article.howto) >= 2:
        steps = [FoundStep(h.name, None, howto=h) for h in article.howto]
        _clean_titles(steps)
        # the page's own rendering of the same steps is left out of set-up, tips and closing
        return Found(steps, body.consumed if body else set(), "the page's schema.org HowTo steps")
    if body is not None:
        _clean_titles(body.steps)
    return body


# --- the strategies ---------------------------------------------------------------------------------------

Strategy = Callable[[list[Block]], "tuple[list[FoundStep], set[int]] | None"]


def _numbered_headings(blocks: list[Block]):
    """Headings numbered 1, 2, 3... in a row; the longest such run."""
    candidates = [
        b
        for b in blocks
        if b.kind == "heading"
        and b.level >= 2
        and b.number is not None
        and kinds.kind_of(b.text) not in _NOT_STEPS
        and kinds.section_of(blocks, b.index) != kinds.SKIP
    ]
    runs: list[list[Block]] = []
    for b in candidates:
        if runs and runs[-1][-1].number is not None and b.number == runs[-1][-1].number + 1:
            runs[-1].append(b)
        elif b.number == 1:
            runs.append([b])
    if not runs:
        return None
    best = max(runs, key=len)
    return _heading_steps(blocks, best)


def _headings_under_steps(blocks: list[Block]):
    """'Instructions' followed by sub-headings (or, in plain text, by headings of no other kind)."""
    for i, h in enumerate(blocks):
        if h.kind != "heading" or h.level < 2 or kinds.kind_of(h.text) != kinds.STEPS:
            continue
        children: list[Block] = []
        child_level = None
        for b in blocks[i + 1 :]:
            if b.kind != "heading":
                continue
            if b.level < h.level or (b.level == h.level and kinds.kind_of(b.text) != kinds.OTHER):
                break
            if b.level == h.level and not _levels_unknown(blocks):
                break
            child_level = child_level or b.level
            if b.level == child_level:
                children.append(b)
        if len(children) >= 2:
            return _heading_steps(blocks, children)
    return None


def _numbered_list(blocks: list[Block]):
    """The numbered list of steps: under a steps heading if there is one, else the longest."""
    return _list_steps(blocks, ordered=True)


def _bulleted_list(blocks: list[Block]):
    """A bulleted list, only under a steps heading (elsewhere bullets are tips, lists of things...)."""
    return _list_steps(blocks, ordered=False)


STRATEGIES: list[tuple[str, Strategy]] = [
    ("numbered headings", _numbered_headings),
    ("the headings under a steps heading", _headings_under_steps),
    ("a numbered list", _numbered_list),
    ("a bulleted list under a steps heading", _bulleted_list),
]


# --- helpers ------------------------------------------------------------------------------------------------


def _levels_unknown(blocks: list[Block]) -> bool:
    """Plain text guesses every unnumbered heading at level 2: no nesting can be read from it."""
    levels = {b.level for b in blocks if b.kind == "heading" and b.level > 1 and b.number is None}
    return levels <= {2}


def _heading_steps(blocks: list[Block], heads: list[Block]):
    steps, consumed = [], set()
    positions = {b.index: k for k, b in enumerate(blocks)}
    head_ids = {h.index for h in heads}
    for h in heads:
        consumed.add(h.index)
        step = FoundStep(h.text, h)
        for b in blocks[positions[h.index] + 1 :]:
            if b.index in head_ids:
                break
            if b.kind == "heading" and (
                b.level <= h.level
                or kinds.kind_of(b.text) in _NOT_STEP_LISTS
                or (h.number is not None and b.number is None and b.level == h.level)
            ):
                break
            consumed.add(b.index)
            if b.kind != "heading":
                step.body.append(b)
        steps.append(step)
    return steps, consumed


def _list_steps(blocks: list[Block], *, ordered: bool):
    later_headings = {" ".join(b.text.lower().split()) for b in blocks if b.kind == "heading"}
    lists: dict[int, list[Block]] = {}
    for b in blocks:
        if b.kind == "item" and b.level == 0 and b.list_id is not None and (b.number is not None) == ordered:
            lists.setdefault(b.list_id, []).append(b)
    best, best_in_steps = None, False
    for items in lists.values():
        if len(items) < 2:
            continue
        where = kinds.section_of(blocks, items[0].index)
        if where in _NOT_STEP_LISTS:
            continue
        if sum(" ".join(i.text.lower().split()) in later_headings for i in items) * 2 >= len(items):
            continue  # a table of contents
        in_steps = where == kinds.STEPS
        if not ordered and not in_steps:
            continue
        if best is None or (in_steps and not best_in_steps) or (in_steps == best_in_steps and len(items) > len(best)):
            best, best_in_steps = items, in_steps
    if best is None:
        return None
    steps, consumed = [], set()
    positions = {b.index: k for k, b in enumerate(blocks)}
    ids = {i.index for i in best}
    last = best[-1].index
    for item in best:
        consumed.add(item.index)
        title, text = _item_title(item)
        body = [Block("para", text, lines=item.lines, index=item.index)] if text else []
        step = FoundStep(title, item, body, title_is_sentence=False)
        for b in blocks[positions[item.index] + 1 :]:
            if b.index in ids or b.kind == "heading":
                break
            nested = b.level > 0
            between = b.kind == "para" and b.index < last  # a tip or a note between two steps
            if not (nested or between):
                break
            consumed.add(b.index)
            step.body.append(b)
        steps.append(step)
    return steps, consumed


def _item_title(item: Block) -> tuple[str, str]:
    """An item's title and the rest of its text.

    "**Neck tilt.** Tilt your head..." and "Neck tilt: Tilt your head..." have their title;
    otherwise the first clause of the first sentence names the step, and the whole text is spoken.
    """
    text = item.text
    if item.lead and text.startswith(item.lead):
        return item.lead.rstrip(".: "), text[len(item.lead) :].strip(" :.-\u2013\u2014") or item.lead
    m = re.match(r"^([^:.!?]{2,60}?)\s*[:\u2013\u2014]\s+(\S.*)$", text)
    if m and len(m.group(1).split()) <= 5:
        return m.group(1), m.group(2)
    return short_title(text), text


def short_title(sentence: str) -> str:
    """A step's name from its first sentence: its first clause, cut before a preposition after the
    verb and its object ("Roll your shoulders backwards in big slow circles" -> "Roll your shoulders
    backwards"), at most eight words."""
    first = split(sentence)[0] if sentence.strip() else sentence
    clause = re.split(r"[,;:.!?(]|\s[\u2013\u2014-]\s|\s(?:and|then|while|so that|until)\s", first)[0].strip()
    words = clause.split()
    if len(words) > 5:
        cut = next((k for k, w in enumerate(words) if k >= 2 and w.lower() in _PREPOSITIONS), None)
        words = words[:cut] if cut else words
    words = words[:TITLE_MAX_WORDS]
    while len(words) > 1 and words[-1].lower() in _TRAILING:
        words.pop()
    return " ".join(words) or first


_PREPOSITIONS = {
    "in",
    "into",
    "on",
    "onto",
    "with",
    "from",
    "to",
    "toward",
    "towards",
    "over",
    "under",
    "at",
    "for",
    "between",
    "across",
    "around",
    "through",
    "along",
    "against",
    "behind",
    "below",
    "above",
    "until",
}
_TRAILING = {
    "a",
    "an",
    "the",
    "of",
    "to",
    "with",
    "and",
    "or",
    "your",
    "their",
    "his",
    "her",
    "its",
    "on",
    "in",
    "for",
    "from",
    "into",
    "at",
    "by",
    "between",
    "both",
    "each",
    "this",
    "that",
}


# --- titles -----------------------------------------------------------------------------------------------------

_NUMBERING = re.compile(
    r"^(?:(?:step|stage|part)\s+(?:\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|"
    r"eleven|twelve)|#?\d{1,2})\b\s*[:.)\-\u2013\u2014]?\s+",
    re.I,
)
_TIME_IN_TITLE = re.compile(
    r"\s*(?:\((?:[^)]*\d[^)]*|[^)]*minutes?[^)]*)\)|[\u2013\u2014-]\s*[\d.]+\s*(?:-\s*\d+\s*)?"
    r"(?:seconds?|secs?|minutes?|mins?)\b.*)$",
    re.I,
)


def _clean_titles(steps: list[FoundStep]) -> None:
    """Numbering, times in brackets and the prefix every title repeats, taken off in place."""
    for s in steps:
        if not s.title and s.howto is not None:
            s.title = short_title(" ".join(s.howto.text))
        title = _NUMBERING.sub("", s.title.strip())
        title = _TIME_IN_TITLE.sub("", title).strip()
        # "Step 1: Place your hands on the back and stroke upward." is a heading that instructs
        if title.endswith(".") and len(title.split()) >= 5 and s.howto is None:
            s.title_is_sentence = True
            s.body.insert(
                0,
                Block(
                    "para",
                    title,
                    lines=s.title_block.lines if s.title_block else None,
                    index=s.title_block.index if s.title_block else 0,
                ),
            )
            title = short_title(title)
        s.title = title.strip(" .:;-\u2013\u2014")
    _strip_shared_prefix(steps)
    for s in steps:
        if s.howto is not None and s.howto.text and len(s.title.split()) > TITLE_MAX_WORDS:
            s.title = short_title(s.title)
        s.title = sentence_case(s.title) if s.title else f"Step {steps.index(s) + 1}"


def _strip_shared_prefix(steps: list[FoundStep]) -> None:
    """'Back Massage Technique: Effleurage' -> 'Effleurage', when most titles share the prefix."""
    prefixes = Counter()
    for s in steps:
        m = re.match(r"^(.{3,60}?)\s*(?::|\s[\u2013\u2014-])\s+\S", s.title)
        if m:
            prefixes[m.group(1).lower()] += 1
    if not prefixes:
        return
    prefix, count = prefixes.most_common(1)[0]
    if count < 2 or count * 2 < len(steps):
        return
    for s in steps:
        m = re.match(rf"^{re.escape(prefix)}\s*(?::|\s[\u2013\u2014-])\s+(\S.*)$", s.title, re.I)
        if m:
            s.title = m.group(1)


def sentence_case(title: str) -> str:
    """'Warm-Up Strokes' -> 'Warm-up strokes'; a title already in sentence case, or 'TMJ release', is kept."""
    words = title.split()
    if len(words) < 2:
        return title[:1].upper() + title[1:]
    capitalised = [w for w in words[1:] if w[:1].isupper()]
    small = {"a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "with", "at", "by", "from"}
    content = [w for w in words[1:] if w.lower() not in small]
    if not content or len(capitalised) < len(content):
        return title[:1].upper() + title[1:]

    first, *rest = words[0].split("-")
    return " ".join(["-".join([first] + [_lower_word(p) for p in rest])] + [_lower_word(w) for w in words[1:]])


def _lower_word(word: str) -> str:
    if word.isupper() and len(word) > 1:  # an acronym: "TMJ"
        return word
    return "-".join(p[:1].lower() + p[1:] for p in word.split("-"))
