"""Chapters of a session (intro, one per step, closing) and the files that carry them.

In the MP3 they become ID3 CTOC + CHAP frames (id3.py), written in time order. Sidecars serve
podcast apps: WebVTT chapters and the Podcasting 2.0 JSON chapters format.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from voiceguide.timeline import Timeline

INTRO_TITLE = "Introduction"
CLOSING_TITLE = "Closing"

#: The chapter files an export can write beside FILE, by the name ``--chapters`` takes, and the
#: ending each adds to FILE's name: the one list of chapter formats (the flag, the export's check
#: and its removal of stale sidecars all read it).
SIDECARS = {"vtt": ".chapters.vtt", "json": ".chapters.json"}


@dataclass(frozen=True)
class Chapter:
    start_ms: int
    end_ms: int
    title: str


def session_chapters(timeline: Timeline) -> list[Chapter]:
    """Intro (if the first step does not start at once), each step, closing (if any), in time order.

    Chapters are contiguous: each ends where the next begins, the last at the session's end, so
    a player's chapter list covers every moment.
    """
    marks: list[tuple[int, str]] = []
    steps = sorted(timeline.steps, key=lambda s: s.start_ms)
    if not steps or steps[0].start_ms > 0:
        marks.append((0, INTRO_TITLE))
    marks += [(s.start_ms, s.title) for s in steps]
    if steps and steps[-1].end_ms < timeline.total_ms:
        marks.append((steps[-1].end_ms, CLOSING_TITLE))
    chapters = []
    for i, (start, title) in enumerate(marks):
        end = marks[i + 1][0] if i + 1 < len(marks) else timeline.total_ms
        if end > start:
            chapters.append(Chapter(start, end, title))
    return chapters


def _vtt_time(ms: int) -> str:
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def webvtt(chapters: Sequence[Chapter]) -> str:
    parts = ["WEBVTT", ""]
    for i, c in enumerate(chapters, start=1):
        # a cue's text may not hold a blank line or "-->"
        title = " ".join(c.title.split()).replace("-->", "->")
        parts += [f"chapter-{i}", f"{_vtt_time(c.start_ms)} --> {_vtt_time(c.end_ms)}", title, ""]
    return "\n".join(parts)


def podcast_json(chapters: Sequence[Chapter], *, title: str | None = None, file_name: str | None = None) -> str:
    doc: dict = {"version": "1.2.0"}
    if title:
        doc["title"] = title
    if file_name:
        doc["fileName"] = file_name
    doc["chapters"] = [{"startTime": c.start_ms / 1000, "endTime": c.end_ms / 1000, "title": c.title} for c in chapters]
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def chapter_formats(text: str) -> list[str]:
    """The formats ``--chapters vtt,json`` names, in its order; ValueError names one not known."""
    formats = [f.strip().lower() for f in text.split(",") if f.strip()]
    bad = [f for f in formats if f not in SIDECARS]
    if bad:
        # "or both": there are two formats; a third would want this message rewritten
        raise ValueError(f"unknown chapter format {bad[0]!r}; use {', '.join(SIDECARS)} or both")
    return formats


def sidecar_text(kind: str, chapters: Sequence[Chapter], *, title: str, file_name: str) -> str:
    """The sidecar file of ``kind`` (a key of SIDECARS) for ``chapters``."""
    if kind == "vtt":
        return webvtt(chapters)
    return podcast_json(chapters, title=title, file_name=file_name)


def is_sidecar_text(kind: str, text: str) -> bool:
    """Whether ``text`` reads as a sidecar of ``kind`` that voiceguide writes (an export removes
    only those when they no longer describe its file)."""
    if kind == "vtt":
        return text.startswith("WEBVTT\n") and "\nchapter-1\n" in text
    try:
        doc = json.loads(text)
    except ValueError:
        return False
    return isinstance(doc, dict) and "version" in doc and isinstance(doc.get("chapters"), list)
