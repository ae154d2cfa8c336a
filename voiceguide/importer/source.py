"""An article file -> its text and format, or one clear error about why it cannot be read.

The importer is fed whatever a person saved: a page from a browser, a Markdown note, a text file,
and now and then the wrong file (a PDF, a folder, a 40 MB page with inline images). Each gets a
one-line reason naming the file, before any parsing starts.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path

from voiceguide.errors import ArticleError

#: Larger files are refused. A saved article page is mostly scripts and styles; 5 MB leaves room
#: for inline SVG and data. Measured: the hand-massage test page padded to 4.97 MB (a 100,000-path
#: SVG, a 200,000-number script, 300 sidebar paragraphs) imports in 1.6 s at 139 MB peak.
MAX_ARTICLE_BYTES = 5_000_000

_HTML_SUFFIXES = {".html", ".htm", ".xhtml", ".shtml"}
_MARKDOWN_SUFFIXES = {".md", ".markdown", ".mdown", ".mkd"}
_HTML_START = re.compile(r"\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(!doctype\s+html|html)\b", re.I | re.S)
_HTML_TAGS = re.compile(r"<(html|head|body|div|p|article|main|h[1-6]|ul|ol|li)\b[^>]*>", re.I)
_MARKDOWN_HEADING = re.compile(r"^#{1,6}\s+\S", re.M)
_DECLARED_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)


@dataclass(frozen=True)
class ArticleText:
    path: str
    text: str
    format: str  # "text", "markdown" or "html"


def read_article(path: str | Path) -> ArticleText:
    """Read and decode an article file, and tell its format (by suffix, else by its content)."""
    path = Path(path)
    data = _read_bytes(path)
    if not data.strip():
        raise ArticleError("the file is empty", path=path)
    if b"\x00" in data[:8192]:
        raise ArticleError("not a text file (it looks binary); give a .txt, .md or .html article", path=path)
    text = _decode(data, path)
    return ArticleText(str(path), text.replace("\r\n", "\n").replace("\r", "\n"), _format_of(path, text))


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise ArticleError("no such file", path=path)
    if path.is_dir():
        raise ArticleError("is a folder, not an article file", path=path)
    if not path.is_file():
        raise ArticleError("not a regular file", path=path)
    try:
        with path.open("rb") as f:
            data = f.read(MAX_ARTICLE_BYTES + 1)  # never more than the limit in memory
    except OSError as e:
        raise ArticleError(f"cannot read it: {e.strerror or e}", path=path) from None
    if len(data) > MAX_ARTICLE_BYTES:
        raise ArticleError(f"the file is over {MAX_ARTICLE_BYTES // 1_000_000} MB; is it really an article?", path=path)
    return data


def _decode(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        failure = e
    # A saved page may say its own encoding (older sites still serve windows-1252).
    declared = _DECLARED_CHARSET.search(data[:4096])
    if declared:
        name = declared.group(1).decode("ascii", "replace")
        try:
            codecs.lookup(name)
            return data.decode(name)
        except (LookupError, UnicodeDecodeError):
            pass
    line = data[: failure.start].count(b"\n") + 1
    raise ArticleError("not UTF-8 text (save the article as UTF-8)", path=path, line=line)


def _format_of(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix in _HTML_SUFFIXES:
        return "html"
    if suffix in _MARKDOWN_SUFFIXES:
        return "markdown"
    head = text[:8192]
    if _HTML_START.match(head) or len(_HTML_TAGS.findall(head)) >= 5:
        return "html"
    if suffix not in (".txt", ".text") and _MARKDOWN_HEADING.search(text):
        return "markdown"
    return "text"
