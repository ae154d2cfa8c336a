"""The session's picture: an SVG drawn from the timeline and the mixer's own music envelope."""

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from voiceguide.compiler import Pacing, compile_timeline
from voiceguide.errors import OutputError
from voiceguide.picture import LEFT, RIGHT, WIDTH, music_levels, session_svg, write_svg
from voiceguide.routine import load_routine
from voiceguide.timeline import CueKind

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def timeline():
    return compile_timeline(load_routine("back-massage"), Pacing(length_ms=15 * 60_000))


def x_of(ms, total):
    return LEFT + (WIDTH - LEFT - RIGHT) * ms / total


def test_every_step_is_drawn_in_order_at_its_times(timeline):
    root = ET.fromstring(session_svg(timeline))
    groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == "step"]
    assert [int(g.get("data-step")) for g in groups] == [s.index for s in timeline.steps]
    for g, s in zip(groups, timeline.steps):
        assert (int(g.get("data-start-ms")), int(g.get("data-end-ms"))) == (s.start_ms, s.end_ms)
        rect = g.find(f"{SVG}rect")
        x0, w = float(rect.get("x")), float(rect.get("width"))
        assert x0 == pytest.approx(x_of(s.start_ms, timeline.total_ms), abs=0.01)
        assert x0 + w == pytest.approx(x_of(s.end_ms, timeline.total_ms), abs=0.02)
        assert s.title in g.find(f"{SVG}title").text  # the full title on hover
        texts = [t.text for t in g.iter(f"{SVG}text")]
        assert any(t.startswith(f"{s.index}.") for t in texts)
        assert any("-" in t and ":" in t for t in texts)  # its times
    xs = [float(g.find(f"{SVG}rect").get("x")) for g in groups]
    assert xs == sorted(xs)


def test_every_cue_and_chime_is_a_mark_with_its_words_on_hover(timeline):
    root = ET.fromstring(session_svg(timeline))
    cues = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "cue"]
    spoken = [c for c in timeline.cues if c.kind is not CueKind.TRANSITION]
    assert len(cues) == len(spoken)
    for r, c in zip(cues, spoken):
        assert r.get("data-kind") == c.kind.value and int(r.get("data-start-ms")) == c.start_ms
        assert c.text in r.find(f"{SVG}title").text
    colours = {r.get("data-kind"): r.get("fill") for r in cues}
    assert len(set(colours.values())) >= len(colours) - 1  # halfway and switch share one
    chimes = [g for g in root.iter(f"{SVG}g") if g.get("class") == "chime"]
    assert [int(g.get("data-start-ms")) for g in chimes] == [
        c.start_ms for c in timeline.cues if c.kind is CueKind.TRANSITION
    ]


def test_the_music_line_dips_under_speech_by_the_mixers_ducking(timeline):
    levels = dict(music_levels(timeline, points=4000))
    long_cue = max((c for c in timeline.cues if c.spoken), key=lambda c: c.duration_ms)
    inside = [db for t, db in levels.items() if long_cue.start_ms + 300 < t < long_cue.end_ms - 300]
    quiet_gaps = [db for t, db in levels.items() if 0.2 * timeline.total_ms < t < 0.8 * timeline.total_ms]
    assert inside and max(inside) == pytest.approx(-20 - 13, abs=0.01)  # DEFAULT_MUSIC_VOLUME_DB - duck_db
    assert max(quiet_gaps) == pytest.approx(-20, abs=0.01)
    root = ET.fromstring(session_svg(timeline))
    line = next(p for p in root.iter(f"{SVG}polyline") if p.get("class") == "music")
    ys = {float(p.split(",")[1]) for p in line.get("points").split()}
    assert len(ys) > 2  # it moves


def test_write_svg_replaces_whole_or_leaves_the_old_file(tmp_path, timeline, monkeypatch):
    out = tmp_path / "session.svg"
    out.write_text("old")
    write_svg(timeline, out)
    ET.parse(out)
    assert [p.name for p in tmp_path.iterdir()] == ["session.svg"]

    def broken(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("voiceguide.picture.os.replace", broken)
    with pytest.raises(Exception, match="disk is full"):
        write_svg(timeline, out)
    ET.parse(out)  # the last good picture stays
    assert [p.name for p in tmp_path.iterdir()] == ["session.svg"]  # no temp left behind
    with pytest.raises(OutputError, match="is a folder"):
        write_svg(timeline, tmp_path)


def test_play_never_imports_the_picture_and_nothing_imports_a_plotting_library():
    code = (
        "import sys, voiceguide.cli, voiceguide.session, voiceguide.player, voiceguide.audio.mix.mixer; "
        "bad = [m for m in sys.modules if m == 'voiceguide.picture' or m.startswith('matplotlib')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    import voiceguide.picture as picture

    source = Path(picture.__file__).read_text(encoding="utf-8")
    assert "matplotlib" not in source.split('"""', 2)[2]


def test_show_svg_writes_the_picture(tmp_path, capsys, monkeypatch):
    from voiceguide.cli import main

    monkeypatch.setenv("VOICEGUIDE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("VOICEGUIDE_CONFIG", str(tmp_path / "empty.toml"))
    (tmp_path / "empty.toml").write_text("")
    out = tmp_path / "s.svg"
    try:
        main(["show", "--steps", "1-2", "--svg", str(out)])
    except SystemExit as e:
        assert e.code == 0
    root = ET.parse(out).getroot()
    assert len([g for g in root.iter(f"{SVG}g") if g.get("class") == "step"]) == 2
    assert "drew" in capsys.readouterr().err
