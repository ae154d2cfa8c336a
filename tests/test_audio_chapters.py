"""Chapters from a timeline, and the two sidecar formats."""

import json

import pytest

from voiceguide.audio.encode.chapters import (
    SIDECARS,
    Chapter,
    chapter_formats,
    is_sidecar_text,
    podcast_json,
    session_chapters,
    sidecar_text,
    webvtt,
)
from voiceguide.timeline import Step, Timeline


def tl(steps, total=100_000):
    return Timeline(
        "Back massage", "back", total, tuple(Step(i + 1, i + 1, t, a, b) for i, (t, a, b) in enumerate(steps)), ()
    )


def test_intro_steps_closing_contiguous_in_order():
    chapters = session_chapters(tl([("Warm-up", 10_000, 40_000), ("Effleurage", 40_000, 80_000)]))
    assert [c.title for c in chapters] == ["Introduction", "Warm-up", "Effleurage", "Closing"]
    assert [(c.start_ms, c.end_ms) for c in chapters] == [
        (0, 10_000),
        (10_000, 40_000),
        (40_000, 80_000),
        (80_000, 100_000),
    ]


def test_no_intro_or_closing_when_the_steps_fill_the_session():
    chapters = session_chapters(tl([("A", 0, 50_000), ("B", 50_000, 100_000)]))
    assert [c.title for c in chapters] == ["A", "B"]


def test_a_gap_between_steps_belongs_to_the_earlier_chapter():
    chapters = session_chapters(tl([("A", 0, 40_000), ("B", 45_000, 100_000)]))
    assert chapters[0] == Chapter(0, 45_000, "A")


def test_webvtt():
    text = webvtt([Chapter(0, 61_500, "Intro"), Chapter(61_500, 3_723_004, "Two --> three\nlines")])
    lines = text.splitlines()
    assert lines[0] == "WEBVTT" and lines[1] == ""
    assert "00:00:00.000 --> 00:01:01.500" in lines
    assert "00:01:01.500 --> 01:02:03.004" in lines
    assert "Two -> three lines" in lines  # one line, no arrow in a cue's text


def test_podcast_json_chapters():
    doc = json.loads(
        podcast_json([Chapter(0, 1500, "Intro"), Chapter(1500, 9000, "Étape")], title="Back massage", file_name="s.mp3")
    )
    assert doc["version"] == "1.2.0"
    assert doc["title"] == "Back massage" and doc["fileName"] == "s.mp3"
    assert doc["chapters"] == [
        {"startTime": 0.0, "endTime": 1.5, "title": "Intro"},
        {"startTime": 1.5, "endTime": 9.0, "title": "Étape"},
    ]


def test_the_chapters_flag_names_formats_from_the_one_list():
    assert chapter_formats("") == [] and chapter_formats(" VTT , json,") == ["vtt", "json"]
    with pytest.raises(ValueError, match=r"^unknown chapter format 'srt'; use vtt, json or both$"):
        chapter_formats("vtt,srt")
    assert list(SIDECARS) == ["vtt", "json"]


def test_each_sidecar_reads_as_ours_and_only_as_its_own_kind():
    chapters = [Chapter(0, 1500, "Intro"), Chapter(1500, 9000, "Step")]
    for kind in SIDECARS:
        text = sidecar_text(kind, chapters, title="Back massage", file_name="s.mp3")
        assert is_sidecar_text(kind, text)
        assert not is_sidecar_text("json" if kind == "vtt" else "vtt", text)
    assert not is_sidecar_text("vtt", "WEBVTT\n\nmy own notes\n") and not is_sidecar_text("json", "[1, 2]")
