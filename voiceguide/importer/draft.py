"""Article -> Draft: the routine's parts, every spoken line with the place in the article it came from.

Where each part comes from:

- **steps**: ``steps.find_steps``; each step's first paragraph, and the instructions after it, up to
  about 45 words (some 20 s of speech), are its instruction; what follows (descriptions, more
  instructions, "Tip:" lines, cautions) are its tips, said while the hands work;
- **duration**: the time the step's text gives (``timing``); a sentence that says only that ("Do
  this for about 2 to 3 minutes.") is not spoken; where a step gives none, ``fitting`` chooses one
  and the draft says so;
- **sides**: a step that says "alternate sides", "switch to the other foot" or "30 seconds on each
  side" gets ``sides: [left, right]``; a step that *opens* by switching is itself the other side;
- **set-up**: a preparation section ("How to give...", "Getting ready", "What you need");
- **safety**: a safety, precautions or when-to-stop section (its rules, not its reassurances),
  then the cautions about the body from the steps ("Don't press directly on the spine."), with
  the when-to-stop lines first;
- **check-ins**: a tips section, and "Tip:" lines outside the steps;
- **closing**: the last paragraph of a closing section ("Final thoughts", "Conclusion").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from voiceguide.errors import ArticleError
from voiceguide.importer import boilerplate, timing
from voiceguide.importer import sections as kinds
from voiceguide.importer import sentences as sent
from voiceguide.importer.blocks import Article, Block
from voiceguide.importer.steps import Found, FoundStep, find_steps

INSTRUCTION_MAX_WORDS = 45  # ~17 s at 160 wpm: the step's opening cue, before the hands settle in
TIP_MAX_WORDS = 25  # one reminder, said in a gap between other cues
CLOSING_MAX_SENTENCES = 4
STEP_TIME_MS = (5_000, 30 * 60_000)  # times outside this are not a step's length ("48 hours")

_LIMB = r"(side|foot|leg|arm|hand|shoulder|hip|knee)"
_SIDES = re.compile(
    r"\balternat(e|ing)\s+(sides|legs|feet|arms|hands|shoulders)\b"
    r"|\bswitch(ing)?\s+(sides|legs|feet|arms|hands|to\s+the\s+other\s+" + _LIMB + r")\b"
    r"|\bchange\s+sides\b"
    r"|\b(repeat|do\s+the\s+same|then|do|move\s+(on\s+)?to|go\s+to|work\s+on)\b[^.]{0,30}?\b(on\s+|with\s+|for\s+)?"
    r"the\s+other\s+" + _LIMB + r"\b",
    re.I,
)
_SWITCH_AFTER = re.compile(r"^(switch|repeat|do|then|move|go|work)\b", re.I)  # not "alternate"
_WHOLE = re.compile(r"\b(halfway|half way|in all|in total|altogether)\b", re.I)  # the time is for both sides
_SWITCH_FILLER = set("and then now repeat the same do on with for steps this it all again move go work to".split())
_STOP = re.compile(r"\bstop\b", re.I)


@dataclass(frozen=True)
class Line:
    """A spoken line and where in the article it came from."""

    text: str
    origin: str


@dataclass(frozen=True)
class DraftStep:
    title: str
    origin: str
    instruction: tuple[Line, ...]
    tips: tuple[Line, ...] = ()
    sides: tuple[str, ...] = ()
    sides_origin: str | None = None
    min_ms: int | None = None  # None until fitting gives a default
    max_ms: int | None = None
    timing: str = ""  # the comment beside the duration
    per_side: bool = False
    defaulted: bool = False  # the article gives this step no time


@dataclass(frozen=True)
class Draft:
    source: str
    format: str
    how: str  # how the steps were found
    title: str
    title_origin: str
    setup: tuple[Line, ...]
    safety: tuple[Line, ...]
    checkins: tuple[Line, ...]
    closing: tuple[Line, ...]
    steps: tuple[DraftStep, ...]
    length_ms: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def defaulted(self) -> int:
        return sum(1 for s in self.steps if s.defaulted)


def build_draft(article: Article) -> Draft:
    """The routine parts of an article; durations not yet settled where it gives none."""
    found = find_steps(article)
    if found is None:
        raise ArticleError(
            "no steps found: this does not look like a how-to (no numbered steps, step headings or list of steps)",
            path=article.source,
        )
    origins = _Origins(article)
    steps, promoted = [], []
    for k, fs in enumerate(found.steps):
        step, cautions = _build_step(fs, k, origins)
        steps.append(step)
        promoted.extend(cautions)
    parts = _sections(article, found, origins)
    safety = _dedupe(parts["safety"] + promoted)
    safety.sort(key=lambda line: 0 if _STOP.search(line.text) else 1)  # when to stop, first
    title = article.title or Path(article.source).stem.replace("-", " ").replace("_", " ").capitalize()
    return Draft(
        source=article.source,
        format=article.format,
        how=found.how,
        title=title,
        title_origin=origins.title_origin(),
        setup=tuple(_dedupe(parts["setup"])),
        safety=tuple(safety),
        checkins=tuple(_dedupe(parts["checkins"])),
        closing=tuple(parts["closing"]),
        steps=tuple(steps),
    )


# --- where a line came from -----------------------------------------------------------------------------


class _Origins:
    """'line 48 ("How to Give a Back Massage")' for text, '"Precautions", paragraph 2' for HTML."""

    def __init__(self, article: Article):
        self.article = article
        self.place: dict[int, tuple[str, int]] = {}
        heading, counts = "the introduction", {"para": 0, "item": 0}
        for b in article.blocks:
            if b.kind == "heading":
                heading, counts = b.text, {"para": 0, "item": 0}
                self.place[b.index] = (b.text, 0)
            else:  # paragraphs and list items are counted apart: "paragraph 2", "item 3"
                counts[b.kind] = counts.get(b.kind, 0) + 1
                self.place[b.index] = (heading, counts[b.kind])

    @staticmethod
    def _short(heading: str) -> str:
        return heading if len(heading) <= 48 else heading[:45].rstrip() + "..."

    def of(self, blocks: list[Block]) -> str:
        blocks = [b for b in blocks if b is not None]
        if not blocks:
            return "the article"
        lines = [b.lines for b in blocks if b.lines]
        heading, ordinal = self.place.get(blocks[0].index, ("the article", 0))
        if lines:
            lo, hi = min(l[0] for l in lines), max(l[1] for l in lines)
            where = f"line {lo}" if lo == hi else f"lines {lo}-{hi}"
            if not ordinal:  # a heading: its own words, to see what its title was cleaned of
                return f'{where}: "{self._short(heading)}"'
            return f'{where} ("{self._short(heading)}")'
        if not ordinal:
            return f'the heading "{self._short(heading)}"'
        last = self.place.get(blocks[-1].index, (heading, ordinal))[1]
        what = "paragraph" if blocks[0].kind == "para" else "item"
        span = f"{what} {ordinal}" if last == ordinal else f"{what}s {ordinal}-{last}"
        return f'"{self._short(heading)}", {span}'

    def howto(self, position: int) -> str:
        return f"the page's HowTo data, step {position}"

    def title_origin(self) -> str:
        for b in self.article.blocks:
            if b.kind == "heading" and b.level == 1:
                return self.of([b])
        return "the page's title" if self.article.format == "html" else "the file name"


# --- steps ------------------------------------------------------------------------------------------------


@dataclass
class _Unit:
    """One cleaned sentence of a step, what it is for, and its block."""

    text: str
    block: Block | None
    origin: str
    role: str = "say"  # say, tip, caution, time, side
    spans: list = field(default_factory=list)


def _step_units(fs: FoundStep, origins: _Origins) -> list[_Unit]:
    units: list[_Unit] = []
    if fs.howto is not None:
        origin = origins.howto(fs.howto.position)
        for text in fs.howto.text:
            units += [_Unit(s, None, origin) for s in sent.speakable(text)]
        for text in fs.howto.tips:
            units += [_Unit(s, None, origin, "tip") for s in sent.speakable(text)]
        return units
    k = 0
    body = fs.body
    while k < len(body):
        b = body[k]
        if boilerplate.is_furniture(b.text):
            k += 1
            continue
        if b.kind == "item" and b.level > 0 and sent.is_fragment(b.text):
            run = [b]
            while (
                k + 1 < len(body)
                and body[k + 1].kind == "item"
                and body[k + 1].level > 0
                and sent.is_fragment(body[k + 1].text)
            ):
                k += 1
                run.append(body[k])
            units.append(_Unit(sent.join_list(None, [r.text for r in run]), run[0], origins.of(run)))
            k += 1
            continue
        origin = origins.of([b]) if not (fs.title_is_sentence and k == 0) else origins.of([fs.title_block])
        for raw in sent.split(b.text):
            if boilerplate.is_promo(raw) or boilerplate.is_meta(raw):
                continue
            text = sent.clean(raw)
            if text:
                units.append(_Unit(text, b, origin, "tip" if sent.is_tip_label(raw) else "say"))
        k += 1
    return units


def _build_step(fs: FoundStep, k: int, origins: _Origins) -> tuple[DraftStep, list[Line]]:
    units = _step_units(fs, origins)
    title_origin = origins.of([fs.title_block]) if fs.title_block is not None else origins.howto(k + 1)
    sides, sides_origin = _assign_roles(fs, units)
    instruction, tips = _instruction_and_tips(units)
    if not instruction:
        if tips:
            instruction, tips = tips[:1], tips[1:]
        else:
            instruction = [Line(sent.clean(fs.title) or f"{fs.title}.", title_origin)]
    lo, hi, note, per_side = _step_time(fs, units, title_origin, origins)
    cautions = [Line(u.text, u.origin) for u in units if u.role == "caution" and sent.is_safety_caution(u.text)]
    return DraftStep(
        fs.title, title_origin, tuple(instruction), tuple(tips), sides, sides_origin, lo, hi, note, per_side
    ), cautions


def _assign_roles(fs: FoundStep, units: list[_Unit]) -> tuple[tuple[str, ...], str | None]:
    """Mark each sentence as said, a tip, a caution, the time or the side switch; find the step's sides."""
    sides, sides_origin = (), None
    # a step that opens by switching ("Switch legs. Repeat on the other leg.") is itself the other side
    opens_with_switch = bool(_SIDES.search(fs.title) or (units and _SIDES.search(units[0].text)))
    for n, u in enumerate(units):
        u.spans = [s for s in timing.find(u.text) if STEP_TIME_MS[0] <= s.hi_ms <= STEP_TIME_MS[1]]
        if u.role == "say" and any(timing.says_only_time(u.text, s) for s in u.spans):
            u.role = "time"
        side = _SIDES.search(u.text)
        if ((side and n > 0) or any(s.per_side for s in u.spans)) and not opens_with_switch:
            sides, sides_origin = ("left", "right"), sides_origin or u.origin
            if side and u.role == "say" and _only_switch(u.text, side):
                u.role = "side"
        if side and _SWITCH_AFTER.search(side.group(0)) and not _WHOLE.search(u.text):
            # "Hold for 45 seconds, then switch to the other side": the time is for one side
            before = [s for s in u.spans if s.end <= side.start()] or (
                units[n - 1].spans if n > 0 and not u.spans else []
            )
            for s in before:
                owner = u if s in u.spans else units[n - 1]
                owner.spans[owner.spans.index(s)] = replace(s, per_side=True)
        if u.role == "say" and sent.is_caution(u.text):
            u.role = "caution"
    return sides, sides_origin


def _instruction_and_tips(units: list[_Unit]) -> tuple[list[Line], list[Line]]:
    """The first paragraph and the instructions after it (up to ~45 words) open the step; the rest are tips."""
    instruction, tips, words = [], [], 0
    first_block = next((u.block for u in units if u.role == "say"), None)
    for u in units:
        if u.role in ("tip", "caution"):
            tips.append(u)
        elif u.role == "say":
            n = len(u.text.split())
            opening = u.block is first_block or (sent.is_instruction(u.text) and not tips)
            if opening and (words + n <= INSTRUCTION_MAX_WORDS or not instruction):
                instruction.append(u)
                words += n
            else:
                tips.append(u)
    return _group(instruction, max_words=None), _group(tips, max_words=TIP_MAX_WORDS)


def _step_time(
    fs: FoundStep, units: list[_Unit], title_origin: str, origins: _Origins
) -> tuple[int | None, int | None, str, bool]:
    """(shortest, longest, the comment saying where, per side) from the step's words; None where it has none."""
    timed = [(s, u) for u in units for s in u.spans]
    title_text = fs.title_block.text if fs.title_block is not None else ""
    timed += [
        (s, _Unit(title_text, fs.title_block, title_origin))
        for s in timing.find(title_text)
        if STEP_TIME_MS[0] <= s.hi_ms <= STEP_TIME_MS[1]
    ]
    if timed:
        # a sentence that says only the time is the step's length; else the longest time it names
        # ("hold for 5 seconds ... repeat for two minutes" is a two-minute step)
        alone = [(s, u) for s, u in timed if u.role == "time"]
        span, unit = alone[0] if alone else max(timed, key=lambda t: t[0].hi_ms)
        factor = 2 if span.per_side else 1
        note = (
            f'{unit.origin}: "{span.words}"'
            + (" each side, so twice that" if span.per_side else "")
            + (" (vague)" if span.vague else "")
        )
        return span.lo_ms * factor, span.hi_ms * factor, note, span.per_side
    if fs.howto is not None and fs.howto.time_ms:
        return fs.howto.time_ms, fs.howto.time_ms, f"{origins.howto(fs.howto.position)}: timeRequired", False
    return None, None, "", False


def _only_switch(text: str, match: re.Match) -> bool:
    rest = (text[: match.start()] + " " + text[match.end() :]).lower()
    return not [w for w in re.findall(r"[a-z']+", rest) if w not in _SWITCH_FILLER]


def _group(units: list[_Unit], *, max_words: int | None) -> list[Line]:
    """Neighbouring sentences of one paragraph share a line (a tip: at most two, and short)."""
    lines: list[Line] = []
    group: list[_Unit] = []

    def flush():
        if group:
            lines.append(Line(" ".join(u.text for u in group), group[0].origin))
            group.clear()

    for u in units:
        if group and (
            u.block is not group[-1].block
            or u.origin != group[-1].origin
            or u.role != group[-1].role
            or (
                max_words is not None
                and (len(group) >= 2 or sum(len(g.text.split()) for g in group) + len(u.text.split()) > max_words)
            )
        ):
            flush()
        group.append(u)
    flush()
    return lines


# --- set-up, safety, check-ins, closing ------------------------------------------------------------------------


def _sections(article: Article, found: Found, origins: _Origins) -> dict[str, list[Line]]:
    parts: dict[str, list[Line]] = {"setup": [], "safety": [], "checkins": [], "closing": []}
    closing_section = None
    after_steps: list[Block] = []
    last_step_index = max(found.consumed) if found.consumed else -1
    for sec in kinds.sections(article.blocks, found.consumed):
        if sec.kind == kinds.SKIP:
            continue
        if sec.kind == kinds.SETUP:
            parts["setup"] += _lines(sec, origins, keep="all")
        elif sec.kind == kinds.SAFETY:
            parts["safety"] += _lines(sec, origins, keep="rules")
        elif sec.kind == kinds.TIPS:
            parts["checkins"] += _lines(sec, origins, keep="rules", each_item=True)
        elif sec.kind == kinds.CLOSING:
            closing_section = sec
        elif sec.kind == kinds.STEPS:
            lead = [b for b in sec.blocks if b.index < last_step_index]
            after_steps += [b for b in sec.blocks if b.index > last_step_index and b.kind == "para"]
            parts["setup"] += _lines(kinds.Section(sec.heading, sec.kind, lead), origins, keep="instructions")
        if sec.kind in (kinds.STEPS, kinds.OTHER):
            parts["safety"] += _caution_lines(sec, origins)
        if sec.kind not in (kinds.TIPS,):
            parts["checkins"] += _tip_lines(sec, origins)
    if closing_section is not None:
        parts["closing"] = _closing(closing_section.blocks, origins)
    elif after_steps:
        parts["closing"] = _closing(after_steps, origins, keep="instructions")
    return parts


def _keep(sentences: list[str], keep: str) -> list[str]:
    sentences = [s for s in sentences if not sent.is_tip_label(s)]
    if keep == "instructions":  # set-up and closing taken from around the steps: cautions go to safety
        sentences = [s for s in sentences if not sent.is_safety_caution(s)]
    if keep == "rules":
        return [s for s in sentences if sent.is_rule(s)]
    if keep == "instructions":
        return [s for s in sentences if sent.is_instruction(s)]
    return sentences


def _lines(sec: kinds.Section, origins: _Origins, *, keep: str, each_item: bool = False) -> list[Line]:
    """A section's paragraphs, one line each; a list of short entries joined into one sentence."""
    out: list[Line] = []
    blocks = sec.blocks
    k = 0
    while k < len(blocks):
        b = blocks[k]
        if b.kind == "item":
            run = [b]
            while k + 1 < len(blocks) and blocks[k + 1].kind == "item" and blocks[k + 1].list_id == b.list_id:
                k += 1
                run.append(blocks[k])
            lead = blocks[k - len(run)] if k - len(run) >= 0 else None
            lead = lead if lead is not None and lead.kind == "para" and lead.text.endswith(":") else None
            if not each_item and all(sent.is_fragment(i.text) for i in run):
                lead_text = lead.text if lead is not None else (f"{sec.heading.text}:" if sec.heading else None)
                text = sent.join_list(lead_text, [i.text for i in run])
                if text:
                    out.append(Line(text, origins.of(([lead] if lead else []) + run)))
            else:
                for item in run:
                    # an entry of a tips or safety list is a tip or a rule by the author's own word
                    said = _keep(sent.speakable(item.text), "all" if keep == "rules" else keep)
                    if said:
                        out.append(Line(" ".join(said), origins.of([item])))
        elif b.kind == "para":
            introduces_list = b.text.endswith(":") and k + 1 < len(blocks) and blocks[k + 1].kind == "item"
            if not introduces_list:
                said = _keep(sent.speakable(b.text), keep)
                if said:
                    out.append(Line(" ".join(said), origins.of([b])))
        k += 1
    return out


def _caution_lines(sec: kinds.Section, origins: _Origins) -> list[Line]:
    """Cautions about the body outside the steps and the safety section ("Stop if anything hurts.")."""
    out = []
    for b in sec.blocks:
        if b.kind != "para":
            continue
        said = [s for s in sent.speakable(b.text) if sent.is_safety_caution(s)]
        if said:
            out.append(Line(" ".join(said), origins.of([b])))
    return out


def _tip_lines(sec: kinds.Section, origins: _Origins) -> list[Line]:
    """'Tip: ...' sentences outside the steps and outside a tips section: check-ins."""
    out = []
    for b in sec.blocks:
        for raw in sent.split(b.text):
            if sent.is_tip_label(raw):
                text = sent.clean(raw)
                if text:
                    out.append(Line(text, origins.of([b])))
    return out


def _closing(blocks: list[Block], origins: _Origins, keep: str = "all") -> list[Line]:
    """The final words: the last paragraph that has something to say."""
    for b in reversed([b for b in blocks if b.kind == "para"]):
        said = _keep(sent.speakable(b.text), keep)[:CLOSING_MAX_SENTENCES]
        if said:
            return [Line(" ".join(said), origins.of([b]))]
    return []


def _dedupe(lines: list[Line]) -> list[Line]:
    seen, out = set(), []
    for line in lines:
        key = re.sub(r"[^a-z]+", " ", line.text.lower()).strip()
        if key and key not in seen:
            seen.add(key)
            out.append(line)
    return out
