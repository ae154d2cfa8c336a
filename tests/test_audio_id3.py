"""The ID3v2.3 tag with chapters, read back by ffprobe."""

import subprocess

import pytest
from test_audio_support import ffprobe, needs_ffmpeg

from voiceguide.audio.encode.chapters import Chapter
from voiceguide.audio.encode.id3 import id3v2_tag


def tagged_mp3(tmp_path, tags, chapters):
    audio = tmp_path / "a.mp3"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=d=3",
            "-c:a",
            "libmp3lame",
            "-id3v2_version",
            "0",
            str(audio),
        ],
        check=True,
    )
    out = tmp_path / "tagged.mp3"
    out.write_bytes(id3v2_tag(tags, chapters) + audio.read_bytes())
    return out


@needs_ffmpeg
def test_ffprobe_reads_tags_and_chapters_in_order(tmp_path):
    titles = ["Introduction", "Pétrissage = kneading; #2", "Friction \\ slow", "日本語", "Closing"]
    chapters = [Chapter(i * 600, (i + 1) * 600, t) for i, t in enumerate(titles)]
    tags = {
        "title": "Back massage",
        "album": "back-massage",
        "artist": "voiceguide",
        "comment": "pacing: length=20m; pace=1.0",
        "custom": "x=y",
    }
    info = ffprobe(tagged_mp3(tmp_path, tags, chapters))
    got = info["format"]["tags"]
    for k in ("title", "album", "artist", "comment"):
        assert got[k] == tags[k]
    assert got.get("custom") == "x=y"
    ch = info["chapters"]
    assert [c["tags"]["title"] for c in ch] == titles
    assert [round(float(c["start_time"]) * 1000) for c in ch] == [c.start_ms for c in chapters]
    assert [round(float(c["end_time"]) * 1000) for c in ch] == [c.end_ms for c in chapters]
    assert float(info["format"]["duration"]) == pytest.approx(3.0, abs=0.1)  # the audio is intact


def test_the_tag_size_is_syncsafe_and_exact():
    tag = id3v2_tag({"title": "x" * 300}, [])
    assert tag[:5] == b"ID3\x03\x00"
    size = 0
    for b in tag[6:10]:
        assert b < 0x80
        size = size << 7 | b
    assert size == len(tag) - 10
