"""What each part of an article is for, told by its heading.

``KINDS`` is the table a new article shape extends: a kind, and the heading words that announce it.
The first kind that matches wins, so "Safety tips" is safety and "Tips for a better massage" is
tips. A heading that matches none is ``other`` (its text is not spoken), unless it sits under a
heading of a kind, whose kind it takes ("Safety" > "Who should not have a massage").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from voiceguide.importer import boilerplate
from voiceguide.importer.blocks import Block

SKIP, SAFETY, TIPS, SETUP, STEPS, CLOSING, ABOUT, OTHER = (
    "skip",
    "safety",
    "tips",
    "setup",
    "steps",
    "closing",
    "about",
    "other",
)

KINDS: tuple[tuple[str, re.Pattern], ...] = tuple(
    (kind, re.compile(pattern, re.I))
    for kind, pattern in (
        # page furniture and everything below it: never spoken
        (
            SKIP,
            r"table of contents|^contents$|^in this (article|post|guide)|recent posts|related (posts|articles)|"
            r"leave a (comment|reply)|^\d*\s*comments?$|^share\b|about the author|author bio|^subscribe|newsletter|"
            r"you (may|might) also like|^references$|^sources$|further reading|disclaimer|^faqs?$|frequently asked",
        ),
        # spoken at the start, and again on the `s` key
        (
            SAFETY,
            r"safety|precautions?|cautions?|warnings?|when to stop|when not to|contraindications?|be careful|"
            r"who should (not|avoid)|risks|side effects|stay safe|important|take care|^avoid\b|when to avoid",
        ),
        # check-ins, spoken every so often
        (TIPS, r"\btips?\b|\bhints\b|advice|tricks|pointers|best practices|dos and don'?ts|keep in mind|remember"),
        # spoken before the first step
        (
            SETUP,
            r"how to give|getting (ready|started)|before (you|we) (begin|start)|prepar|get ready|set(ting)? ?up|"
            r"what (you('ll| will)? )?need|you('ll| will)? need|materials|equipment|supplies|the setting|"
            r"create (a|the)\b",
        ),
        # where the steps are, when they are not numbered
        (
            STEPS,
            r"\bsteps?\b|step[- ]by[- ]step|instructions|directions|\bmethod\b|how to do|the routine|"
            r"the sequence|the (exercises|stretches|moves|strokes|techniques)\b|^techniques$|^the massage$",
        ),
        # the closing words
        (
            CLOSING,
            r"final (thoughts|words|notes|step)|conclusion|wrapping up|wrap[- ]up|^to (finish|end)|"
            r"^finish(ing)?( up| off)?$|^the end$|^closing|^summary$|aftercare|"
            r"after the (massage|session)|^afterwards?$|"
            r"^cool(ing)?[ -]?down$",
        ),
        # background the session does not need
        (
            ABOUT,
            r"^(why|what|who|when|where)\b|benefits|practice makes|history|\btools\b|types of|overview|"
            r"introduction|^about\b|\?$",
        ),
    )
)

_INHERITED = (SKIP, SAFETY, TIPS, SETUP, CLOSING)


def kind_of(heading: str) -> str:
    if boilerplate.is_furniture(heading):
        return SKIP
    text = " ".join(heading.split())
    for kind, pattern in KINDS:
        if pattern.search(text):
            return kind
    return OTHER


@dataclass
class Section:
    heading: Block | None  # None: the text before the first heading
    kind: str
    blocks: list[Block] = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.heading.text if self.heading is not None else "the introduction"


def _kinds(blocks):
    """(block, kind of the section it opens or sits in, whether it opens one) for every block."""
    stack: list[tuple[int, str]] = []  # (level, kind) of the open headings
    kind = OTHER
    for b in blocks:
        if b.kind != "heading":
            yield b, kind, False
            continue
        if b.level <= 1:
            stack, kind = [], OTHER
            yield b, kind, True
            continue
        while stack and stack[-1][0] >= b.level:
            stack.pop()
        kind = kind_of(b.text)
        if kind == OTHER and stack and stack[-1][1] in _INHERITED:
            kind = stack[-1][1]
        stack.append((b.level, kind))
        yield b, kind, True


def sections(blocks: tuple[Block, ...] | list[Block], consumed: set[int] = frozenset()) -> list[Section]:
    """The article cut at its headings, leaving out the blocks the steps took."""
    out = [Section(None, OTHER)]
    for b, kind, opens in _kinds([b for b in blocks if b.index not in consumed]):
        if opens:
            out.append(Section(b, kind))
        else:
            out[-1].blocks.append(b)
    return [s for s in out if s.blocks or s.heading is not None]


def section_of(blocks: tuple[Block, ...] | list[Block], index: int) -> str:
    """The kind of section the block at ``index`` sits in (for choosing which list holds the steps)."""
    for b, kind, _ in _kinds(blocks):
        if b.index == index:
            return kind
    return OTHER
