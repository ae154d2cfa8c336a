"""Reading article files (and refusing the wrong ones), and writing drafts whole or not at all."""

import os
import stat

import pytest

from voiceguide.errors import ArticleError, EnvironmentFault, OutputError
from voiceguide.importer import source, writer
from voiceguide.importer.source import read_article


def test_formats_by_suffix_and_by_content(tmp_path):
    cases = {
        "a.txt": "Just text.\n",
        "b.md": "Just text.\n",
        "c.html": "<p>x</p>",
        "d": "<!DOCTYPE html><html><body><p>x</p></body></html>",
        "e": "# Title\n\nText.\n",
        "f.txt": "# Not a heading in a .txt file\n",
        "g": "Plain words.\n",
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    got = {name: read_article(tmp_path / name).format for name in cases}
    assert got == {
        "a.txt": "text",
        "b.md": "markdown",
        "c.html": "html",
        "d": "html",
        "e": "markdown",
        "f.txt": "text",
        "g": "text",
    }


def test_bom_and_windows_line_ends(tmp_path):
    p = tmp_path / "a.txt"
    p.write_bytes(b"\xef\xbb\xbfTitle\r\n\r\nText.\r\n")
    assert read_article(p).text == "Title\n\nText.\n"


def test_a_page_that_declares_its_own_encoding(tmp_path):
    p = tmp_path / "old.html"
    p.write_bytes(
        '<html><head><meta charset="windows-1252"></head><body><p>Caf\u00e9 \u2013 relax</p></body></html>'.encode(
            "windows-1252"
        )
    )
    assert "Caf\u00e9 \u2013 relax" in read_article(p).text


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "is a folder"),
        (lambda p: p.write_bytes(b""), "the file is empty"),
        (lambda p: p.write_bytes(b"   \n\n"), "the file is empty"),
        (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "not a text file"),
        (lambda p: p.write_bytes(b"Line one\nLine two caf\xe9\n"), "not UTF-8"),
        (lambda p: os.mkfifo(p), "not a regular file"),
    ],
)
def test_bad_files_get_one_clear_reason(tmp_path, make, message):
    p = tmp_path / "article.txt"
    make(p)
    with pytest.raises(ArticleError, match=message) as e:
        read_article(p)
    assert str(e.value).startswith(str(p))
    if message == "not UTF-8":
        assert e.value.line == 2


def test_huge_files_are_refused_without_reading_them_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(source, "MAX_ARTICLE_BYTES", 1000)
    p = tmp_path / "big.html"
    p.write_bytes(b"<p>" + b"x" * 5000 + b"</p>")
    with pytest.raises(ArticleError, match="over 0 MB; is it really an article"):
        read_article(p)


def test_html_without_trafilatura_says_what_to_install(tmp_path, monkeypatch):
    import sys

    from voiceguide.importer.webpage import parse_html

    monkeypatch.setitem(sys.modules, "trafilatura", None)  # import fails as if not installed
    with pytest.raises(EnvironmentFault, match=r"voiceguide\[html\]") as e:
        parse_html("<html><body><p>x</p></body></html>", source="x.html")
    assert e.value.exit_code == 1


# --- writing ---------------------------------------------------------------------------------------------


def test_write_creates_an_ordinary_file_and_leaves_no_temporary(tmp_path):
    out = tmp_path / "draft.yaml"
    writer.write_draft(out, "title: x\n")
    assert out.read_text() == "title: x\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~_umask()
    assert [p.name for p in tmp_path.iterdir()] == ["draft.yaml"]


def test_an_existing_file_is_kept_unless_forced(tmp_path):
    out = tmp_path / "mine.yaml"
    out.write_text("my own routine\n")
    with pytest.raises(OutputError, match="already exists; use --force"):
        writer.write_draft(out, "title: new\n")
    assert out.read_text() == "my own routine\n"
    writer.write_draft(out, "title: new\n", force=True)
    assert out.read_text() == "title: new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.yaml"]


def test_a_file_that_appears_while_writing_is_not_overwritten(tmp_path, monkeypatch):
    out = tmp_path / "race.yaml"
    real_link = os.link

    def link_after_someone_else(src, dst):
        out.write_text("written by someone else\n")
        return real_link(src, dst)

    monkeypatch.setattr(os, "link", link_after_someone_else)
    with pytest.raises(OutputError, match="already exists"):
        writer.write_draft(out, "title: mine\n")
    assert out.read_text() == "written by someone else\n"
    assert [p.name for p in tmp_path.iterdir()] == ["race.yaml"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    out = tmp_path / "keep.yaml"
    out.write_text("old\n")

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(EnvironmentFault, match="No space left"):
        writer.write_draft(out, "title: new\n", force=True)
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.yaml"]


def test_ctrl_c_while_writing_leaves_nothing(tmp_path, monkeypatch):
    out = tmp_path / "new.yaml"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        writer.write_draft(out, "title: new\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "target, message",
    [
        (lambda d: d / "missing" / "x.yaml", "no such folder"),
        (lambda d: d, "is a folder"),
    ],
)
def test_bad_output_paths(tmp_path, target, message):
    with pytest.raises(OutputError, match=message):
        writer.write_draft(target(tmp_path), "x\n")


def test_the_article_itself_is_never_the_output(tmp_path):
    article = tmp_path / "a.txt"
    article.write_text("the article\n")
    with pytest.raises(OutputError, match="the article itself"):
        writer.write_draft(article, "x\n", force=True, article=article)
    assert article.read_text() == "the article\n"


def test_values_are_quoted_only_where_yaml_needs_it():
    import yaml

    for value in [
        "Plain words.",
        "Back Massage: A Guide",
        "Yes",
        "50% off # no",
        "- dash",
        "'quoted'",
        "a: b",
        "Don\u2019t press.",
        "on",
        "null",
        "1.5",
        "[x]",
        "@home",
        "What you need: a towel.",
    ]:
        text = writer._scalar(value)
        assert yaml.safe_load(f"k: {text}") == {"k": value}
    assert writer._scalar("Plain words.") == "Plain words."


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
