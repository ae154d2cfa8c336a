"""The shape every article reader produces: a flat run of headings, paragraphs and list items.

Plain text, Markdown and HTML look nothing alike, but a how-to in any of them is a title, some
headings, paragraphs and lists. The readers (``plaintext``, ``webpage``) turn a file into that run
of ``Block``s, so finding steps, sections and durations is written once for every format.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Block:
    """One heading, paragraph or list item, markup removed, whitespace collapsed."""

    kind: str  # "heading", "para" or "item"
    text: str
    level: int = 0  # headings: 1 is the title; items: nesting depth (0 = top)
    number: int | None = None  # "3." or "Step 3" in front of a heading, an ordered item's place
    list_id: int | None = None  # the items of one list share it
    lead: str | None = None  # a bold run opening an item ("**Neck tilt.** Tilt your head...")
    lines: tuple[int, int] | None = None  # first and last line in the file (text and Markdown)
    index: int = 0  # place in the article, for messages about HTML (no line numbers)


@dataclass(frozen=True)
class HowToStep:
    """A step from a page's schema.org HowTo data (JSON-LD): the author's own list of steps."""

    name: str
    text: tuple[str, ...]  # HowToStep.text and its HowToDirection items
    tips: tuple[str, ...] = ()  # its HowToTip items
    time_ms: int | None = None  # its timeRequired, where given
    position: int = 0  # 1-based, in the order the page lists them


@dataclass(frozen=True)
class Article:
    """What a reader found in one file."""

    source: str  # the path, for messages and comments
    format: str  # "text", "markdown" or "html"
    title: str | None
    blocks: tuple[Block, ...]
    howto: tuple[HowToStep, ...] = ()
    howto_total_ms: int | None = None  # the HowTo's totalTime, where given
