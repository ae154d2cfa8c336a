"""Draft -> routine YAML with a comment beside every line saying where it came from; and the file write.

The YAML is written line by line rather than dumped, because PyYAML cannot write comments, and a
comment beside each spoken line is what makes a draft checkable against its article. Each value
is written plain where PyYAML reads it back unchanged, and double-quoted otherwise, so the file
always loads as what was meant (``render_yaml`` is checked by loading it back: see
``voiceguide.importer.draft_text``).

The file is written to a temporary file beside the target and renamed into place, so a failure
or Ctrl-C never leaves half a routine behind; an existing file is replaced only when asked.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from pathlib import Path

from voiceguide.durations import format_ms
from voiceguide.errors import EnvironmentFault, OutputError
from voiceguide.importer.draft import Draft, Line

_FORMATS = {"text": "plain text", "markdown": "Markdown", "html": "HTML"}


def render_yaml(draft: Draft) -> str:
    name = Path(draft.source).name
    out = [
        f"# Drafted by `voiceguide import` from {name} ({_FORMATS.get(draft.format, draft.format)}); "
        f"steps from {draft.how}.",
        "# Every spoken line is the article's own; the comment beside it says where it came from.",
    ]
    if draft.defaulted:
        out.append(
            f"# {draft.defaulted} of {len(draft.steps)} steps have no time in the article: their durations "
            "are defaults, marked below."
        )
    if draft.length_ms is not None:
        out.append(f"# Ranges chosen so that `--length {format_ms(draft.length_ms)}` fits.")
    out.append(
        f"# Read it through before a session: `voiceguide show {name.rsplit('.', 1)[0]}.yaml` shows what "
        "is said and when."
    )
    out.append(_pair("title", draft.title, draft.title_origin))
    out.append(_pair("description", f"Drafted from {name}."))
    for key, lines in (
        ("setup", draft.setup),
        ("safety", draft.safety),
        ("checkins", draft.checkins),
        ("closing", draft.closing),
    ):
        if lines:
            out.append("")
            out.append(f"{key}:")
            out += _items(lines, "  ")
    out.append("")
    out.append("steps:")
    for step in draft.steps:
        out.append(_pair("title", step.title, step.origin, prefix="  - "))
        out.append(_pair("duration", duration_text(step.min_ms, step.max_ms), step.timing, prefix="    "))
        out.append("    instruction:")
        out += _items(step.instruction, "      ")
        if step.sides:
            out.append(_comment(f"    sides: [{', '.join(step.sides)}]", step.sides_origin))
        if step.tips:
            out.append("    tips:")
            out += _items(step.tips, "      ")
    return "\n".join(out) + "\n"


def duration_text(lo: int, hi: int) -> str:
    """(120000, 180000) -> '2-3m'; (90000, 180000) -> '1m30s-3m'; (60000, 60000) -> '1m'."""
    if lo == hi:
        return format_ms(lo)
    if lo % 60_000 == 0 and hi % 60_000 == 0:
        return f"{lo // 60_000}-{hi // 60_000}m"
    return f"{format_ms(lo)}-{format_ms(hi)}"


def _items(lines: tuple[Line, ...] | list[Line], indent: str) -> list[str]:
    return [_comment(f"{indent}- {_scalar(line.text)}", line.origin) for line in lines]


def _pair(key: str, value: str, origin: str | None = None, *, prefix: str = "") -> str:
    return _comment(f"{prefix}{key}: {_scalar(value)}", origin)


def _comment(text: str, origin: str | None) -> str:
    if not origin:
        return text
    return f"{text}    # {' '.join(origin.split())}"


def _scalar(value: str) -> str:
    """Plain when YAML reads it back unchanged, else double-quoted (JSON's escapes are YAML's)."""
    import yaml

    if value and value == value.strip() and "\n" not in value:
        try:
            if yaml.safe_load(f"k: {value}") == {"k": value}:
                return value
        except yaml.YAMLError:
            pass
    return json.dumps(value, ensure_ascii=False)


# --- the file ---------------------------------------------------------------------------------------------


def write_draft(path: str | Path, text: str, *, force: bool = False, article: str | Path | None = None) -> None:
    """Write ``text`` to ``path`` whole or not at all; an existing file is replaced only with ``force``."""
    path = Path(path)
    if article is not None and path.exists() and Path(article).exists() and path.samefile(article):
        raise OutputError("that is the article itself; write the draft to another file", path=path)
    if path.is_dir():
        raise OutputError("is a folder; give a file name such as routine.yaml", path=path)
    parent = path.parent
    if not parent.is_dir():
        raise OutputError(f"no such folder: {parent}", path=path)
    if path.exists() and not force:
        raise OutputError("already exists; use --force to replace it", path=path)
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise _write_error(e, path) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a routine is an ordinary file
        if force:
            os.replace(tmp, path)
        else:
            _rename_no_clobber(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise _write_error(e, path) from None
        raise


def _rename_no_clobber(tmp: str, path: Path) -> None:
    """Rename, failing if ``path`` appeared meanwhile (a hard link does that atomically)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise OutputError("already exists; use --force to replace it", path=path) from None
    except OSError:
        # a file system without hard links: check, then rename (a narrow race, not a silent loss)
        if path.exists():
            raise OutputError("already exists; use --force to replace it", path=path) from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def _write_error(e: OSError, path: Path) -> Exception:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return EnvironmentFault(f"cannot write it: {e.strerror}", path=path)
    return OutputError(f"cannot write it: {e.strerror or e}", path=path)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
