"""Paragraphs -> short spoken sentences, and what kind of sentence each is.

Nothing here writes a sentence of its own. Cleaning only takes away: markup left in the text, a
"Tip:" label, an opening "But", "And", "So" or "Please" (they lean on a sentence the listener did
not hear), and what is said in brackets about the page ("(see photo)"). The one thing added is the
"and" that joins a list into a sentence ("Avoid open wounds, rashes, and recent injuries.").

The kinds are the ones a reader of how-to articles sees at a glance:

- an *instruction* starts with a verb ("Use your palms.", "Slowly increase the pressure.");
- a *description* has a subject first ("This warms the muscles.", "Friction helps reach deeper
  layers."); in a step it becomes a tip, said while the hands work;
- a *caution* warns ("Avoid the spine.", "Don't press on the bones.", "Stop if it hurts.");
- a *rule* is an instruction, a caution, an "If ..." or a "should/must/never/always" sentence:
  what a safety or tips section keeps (it drops "Massage is safe for most people.").
"""

from __future__ import annotations

import re

from voiceguide.importer import boilerplate

_ABBREVIATIONS = {"e.g", "i.e", "etc", "dr", "mr", "mrs", "ms", "st", "approx", "min", "sec", "vs", "no", "fig", "ca"}
_SPLIT = re.compile(r"(?<=[.!?])[\"'\u201d\u2019)]*\s+(?=[\"'\u201c\u2018(]*[A-Z0-9])")
_OPENERS = re.compile(r"^(?:but|and|so|also|plus|please|or)\b[,]?\s+", re.I)
_LABEL = re.compile(
    r"^(?:pro[ -]?tip|top tip|quick tip|tip|hint|note|remember|important|warnings?|cautions?|"
    r"safety|caution)\s*(?:\d+\s*)?[:\u2013\u2014-]\s*",
    re.I,
)
_TIP_LABEL = re.compile(r"^(?:pro[ -]?tip|top tip|quick tip|tip|hint)\s*(?:\d+\s*)?[:\u2013\u2014-]", re.I)
_ABOUT_PAGE = re.compile(r"\s*\((?:see|pictured|shown|photo|image|video|click|below|above)[^)]*\)", re.I)

# A subject, then a verb: a description. "This warms the muscles." "Friction helps reach deeper layers."
_SUBJECT_START = re.compile(
    r"^(this|that|these|those|it|its|it's|they|their|there|he|she|we|our|your|my|the|a|an|most|many|some|"
    r"each|every|both|such|you|people|someone|everyone|nothing|all|one|any)\b",
    re.I,
)
# Third-person verbs only: a bare "go" or "take" after a comma is a second instruction
# ("Start light, go deeper slowly."), never a subject's verb.
_VERB_AFTER_SUBJECT = re.compile(
    r"^([\w'\u2019-]+[\s,]+){1,3}?(is|are|was|were|has|have|had|can|could|will|would|may|might|does|helps|means|"
    r"works|boosts|loosens|warms|prepares|reaches|improves|reduces|relieves|holds|needs|feels|makes|gives|lets|"
    r"allows|keeps|offers|targets|eases|uses|stimulates|increases|releases|breaks|wakes|calms|relaxes|supports|"
    r"soothes|becomes|takes|comes|goes|tends)\b",
    re.I,
)

_CAUTION = re.compile(
    r"^(avoid|never|don't|do not|don\u2019t|stop|always stop|be careful|take care|watch out|do n't|skip)\b"
    r"|\bstop (if|when|at once|immediately|right away)\b",
    re.I,
)
# Cautions about the body (where not to press, when to stop) are safety rules for the whole
# session; "Don't rush" and "don't overdo it" are advice about the step and stay there.
_SAFETY_CAUTION = re.compile(
    r"^(avoid|never|stop|always stop)\b|\bstop (if|when|at once|immediately|right away)\b"
    r"|^(don't|do not|don\u2019t)\s+(\w+\s+){0,2}?(press|push|apply|massage|rub|dig|work|pull|twist|force|bounce|"
    r"lock|stretch|touch|knead|tap|use (oil|heat|ice|lotion))\b",
    re.I,
)
_RULE_WORDS = re.compile(
    r"^if\b|\b(should|must|never|always|only|make sure|be sure)\b"
    r"|\bnot\s+(recommended|advised|suitable|safe)\b|\b(unsafe|dangerous)\b",
    re.I,
)


def split(text: str) -> list[str]:
    """A paragraph's sentences, with "e.g." and "approx." kept inside theirs."""
    pieces = _SPLIT.split(text.strip())
    out: list[str] = []
    for piece in pieces:
        if out:
            last_word = out[-1].rsplit(None, 1)[-1].rstrip(".").lower() if out[-1].split() else ""
            if last_word in _ABBREVIATIONS:
                out[-1] = f"{out[-1]} {piece}"
                continue
        out.append(piece)
    return [s.strip() for s in out if s.strip()]


def clean(sentence: str) -> str | None:
    """A sentence ready to speak, or None when nothing speakable is left."""
    s = " ".join(sentence.split())
    s = _ABOUT_PAGE.sub("", s)
    for _ in range(2):
        s = _LABEL.sub("", s)
        s = _OPENERS.sub("", s)
    s = s.strip(" -\u2013\u2014*\u2022")
    if not re.search(r"[A-Za-z]", s):
        return None
    s = s[0].upper() + s[1:]
    if not s.endswith((".", "!", "?", '"', "\u201d")):
        s = s.rstrip(":;,") + "."
    return s


def is_tip_label(sentence: str) -> bool:
    """'Tip: ask how it feels.', 'Pro tip - warm the oil first.'"""
    return bool(_TIP_LABEL.match(sentence.strip()))


def is_description(sentence: str) -> bool:
    s = _OPENERS.sub("", sentence.strip())
    return bool(_SUBJECT_START.match(s) or _VERB_AFTER_SUBJECT.match(s))


def is_instruction(sentence: str) -> bool:
    return not is_description(sentence) and not sentence.rstrip().endswith("?")


def is_caution(sentence: str) -> bool:
    return bool(_CAUTION.search(_OPENERS.sub("", sentence.strip())))


def is_safety_caution(sentence: str) -> bool:
    return bool(_SAFETY_CAUTION.search(_OPENERS.sub("", sentence.strip())))


def is_rule(sentence: str) -> bool:
    s = _OPENERS.sub("", sentence.strip())
    return is_instruction(s) or is_caution(s) or bool(_RULE_WORDS.search(s))


def speakable(text: str) -> list[str]:
    """A paragraph's sentences, cleaned, without the ones that sell or talk about the page."""
    out = []
    for s in split(text):
        if boilerplate.is_promo(s) or boilerplate.is_meta(s):
            continue
        c = clean(s)
        if c:
            out.append(c)
    return out


# --- lists -> sentences ------------------------------------------------------------------------------------

_DEMONSTRATIVE_LEAD = re.compile(
    r"^(.*?)\s+(?:these|the following|any of these|any of the following)"
    r"(?:\s+(?:areas|places|spots|parts|things|conditions|situations|cases|points|signs))?\s*:$",
    re.I,
)


def is_fragment(item: str) -> bool:
    """'Open wounds', 'Rashes or skin infections': a list entry, not a sentence of its own."""
    return len(item.split()) <= 8 and not item.rstrip().endswith((".", "!", "?"))


def join_list(lead: str | None, items: list[str]) -> str:
    """'Avoid these areas:' + ['Open wounds', 'Recent injuries'] -> 'Avoid open wounds, and recent injuries.'

    Without a demonstrative ("these", "the following") the lead stays as written before a colon:
    'Do not massage if the person has: a fever, or a cold.'
    """
    entries = [_lower_first(i.strip().rstrip(".;,")) for i in items if i.strip()]
    if len(entries) > 1:
        body = ", ".join(entries[:-1]) + (", and " if len(entries) > 2 else " and ") + entries[-1]
    else:
        body = entries[0] if entries else ""
    if not lead:
        return clean(body) or ""
    lead = lead.strip()
    m = _DEMONSTRATIVE_LEAD.match(lead)
    if m and m.group(1):
        return clean(f"{m.group(1)} {body}") or ""
    return clean(f"{lead.rstrip(':')}: {body}") or ""


def _lower_first(text: str) -> str:
    first = text.split(" ", 1)[0]
    if len(first) > 1 and first.isupper():  # "TMJ", "ICE"
        return text
    return text[:1].lower() + text[1:]
