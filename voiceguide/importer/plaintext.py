"""Plain text and Markdown -> blocks, each with the lines it came from.

One reader serves both: Markdown's markers (``#`` headings, ``-``/``1.`` lists, ``**bold**``,
links, images) are read where present, and a page saved as text from a browser (like the seed
article) has the same shape without them. There, headings are told apart by how they look:

- a line on its own (blank lines around it), at most 12 words, not ending like a sentence, is a
  heading ("Why Back Massage Matters");
- a numbered line of that kind followed by a paragraph is a numbered heading
  ("1. Back Massage Technique: Warm-Up Strokes"); a numbered line that is a sentence is a list item;
- "Step 3 - Thumb walk the sole" is a numbered heading wherever it stands;
- a long line that does not end like a sentence is an image caption left in by the browser, and
  is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from voiceguide.importer import boilerplate
from voiceguide.importer.blocks import Article, Block

HEADING_MAX_WORDS = 12

_ATX = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^(=+|-+)\s*$")
_RULE = re.compile(r"^([-*_])(\s*\1){2,}\s*$")
_FENCE = re.compile(r"^(```|~~~)")
_BULLET = re.compile(r"^(\s*)([-*+\u2022\u00b7\u25aa\u25e6\u2023\u2013\u25cb\u25cf\u25a0\u2713\u2714])\s+(\S.*)$")
_NUMBERED = re.compile(r"^(\s*)(\d{1,2})[.)]\s+(\S.*)$")
_NUMBER_WORDS = {
    w: i + 1 for i, w in enumerate("one two three four five six seven eight nine ten eleven twelve".split())
}
_STEP_LABEL = re.compile(
    r"^(?:step|stage)\s+(\d{1,2}|" + "|".join(_NUMBER_WORDS) + r")\b\s*[:.)\-\u2013\u2014]?\s*(.*)$", re.I
)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)|\[([^\]]+)\]\[[^\]]*\]")
_LINK_DEF = re.compile(r"^\s*\[[^\]]+\]:\s*\S+")
_EMPHASIS = re.compile(
    r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1|(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?!\w)"
    r"|(?<![\w_])_(?=\S)([^_]+?)(?<=\S)_(?!\w)"
)
_LEAD = re.compile(r"^\s*(\*\*|__)(.+?)\1\s*(.*)$")
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_SENTENCE_END = (".", "!", ",", ";", ":")


def parse_text(text: str, *, source: str, markdown: bool) -> Article:
    """Blocks of a plain-text or Markdown article, its title the first heading."""
    raw = _Scanner(markdown).scan(_strip_front_matter(text) if markdown else text)
    front_title = _front_matter_title(text) if markdown else None
    explicit = any(b.kind == "heading" for b in raw)
    if not explicit:
        raw = [part for b in raw for part in _unglue_heading(b)]
    blocks: list[Block] = []
    for i, b in enumerate(raw):
        nxt = raw[i + 1] if i + 1 < len(raw) else None
        block = _settle(b, nxt, guess_headings=not explicit)
        if block is not None:
            blocks.append(block)
    # furniture headings stay: sections.py marks what follows them ("Recent Posts", ...) as skipped
    blocks = [b for b in blocks if b.kind == "heading" or not boilerplate.is_furniture(b.text)]
    blocks = _number_lists(blocks)
    title = front_title
    for k, b in enumerate(blocks):
        if b.kind == "heading" and b.number is None and not boilerplate.is_furniture(b.text):
            title = title or b.text
            if b.text == title:
                blocks[k] = Block("heading", b.text, 1, lines=b.lines)
            break
    fmt = "markdown" if markdown else "text"
    return Article(source, fmt, title, tuple(_reindexed(blocks)))


# --- lines -> raw blocks ------------------------------------------------------------------------------


@dataclass
class _Raw:
    kind: str  # "heading", "para", "item", "numbered", "step"
    parts: list[str]
    start: int
    end: int
    level: int = 0  # headings: Markdown level; items and paras: indent depth
    number: int | None = None
    lead: str | None = None
    after_blank: bool = True
    emphasised: bool = False  # the whole paragraph was *in italics* (a caption under an image)
    after_image: bool = False

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


class _Scanner:
    def __init__(self, markdown: bool):
        self.markdown = markdown
        self.out: list[_Raw] = []
        self.cur: _Raw | None = None
        self.indents: list[int] = []  # the indents of the open list's levels, outermost first

    def close(self) -> None:
        if self.cur is not None and self.cur.text:
            self.out.append(self.cur)
        self.cur = None

    def scan(self, text: str) -> list[_Raw]:
        blank, fenced, after_image = True, False, False
        for n, raw_line in enumerate(text.split("\n"), 1):
            line = raw_line.replace("\t", "    ").replace("\u00a0", " ").rstrip()
            stripped = line.strip()
            if _FENCE.match(stripped):  # code has no place in a spoken routine
                fenced = not fenced
                self.close()
                continue
            if fenced:
                continue
            if not stripped:
                self.close()
                blank = True
                continue
            if self.markdown and (_LINK_DEF.match(line) or stripped.startswith("<!--")):
                continue
            if self.markdown and _IMAGE.fullmatch(stripped):
                self.close()
                after_image, blank = True, True
                continue
            indent = len(line) - len(line.lstrip(" "))
            if self.markdown and stripped.startswith(">"):  # a quote: "> Tip: ..." is said like any line
                stripped = re.sub(r"^(>\s?)+", "", stripped).strip()
                line = " " * indent + stripped
                if not stripped:
                    continue
            self._line(line, stripped, indent, n, blank, after_image)
            blank, after_image = False, False
        self.close()
        return self.out

    def _line(self, line: str, s: str, indent: int, n: int, blank: bool, after_image: bool) -> None:
        cur = self.cur
        m = _ATX.match(s) if self.markdown else None
        if m:
            self.close()
            self.out.append(_Raw("heading", [_inline(m.group(2))], n, n, level=len(m.group(1))))
            self.indents = []
            return
        if (
            self.markdown
            and cur is not None
            and cur.kind == "para"
            and not blank
            and _SETEXT.match(s)
            and len(cur.parts) == 1
        ):
            cur.kind, cur.level, cur.end = "heading", 1 if s.startswith("=") else 2, n
            self.close()
            return
        if _RULE.match(s):
            self.close()
            return
        m = _BULLET.match(line)
        if m and not (
            self.markdown
            and cur is not None
            and cur.kind == "para"
            and not blank
            and m.group(2) == "-"
            and _SETEXT.match(s)
        ):
            self.close()
            self.cur = self._item("item", m.group(3), n, indent)
            return
        m = _NUMBERED.match(line)
        if m:
            self.close()
            self.cur = self._item("numbered", m.group(3), n, indent, number=int(m.group(2)))
            return
        m = _STEP_LABEL.match(s)
        if m and blank:
            self.close()
            number = m.group(1).lower()
            self.cur = _Raw(
                "step", [_inline(m.group(2))], n, n, number=int(number) if number.isdigit() else _NUMBER_WORDS[number]
            )
            return
        if cur is not None and not blank:
            cur.parts.append(_inline(s))
            cur.end = n
            return
        self.close()
        # a paragraph indented under a Markdown list item belongs to that item
        level = 1 if (self.markdown and self.indents and indent > self.indents[0]) else 0
        if level == 0:
            self.indents = []
        emphasised = self.markdown and bool(re.fullmatch(r"(\*|_)[^*_].*[^*_]\1", s))
        self.cur = _Raw(
            "para", [_inline(s)], n, n, level=level, after_blank=blank, emphasised=emphasised, after_image=after_image
        )

    def _item(self, kind: str, text: str, n: int, indent: int, number: int | None = None) -> _Raw:
        lead = None
        m = _LEAD.match(text) if self.markdown else None
        if m and m.group(3):
            lead = _inline(m.group(2)).strip()
        while self.indents and indent < self.indents[-1]:
            self.indents.pop()
        if not self.indents or indent > self.indents[-1]:
            self.indents.append(indent)
        return _Raw(kind, [_inline(text)], n, n, level=len(self.indents) - 1, number=number, lead=lead)


def _inline(text: str) -> str:
    """Markdown inline markup -> the words it shows."""
    text = _IMAGE.sub("", text)
    text = _LINK.sub(lambda m: m.group(1) or m.group(2), text)
    text = _TAG.sub(" ", text)
    for _ in range(2):  # nested emphasis, "***both***"
        text = _EMPHASIS.sub(lambda m: m.group(2) or m.group(3) or m.group(4), text)
    text = text.replace("`", "")
    return re.sub(r"\\([\\`*_{}\[\]()#+\-.!])", r"\1", text)


# --- raw blocks -> blocks -----------------------------------------------------------------------------


def _unglue_heading(b: _Raw) -> list[_Raw]:
    """'Getting ready' on the line above its paragraph, with no blank line between: two blocks.

    A hard-wrapped paragraph's first line is as long as the next and ends mid-sentence; a
    heading is short (under 60% of the next line), ends without punctuation, and the next line
    starts a sentence.
    """
    if b.kind != "para" or len(b.parts) < 2:
        return [b]
    first, second = b.parts[0], b.parts[1]
    if (
        looks_like_heading(first)
        and len(first.split()) <= 8
        and len(first) < 0.6 * len(second)
        and second[:1].isupper()
    ):
        return [
            _Raw("para", [first], b.start, b.start, after_blank=b.after_blank),
            _Raw("para", b.parts[1:], b.start + 1, b.end, after_blank=True),
        ]
    return [b]


def looks_like_heading(text: str) -> bool:
    words = text.split()
    if not words or len(words) > HEADING_MAX_WORDS or text.endswith(_SENTENCE_END):
        return False
    if text.endswith("?") and len(words) > 10:
        return False
    return not text[0].islower()


def _settle(b: _Raw, nxt: _Raw | None, *, guess_headings: bool) -> Block | None:
    lines = (b.start, b.end)
    text = b.text
    if b.kind == "heading":
        number, rest = heading_number(text)
        return Block("heading", rest if number else text, b.level, number=number, lines=lines)
    if b.kind == "step":
        return Block("heading", text, 3, number=b.number, lines=lines)
    if b.kind == "numbered":
        body_follows = nxt is not None and nxt.kind == "para" and nxt.level == 0
        if looks_like_heading(text) and body_follows and len(b.parts) == 1:
            return Block("heading", text, 3, number=b.number, lines=lines)
        return Block("item", text, b.level, number=b.number, lead=b.lead, lines=lines)
    if b.kind == "item":
        return Block("item", text, b.level, lead=b.lead, lines=lines)
    # a paragraph
    if b.emphasised and b.after_image:
        return None  # the caption under an image
    if guess_headings and len(b.parts) == 1 and b.after_blank and b.level == 0 and looks_like_heading(text):
        return Block("heading", text, 2, lines=lines)
    if (
        not text.endswith((".", "!", "?", ":", '"', "\u201d", ")"))
        and len(text.split()) > HEADING_MAX_WORDS
        and guess_headings
        and len(b.parts) == 1
    ):
        return None  # an image's caption or alt text that the browser saved as a line
    return Block("para", text, b.level, lines=lines)


def heading_number(text: str) -> tuple[int | None, str]:
    """'2. Effleurage' -> (2, 'Effleurage'); 'Step 2 - Thumb walk' -> (2, 'Thumb walk')."""
    m = re.match(r"^(\d{1,2})[.):]\s+(\S.*)$", text)
    if m:
        return int(m.group(1)), m.group(2)
    m = _STEP_LABEL.match(text)
    if m:
        number = m.group(1).lower()
        return (int(number) if number.isdigit() else _NUMBER_WORDS[number]), m.group(2)
    return None, text


def _number_lists(blocks: list[Block]) -> list[Block]:
    """Give the items of one list one ``list_id``.

    A bullet list ends at a heading or a paragraph. A numbered list ends at a heading; a
    paragraph between "1." and "2." (a tip, a picture's text) does not split it.
    """
    out: list[Block] = []
    next_id, bullets_id, ordered_id, last_number = 0, None, None, None
    for b in blocks:
        if b.kind == "heading":
            bullets_id = ordered_id = last_number = None
        elif b.kind == "para" and b.level == 0:
            bullets_id = None
        elif b.kind == "item":
            if b.number is not None and b.level == 0:
                if ordered_id is None or last_number is None or b.number != last_number + 1:
                    next_id += 1
                    ordered_id = next_id
                last_number, bullets_id = b.number, None
                b = Block("item", b.text, b.level, b.number, ordered_id, b.lead, b.lines)
            else:
                if bullets_id is None:
                    next_id += 1
                    bullets_id = next_id
                b = Block("item", b.text, b.level, b.number, bullets_id, b.lead, b.lines)
        out.append(b)
    return out


def _reindexed(blocks: list[Block]) -> list[Block]:
    return [Block(b.kind, b.text, b.level, b.number, b.list_id, b.lead, b.lines, i) for i, b in enumerate(blocks)]


def _strip_front_matter(text: str) -> str:
    m = re.match(r"^---\n.*?\n---\n", text, re.S)
    return "\n" * m.group(0).count("\n") + text[m.end() :] if m else text


def _front_matter_title(text: str) -> str | None:
    m = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    if not m:
        return None
    t = re.search(r"^title:\s*[\"']?(.*?)[\"']?\s*$", m.group(1), re.M)
    return t.group(1).strip() or None if t else None
