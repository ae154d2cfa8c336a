"""``voiceguide import``: a how-to article (plain text, Markdown or a saved web page) -> a routine draft.

Offline and deterministic, with no language model: rules a reader of how-to articles would
recognise, each in the module that owns it, so a new article shape is a small addition there.

```
file          --read------->  ArticleText   source.py      (limits, encoding, format)
ArticleText   --parse------>  Article       plaintext.py   (text, Markdown), webpage.py (HTML, JSON-LD)
Article       --find steps->  steps         steps.py       (the shapes steps come in)
Article       --build------>  Draft         draft.py       (sections.py kinds, sentences.py, timing.py)
Draft         --settle----->  Draft         fitting.py     (default and --length ranges)
Draft         --render----->  YAML          writer.py      (comments naming the source of each line)
```

Every spoken line is a sentence of the article (cleaned, never written anew), and the YAML says
beside it where it came from. The YAML is loaded back and compiled before it is returned, so a
draft that does not validate is never handed out.
"""

from __future__ import annotations

from pathlib import Path

from voiceguide.importer.draft import Draft, DraftStep, Line
from voiceguide.importer.writer import write_draft

__all__ = ["Draft", "DraftStep", "Line", "draft_text", "import_article", "write_draft"]


def read(path: str | Path):
    """The article in a file, parsed into blocks (see ``blocks.Article``)."""
    from voiceguide.importer.source import read_article

    text = read_article(path)
    if text.format == "html":
        from voiceguide.importer.webpage import parse_html

        return parse_html(text.text, source=text.path)
    from voiceguide.importer.plaintext import parse_text

    return parse_text(text.text, source=text.path, markdown=text.format == "markdown")


def import_article(path: str | Path, *, length_ms: int | None = None) -> Draft:
    """Read a how-to article and draft a routine from it.

    Raises ``ArticleError`` for a file that cannot be read or has no steps, ``PacingError`` when
    ``length_ms`` cannot be reached, ``EnvironmentFault`` when HTML support is not installed.
    """
    from voiceguide.importer.draft import build_draft
    from voiceguide.importer.fitting import settle

    article = read(path)
    return settle(build_draft(article), length_ms=length_ms, total_ms=article.howto_total_ms)


def draft_text(draft: Draft) -> str:
    """The draft as routine YAML, checked by loading and compiling it as ``voiceguide validate`` does."""
    from voiceguide.compiler import compile_timeline
    from voiceguide.importer.writer import render_yaml
    from voiceguide.routine import parse_routine

    text = render_yaml(draft)
    compile_timeline(parse_routine(text, source=f"the draft of {draft.source}"))
    return text
