"""A saved web page -> blocks, by trafilatura; and the page's own HowTo steps, from its JSON-LD.

Hand-written tag stripping cannot tell an article from the menus, sidebars, cookie banners and
comment threads around it; trafilatura is made for exactly that (main-content extraction with
boilerplate removal, kept up by its authors against real sites). Its XML output keeps what the
importer needs, headings with their level (``<head rend="h3">``), paragraphs and lists
(``<list rend="ol"><item>``), bold runs (``<hi rend="#b">``), and leaves out navigation,
footers, figure captions, share bars and, with ``include_comments=False``, the comments.

Where a page carries schema.org ``HowTo`` data (JSON-LD, what search engines read for "how to"
results), its steps are the author's own list and are used first.
"""

from __future__ import annotations

import json
import re
from typing import Any

from voiceguide.errors import EnvironmentFault
from voiceguide.importer import boilerplate
from voiceguide.importer.blocks import Article, Block, HowToStep
from voiceguide.importer.plaintext import heading_number

_ISO_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$", re.I)


def parse_html(html: str, *, source: str) -> Article:
    """Blocks of the page's main text, and its HowTo steps where it has them."""
    try:
        import trafilatura
    except ImportError:
        raise EnvironmentFault(
            "reading HTML needs trafilatura: pip install 'voiceguide[html]' (scripts/bootstrap installs it)"
        ) from None
    name, steps, total_ms = _howto(html)
    doc = trafilatura.bare_extraction(
        html,
        output_format="python",
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        include_images=False,
        include_formatting=True,
        favor_recall=True,
        prune_xpath=list(_NOT_CONTENT),
    )
    blocks: list[Block] = []
    if doc is not None and doc.body is not None:
        _Walker(blocks).walk(doc.body)
    title = name or (_clean_title(doc.title, doc.sitename) if doc is not None else None)
    for k, b in enumerate(blocks):
        if b.kind == "heading":
            if title is None or (b.level == 1 and _same(b.text, title)):
                title = title or b.text
                blocks[k] = Block("heading", b.text, 1, index=b.index)
            break
    return Article(source, "html", title, tuple(blocks), steps, total_ms)


#: Page parts that are never the article, taken out before extraction. trafilatura scores the
#: text blocks of a page, and a sidebar of a few hundred teaser lines outscores a short how-to:
#: measured, with 300 sidebar paragraphs beside the hand-massage test page it returned the sidebar.
#: An <aside> inside the article (a tip box) stays.
_NOT_CONTENT = (
    "//aside[not(ancestor::article or ancestor::main)]",
    "//nav",
    "//header[not(ancestor::article or ancestor::main)]",
    "//footer[not(ancestor::article)]",
)


def _same(a: str, b: str) -> bool:
    return " ".join(a.lower().split()) == " ".join(b.lower().split())


def _clean_title(title: str | None, sitename: str | None) -> str | None:
    """'How to Give a Hand Massage | Calm Living' -> 'How to Give a Hand Massage'."""
    if not title:
        return None
    parts = [p.strip() for p in re.split(r"\s+(?:\||\u2013|\u2014|\u00b7|-|::)\s+", title) if p.strip()]
    if len(parts) < 2:
        return title.strip()
    kept = [p for p in parts if not (sitename and _same(p, sitename))]
    if len(kept) < len(parts):
        return " - ".join(kept)
    # no site name known: a short last part ("| Calm Living") is the site's
    return " - ".join(parts[:-1]) if len(parts[-1].split()) <= 4 else title.strip()


# --- trafilatura's XML -> blocks ------------------------------------------------------------------------


class _Walker:
    def __init__(self, out: list[Block]):
        self.out = out
        self.lists = 0

    def add(self, kind: str, text: str, **kw: Any) -> None:
        text = " ".join(text.split())
        # what trafilatura keeps of a page's furniture ("Related: ...", a byline): as in plain text,
        # headings stay so that sections.py skips what follows them
        if text and (kind == "heading" or not boilerplate.is_furniture(text)):
            self.out.append(Block(kind, text, index=len(self.out), **kw))

    def walk(self, el) -> None:
        for child in el:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag == "head":
                level = int(re.sub(r"\D", "", child.get("rend", "") or "") or 2)
                number, text = heading_number(_text(child))
                self.add("heading", text, level=level, number=number)
            elif tag in ("p", "quote"):
                if any(c.tag in ("p", "list", "head") for c in child if isinstance(c.tag, str)):
                    self.walk(child)
                else:
                    self.add("para", _text(child))
            elif tag == "list":
                self.items(child, 0)
            elif tag in ("table", "code", "graphic", "ref"):
                continue
            elif len(child):
                self.walk(child)
            elif _text(child):
                self.add("para", _text(child))

    def items(self, lst, depth: int) -> None:
        self.lists += 1
        list_id, ordered = self.lists, (lst.get("rend") or "").lower() == "ol"
        position = 0
        for item in lst:
            if item.tag != "item":
                continue
            position += 1
            nested = [c for c in item if c.tag == "list"]
            own = _text(item, skip=("list",))
            lead = _lead(item)
            self.add("item", own, level=depth, number=position if ordered else None, list_id=list_id, lead=lead)
            for sub in nested:
                self.items(sub, depth + 1)


_BLOCK_TAGS = ("p", "item", "list", "head", "quote", "div")


def _lead(item) -> str | None:
    """The bold run an item opens with ("<hi>Neck tilt.</hi> Tilt your head"), also inside a first <p>."""
    el = item
    while True:
        first = next(iter(el), None)
        if first is None or (el.text or "").strip():
            return None
        if first.tag == "hi":
            return " ".join(_text(first).split()) if (first.tail or "").strip() or len(el) > 1 else None
        if first.tag != "p":
            return None
        el = first


def _text(el, skip: tuple[str, ...] = ()) -> str:
    """The element's words, ``<lb/>`` as a space, without the children named in ``skip``."""
    parts = [el.text or ""]
    for child in el:
        if child.tag in skip:
            parts.append(child.tail or "")
            continue
        if child.tag == "lb":
            parts.append(" ")
        elif child.tag in _BLOCK_TAGS:  # "<item><p>one.</p><p>Two.</p>": "one. Two.", not "one.Two."
            parts.append(f" {_text(child, skip)} ")
        else:
            parts.append(_text(child, skip))
        parts.append(child.tail or "")
    return " ".join("".join(parts).split())


# --- schema.org HowTo (JSON-LD) ------------------------------------------------------------------------


def _howto(html: str) -> tuple[str | None, tuple[HowToStep, ...], int | None]:
    """The first HowTo in the page's JSON-LD: its name, steps and totalTime."""
    import lxml.html
    from lxml import etree

    try:
        tree = lxml.html.fromstring(html)
    except (ValueError, etree.ParserError):
        return None, (), None
    for script in tree.xpath("//script[@type='application/ld+json']"):
        raw = (script.text or "").strip()
        raw = re.sub(r"^\s*<!--|-->\s*$", "", raw)  # some sites wrap it in an HTML comment
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        for obj in _objects(data):
            if "HowTo" in _types(obj):
                steps = _steps(obj.get("step") or obj.get("steps") or obj.get("itemListElement"))
                if steps:
                    name = _plain(obj.get("name"))
                    return name or None, tuple(steps), _iso_ms(obj.get("totalTime") or obj.get("performTime"))
    return None, (), None


def _objects(data: Any):
    """Every JSON object in the data (``@graph`` lists, arrays of objects, nesting)."""
    if isinstance(data, dict):
        yield data
        for value in data.values():
            if isinstance(value, (dict, list)):
                yield from _objects(value)
    elif isinstance(data, list):
        for value in data:
            yield from _objects(value)


def _types(obj: dict) -> set[str]:
    t = obj.get("@type", ())
    return {str(x).rsplit("/", 1)[-1] for x in (t if isinstance(t, list) else [t])}


def _steps(raw: Any) -> list[HowToStep]:
    """HowToStep, HowToSection (a named group of steps) or plain strings, flattened in order."""
    out: list[HowToStep] = []
    for entry in raw if isinstance(raw, list) else ([raw] if raw else []):
        if isinstance(entry, str):
            text = _plain(entry)
            if text:
                out.append(HowToStep("", (text,), position=len(out) + 1))
            continue
        if not isinstance(entry, dict):
            continue
        types = _types(entry)
        if "HowToSection" in types or ("HowToStep" not in types and "itemListElement" in entry and "text" not in entry):
            for step in _steps(entry.get("itemListElement") or entry.get("steps")):
                out.append(HowToStep(step.name, step.text, step.tips, step.time_ms, len(out) + 1))
            continue
        texts, tips = [], []
        if _plain(entry.get("text")):
            texts.append(_plain(entry.get("text")))
        for sub in entry.get("itemListElement") or ():
            if isinstance(sub, dict) and _plain(sub.get("text")):
                (tips if "HowToTip" in _types(sub) else texts).append(_plain(sub.get("text")))
            elif isinstance(sub, str) and _plain(sub):
                texts.append(_plain(sub))
        name = _plain(entry.get("name"))
        if texts or name:
            out.append(HowToStep(name, tuple(texts), tuple(tips), _iso_ms(entry.get("timeRequired")), len(out) + 1))
    return out


def _plain(value: Any) -> str:
    """A JSON-LD text, which sites sometimes fill with HTML, as plain words."""
    if not isinstance(value, str) or not value.strip():
        return ""
    if "<" in value:
        import lxml.html
        from lxml import etree

        try:
            value = lxml.html.fromstring(f"<div>{value}</div>").text_content()
        except (ValueError, etree.ParserError):
            pass
    return " ".join(value.split())


def _iso_ms(value: Any) -> int | None:
    """'PT1M30S' -> 90000."""
    m = _ISO_DURATION.match(value.strip()) if isinstance(value, str) else None
    if not m or not any(m.groups()):
        return None
    d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    ms = round((((d * 24 + h) * 60 + mi) * 60 + s) * 1000)
    return ms or None
