"""`voiceguide import` as a user meets it: the draft validates, shows and exports; bad input is one line, exit 2."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cli_support import run

ARTICLES = Path(__file__).resolve().parent / "articles"
SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "back-massage-techniques.txt"
needs_seed = pytest.mark.skipif(not SEED.exists(), reason="the seed guide is not beside the checkout")


pytestmark = pytest.mark.usefixtures("isolated_settings")


def one_line_error(err: str, code: int, want: int = 2) -> str:
    assert code == want, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err.strip()


def test_prints_the_draft_without_output_file(capsys):
    code, out, err = run(capsys, "import", ARTICLES / "foot-massage.txt")
    assert code == 0, err
    routine = yaml.safe_load(out)
    assert [s["title"] for s in routine["steps"]][:2] == ["Warm the foot", "Thumb walk the sole"]
    assert out.startswith("# Drafted by `voiceguide import` from foot-massage.txt")


def test_writes_a_draft_that_validates_and_shows(capsys, tmp_path):
    out = tmp_path / "hand.yaml"
    code, _, err = run(capsys, "import", ARTICLES / "hand-massage.html", "-o", out)
    assert code == 0, err
    assert f"wrote {out} (5 steps" in err
    code, stdout, err = run(capsys, "validate", out)
    assert code == 0 and "ok (5 steps)" in stdout, err
    code, stdout, err = run(capsys, "show", out, "--json")
    assert code == 0, err
    tl = json.loads(stdout)
    assert [s["title"] for s in tl["steps"]] == [
        "Warm the hand",
        "Thumb circles on the palm",
        "Fingers",
        "The back of the hand",
        "The other hand",
    ]
    kinds = {c["kind"] for c in tl["cues"]}
    assert {"setup", "safety", "instruction", "tip", "closing"} <= kinds


def test_an_existing_file_needs_force(capsys, tmp_path):
    out = tmp_path / "mine.yaml"
    out.write_text("title: my own routine\n")
    code, _, err = run(capsys, "import", ARTICLES / "neck-stretches.md", "-o", out)
    assert "already exists; use --force to replace it" in one_line_error(err, code)
    assert out.read_text() == "title: my own routine\n"
    code, _, err = run(capsys, "import", ARTICLES / "neck-stretches.md", "-o", out, "--force")
    assert code == 0, err
    assert yaml.safe_load(out.read_text())["title"] == "Five Neck Stretches for Desk Workers"


@pytest.mark.parametrize(
    "make, needle",
    [
        (lambda d: d / "missing.txt", "no such file"),
        (lambda d: d, "is a folder"),
        (lambda d: _write(d / "photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"), "not a text file"),
        (lambda d: _write(d / "latin1.txt", b"Massage caf\xe9\n"), "not UTF-8"),
        (lambda d: ARTICLES / "not-a-howto.txt", "no steps found: this does not look like a how-to"),
    ],
)
def test_bad_articles_are_one_line_exit_2_and_write_nothing(capsys, tmp_path, make, needle):
    article = make(tmp_path)
    out = tmp_path / "out" / "draft.yaml"
    out.parent.mkdir()
    code, stdout, err = run(capsys, "import", article, "-o", out)
    line = one_line_error(err, code)
    assert needle in line and str(article) in line
    assert not stdout and list(out.parent.iterdir()) == []


def test_bad_output_and_length_flags(capsys, tmp_path):
    article = ARTICLES / "morning-stretch.txt"
    code, _, err = run(capsys, "import", article, "-o", tmp_path / "no" / "such" / "x.yaml")
    assert "no such folder" in one_line_error(err, code)
    code, _, err = run(capsys, "import", article, "--length", "soon")
    assert "--length" in err and "not a duration" in err and code == 2
    code, _, err = run(capsys, "import", article, "--length", "1m")
    assert "too short for 5 steps" in one_line_error(err, code)
    code, _, err = run(capsys, "import", article, "-o", article, "--force")
    assert "the article itself" in one_line_error(err, code)
    assert article.read_text().startswith("Morning Stretch Routine")


def test_without_trafilatura_html_is_an_environment_fault(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "trafilatura", None)
    code, _, err = run(capsys, "import", ARTICLES / "hand-massage.html")
    assert "pip install 'voiceguide[html]'" in one_line_error(err, code, want=1)


def test_length_chooses_ranges_the_session_fits(capsys, tmp_path):
    out = tmp_path / "morning.yaml"
    code, _, err = run(capsys, "import", ARTICLES / "morning-stretch.txt", "--length", "15m", "-o", out)
    assert code == 0, err
    assert "# Ranges chosen so that `--length 15m` fits." in out.read_text()
    code, stdout, err = run(capsys, "show", out, "--length", "15m", "--json")
    assert code == 0, err
    assert abs(json.loads(stdout)["total_s"] - 900) <= 1


@needs_seed
@pytest.mark.skipif(not shutil.which("espeak-ng") or not shutil.which("ffprobe"), reason="needs espeak-ng and ffmpeg")
def test_seed_draft_exports_with_a_chapter_per_technique(capsys, tmp_path):
    draft = tmp_path / "back.yaml"
    code, _, err = run(capsys, "import", SEED, "-o", draft)
    assert code == 0, err
    assert "wrote" in err and "(7 steps; 6 without a time in the article, marked" in err
    mp3 = tmp_path / "back.mp3"
    code, _, err = run(capsys, "export", draft, "-o", mp3, "--engine", "espeak-ng", "--pace", "0.3")
    assert code == 0, err
    probe = json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-show_chapters", "-show_format", "-of", "json", str(mp3)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    titles = [c["tags"]["title"] for c in probe["chapters"]]
    assert titles[1:-1] == [
        "Warm-up strokes",
        "Effleurage",
        "Petrissage",
        "Circular motions",
        "Tapotement",
        "Friction",
        "Lower back massage",
    ]
    assert float(probe["format"]["duration"]) > 60


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
