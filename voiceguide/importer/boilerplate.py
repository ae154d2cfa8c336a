"""What a saved page carries that is not instruction: navigation, bylines, share and comment prompts.

Each pattern is matched against a whole block (a line of a saved page, a paragraph, a list item),
lower-cased and with its whitespace collapsed. A block that matches is left out of the draft.
Sentences inside a paragraph are matched by ``PROMO``, so "Book a session today!" at the end of a
step is dropped and the step kept. To teach the importer a new site's furniture, add a pattern.
"""

from __future__ import annotations

import re

_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"

#: Whole blocks that are page furniture.
BLOCKS = tuple(
    re.compile(p)
    for p in (
        r"^(top|bottom) of (the )?page$",
        r"^(skip|jump) to (main )?(content|navigation|recipe|instructions)\b",
        r"^(home|menu|search|log ?in|sign ?in|sign ?up|register|subscribe|cart|shop|about( us)?|contact( us)?|blog)"
        r"(\s*[|/>»·•-]\s*\w+(\s\w+)?)*$",  # a navigation bar flattened to a line
        # bylines: "Writer: Monica Pineider", "By Jane Doe · March 3, 2024"; a sentence ("By the end...") ends in a stop
        r"^(by|writer|author|written by|posted by|posted on|published( on)?|updated( on)?|last updated|reviewed by|"
        r"medically reviewed by|fact checked by|photos? by|image credits?|credits?)\b[^.!?]*$",
        # "Jul 14", "March 3, 2024", "14 July 2024", and what a byline puts after them ("\u00b7 4 min read")
        r"^" + _MONTH + r"\s+\d{1,2}(st|nd|rd|th)?(,?\s+\d{4})?(\s*[\u00b7|\u2022-]\s*[^.!?]*)?$",
        r"^\d{1,2}(st|nd|rd|th)?\s+" + _MONTH + r"(\s+\d{4})?(\s*[\u00b7|\u2022-]\s*[^.!?]*)?$",
        r"^\d{4}-\d\d-\d\d$|^\d{1,2}/\d{1,2}/\d{2,4}$",
        r"^\d+\s*(-\s*)?min(ute)?s?\.?\s+read$|^reading time\b",  # "5 min read"
        r"^share (this|on|via|it)\b|^share:?$",
        r"^(leave|post|add|write) a (comment|reply|review)\b|^\d+\s+(comments?|replies|responses)$|^comments?$",
        r"^(recent|related|popular|latest|more) (posts|articles|stories)\b|^you (may|might) also (like|enjoy)\b",
        r"^(read|see) (more|also|next)\b|^(click|tap) here\b|^continue reading\b|^(related|see also|more)\s*:",
        r"^(previous|next) (post|article|page)\b",
        r"^(follow|like) us\b|^(subscribe|sign up) (to|for)\b|newsletter",
        r"^(tags?|categor(y|ies)|filed under|posted in)\s*:",
        r"©|\bcopyright\b|all rights reserved",
        r"^advertisement$|^sponsored\b|^affiliate\b|^this post (may )?contains? affiliate",
        r"^(table of contents|contents|in this (article|post|guide))$",
        r"your email address will not be published|required fields are marked|have any thoughts on this",
        r"^(was this (article|page) helpful|rate this)\b",
    )
)

#: Sentences that sell rather than instruct, dropped wherever they stand.
PROMO = tuple(
    re.compile(p)
    for p in (
        r"\b(book|buy|order|shop|schedule) (now|today|online|a (session|massage|class|appointment)|yours)\b",
        r"\b\d+\s*% off\b|\bdiscount\b|\bcoupon\b|\bpromo code\b|\bfree shipping\b",
        r"\b(visit|call) (us|our)\b|\bour (shop|store|clinic|spa|studio|therapists)\b",
        r"\b(sign up|subscribe)\b",
    )
)

#: Sentences that talk about the article, not the work ("This guide shows you how.").
META = tuple(
    re.compile(p)
    for p in (
        r"^(here's|here is|here are|below (is|are)|let's|let us)\b",
        r"^(in this|this) (guide|article|post|blog|tutorial|video)\b",
        r"^(read on|keep reading|scroll down|as (mentioned|noted|we saw)|see (below|above))\b",
        r"^(want|looking|ready) to\b.*\?$",
        r"^(learn|discover|find out|explore)\b",
    )
)


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("\u2019", "'").split())


def is_furniture(text: str) -> bool:
    """A whole block that is page furniture (navigation, byline, date, share/comment prompt...)."""
    t = _norm(text)
    return any(p.search(t) for p in BLOCKS)


def is_promo(sentence: str) -> bool:
    t = _norm(sentence)
    return any(p.search(t) for p in PROMO)


def is_meta(sentence: str) -> bool:
    t = _norm(sentence)
    return any(p.search(t) for p in META)
