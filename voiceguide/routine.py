"""YAML routine files -> ``Routine``: the author's intent, with file:line in every error.

This is the only module that reads YAML. It uses PyYAML's SafeLoader (no arbitrary objects) with
constructors that remember the line of every key and list item, so an error can point at it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from voiceguide.durations import format_ms, parse_duration, parse_range
from voiceguide.errors import RoutineError

#: The routine played when none is named.
DEFAULT_ROUTINE = "back-massage"

# Limits that catch typos (a step of 300m, a cue of 40 pages), not taste.
MAX_STEP_MS = 2 * 3_600_000
MAX_TEXT_CHARS = 2_000
MAX_STEPS = 200
MAX_FILE_BYTES = 1_000_000


@dataclass(frozen=True)
class StepCue:
    at_ms: int
    text: str
    line: int | None = None


@dataclass(frozen=True)
class RoutineStep:
    title: str
    instruction: str
    min_ms: int
    max_ms: int
    tips: tuple[str, ...] = ()
    cues: tuple[StepCue, ...] = ()
    sides: tuple[str, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class Routine:
    name: str                       # bundled name, or the file's stem
    source: str                     # the path it came from, for messages
    title: str
    description: str
    setup: tuple[str, ...]
    safety: tuple[str, ...]
    checkins: tuple[str, ...]
    checkin_every_ms: int | None    # None: the compiler's default
    closing: tuple[str, ...]
    steps: tuple[RoutineStep, ...] = field(default_factory=tuple)


# --- YAML with line numbers -------------------------------------------------------------------


class _Located:
    """Mixin: ``line`` of the node itself and ``lines`` of its keys or items (1-based)."""

    line: int
    lines: dict


class _Map(dict, _Located):
    pass


class _Seq(list, _Located):
    pass


def _loader_class():
    import yaml

    class LineLoader(yaml.SafeLoader):
        pass

    def construct_map(loader, node):
        data = _Map()
        data.line, data.lines = node.start_mark.line + 1, {}
        yield data
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, (str, int, float, bool)) or key is None:
                raise RoutineError("keys must be plain words", line=line)
            if key in data:
                raise RoutineError(f"{key!r} is given twice (first on line {data.lines[key]})", line=line)
            data[key] = loader.construct_object(value_node, deep=True)
            data.lines[key] = line

    def construct_seq(loader, node):
        data = _Seq()
        data.line = node.start_mark.line + 1
        data.lines = {}
        yield data
        for i, child in enumerate(node.value):
            data.append(loader.construct_object(child, deep=True))
            data.lines[i] = child.start_mark.line + 1

    LineLoader.add_constructor("tag:yaml.org,2002:map", construct_map)
    LineLoader.add_constructor("tag:yaml.org,2002:seq", construct_seq)
    return LineLoader


def _parse_yaml(text: str, source: str) -> Any:
    import yaml

    try:
        return yaml.load(text, Loader=_loader_class())  # noqa: S506 - a SafeLoader subclass
    except RoutineError as e:
        raise RoutineError(e.message, path=source, line=e.line) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = e.problem or e.context or "malformed YAML"
        if e.context_mark is not None and "<stream end>" in problem:
            # an unclosed bracket or quote: point where it opened, not at the end of the file
            opened = (e.context or "a bracket").replace("while parsing ", "")
            mark, problem = e.context_mark, f"{opened} was never closed"
        raise RoutineError(f"malformed YAML: {problem}", path=source,
                           line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as e:
        raise RoutineError(f"malformed YAML: {e}", path=source) from None


# --- validation -----------------------------------------------------------------------------------

_TOP_KEYS = ("title", "description", "setup", "safety", "checkins", "closing", "steps")
_STEP_KEYS = ("title", "instruction", "duration", "tips", "cues", "sides")
_CHECKIN_KEYS = ("every", "lines")
_CUE_KEYS = ("at", "say")


class _Reader:
    def __init__(self, source: str):
        self.source = source

    def fail(self, message: str, line: int | None) -> RoutineError:
        return RoutineError(message, path=self.source, line=line)

    def line_of(self, container: Any, key: Any, fallback: int | None = None) -> int | None:
        lines = getattr(container, "lines", None)
        if lines and key in lines:
            return lines[key]
        return getattr(container, "line", None) or fallback

    def mapping(self, value: Any, what: str, allowed: tuple[str, ...], line: int | None) -> _Map:
        if not isinstance(value, dict):
            raise self.fail(f"{what} must be a mapping of keys ({', '.join(allowed)})", line)
        for key in value:
            if key not in allowed:
                hint = difflib.get_close_matches(str(key), allowed, n=1)
                also = f"; did you mean {hint[0]!r}?" if hint else f"; known keys: {', '.join(allowed)}"
                raise self.fail(f"unknown key {key!r} in {what}{also}", self.line_of(value, key, line))
        return value

    def text(self, value: Any, what: str, line: int | None) -> str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise self.fail(f"{what} must be text", line)
        cleaned = " ".join(value.split())
        if not cleaned:
            raise self.fail(f"{what} is empty", line)
        if len(cleaned) > MAX_TEXT_CHARS:
            raise self.fail(f"{what} is {len(cleaned)} characters; keep it under {MAX_TEXT_CHARS}", line)
        return cleaned

    def lines(self, value: Any, what: str, line: int | None) -> tuple[str, ...]:
        """A single string or a list of strings."""
        if value is None:
            return ()
        if isinstance(value, str):
            return (self.text(value, what, line),)
        if not isinstance(value, list):
            raise self.fail(f"{what} must be a line of text or a list of lines", line)
        return tuple(self.text(v, f"{what} item {i + 1}", self.line_of(value, i, line)) for i, v in enumerate(value))

    def duration(self, value: Any, what: str, line: int | None) -> int:
        try:
            ms = parse_duration(value)
        except ValueError as e:
            raise self.fail(f"{what}: {e}", line) from None
        if ms <= 0:
            raise self.fail(f"{what} must be longer than zero", line)
        return ms


def parse_routine(text: str, *, source: str = "<routine>", name: str | None = None) -> Routine:
    """Parse and validate routine YAML text."""
    r = _Reader(source)
    data = _parse_yaml(text, source)
    if data is None:
        raise r.fail("the file is empty; a routine needs a title and steps", 1)
    top = r.mapping(data, "the routine", _TOP_KEYS, 1)
    if "title" not in top:
        raise r.fail("the routine has no title", getattr(top, "line", 1))
    title = r.text(top["title"], "title", r.line_of(top, "title"))
    description = ""
    if top.get("description") is not None:
        description = r.text(top["description"], "description", r.line_of(top, "description"))

    checkins: tuple[str, ...] = ()
    every: int | None = None
    if top.get("checkins") is not None:
        cline = r.line_of(top, "checkins")
        raw = top["checkins"]
        if isinstance(raw, list) or isinstance(raw, str):
            checkins = r.lines(raw, "checkins", cline)
        else:
            c = r.mapping(raw, "checkins", _CHECKIN_KEYS, cline)
            checkins = r.lines(c.get("lines"), "checkins lines", r.line_of(c, "lines", cline))
            if "every" in c:
                every = r.duration(c["every"], "checkins every", r.line_of(c, "every", cline))

    raw_steps = top.get("steps")
    sline = r.line_of(top, "steps")
    if raw_steps is None:
        raise r.fail("the routine has no steps", sline or 1)
    if not isinstance(raw_steps, list):
        raise r.fail("steps must be a list", sline)
    if not raw_steps:
        raise r.fail("the routine has no steps", sline)
    if len(raw_steps) > MAX_STEPS:
        raise r.fail(f"{len(raw_steps)} steps; at most {MAX_STEPS}", sline)
    steps = tuple(_parse_step(r, s, i, r.line_of(raw_steps, i, sline)) for i, s in enumerate(raw_steps))

    return Routine(
        name=name or Path(source).stem,
        source=source,
        title=title,
        description=description,
        setup=r.lines(top.get("setup"), "setup", r.line_of(top, "setup")),
        safety=r.lines(top.get("safety"), "safety", r.line_of(top, "safety")),
        checkins=checkins,
        checkin_every_ms=every,
        closing=r.lines(top.get("closing"), "closing", r.line_of(top, "closing")),
        steps=steps,
    )


def _parse_step(r: _Reader, raw: Any, i: int, line: int | None) -> RoutineStep:
    what = f"step {i + 1}"
    s = r.mapping(raw, what, _STEP_KEYS, line)
    line = getattr(s, "line", line)
    if "title" not in s:
        raise r.fail(f"{what} has no title", line)
    title = r.text(s["title"], f"{what} title", r.line_of(s, "title", line))
    what = f"step {i + 1} ({title})"
    if "instruction" not in s:
        raise r.fail(f"{what} has no instruction", line)
    instruction = " ".join(r.lines(s["instruction"], f"{what} instruction", r.line_of(s, "instruction", line)))
    if "duration" not in s:
        raise r.fail(f"{what} has no duration (write it like 2-3m or 90s)", line)
    dline = r.line_of(s, "duration", line)
    try:
        lo, hi = parse_range(s["duration"])
    except ValueError as e:
        raise r.fail(f"{what} duration: {e}", dline) from None
    if lo <= 0:
        raise r.fail(f"{what} duration must be longer than zero", dline)
    if hi > MAX_STEP_MS:
        raise r.fail(f"{what} duration {format_ms(hi)} is absurd; at most {format_ms(MAX_STEP_MS)} a step", dline)

    cues: list[StepCue] = []
    raw_cues = s.get("cues")
    cline = r.line_of(s, "cues", line)
    if raw_cues is not None:
        if not isinstance(raw_cues, list):
            raise r.fail(f"{what} cues must be a list of {{at, say}}", cline)
        for k, c in enumerate(raw_cues):
            kline = r.line_of(raw_cues, k, cline)
            c = r.mapping(c, f"{what} cue {k + 1}", _CUE_KEYS, kline)
            for need in _CUE_KEYS:
                if need not in c:
                    raise r.fail(f"{what} cue {k + 1} has no {need!r}", getattr(c, "line", kline))
            aline = r.line_of(c, "at", kline)
            try:
                at = parse_duration(c["at"])
            except ValueError as e:
                raise r.fail(f"{what} cue {k + 1} at: {e}", aline) from None
            if at >= lo:
                raise r.fail(f"{what} cue {k + 1} at {format_ms(at)} is not inside the step "
                             f"(it may last only {format_ms(lo)})", aline)
            cues.append(StepCue(at, r.text(c["say"], f"{what} cue {k + 1} say", r.line_of(c, "say", kline)), aline))
    cues.sort(key=lambda c: c.at_ms)

    sides: tuple[str, ...] = ()
    if s.get("sides") is not None:
        sides = r.lines(s["sides"], f"{what} sides", r.line_of(s, "sides", line))
        if len(sides) != 2:
            raise r.fail(f"{what} sides must name two sides, like [left, right]", r.line_of(s, "sides", line))

    return RoutineStep(
        title=title,
        instruction=instruction,
        min_ms=lo,
        max_ms=hi,
        tips=r.lines(s.get("tips"), f"{what} tips", r.line_of(s, "tips", line)),
        cues=tuple(cues),
        sides=sides,
        line=line,
    )


# --- files and bundled routines ----------------------------------------------------------------


def bundled_routines() -> list[str]:
    """Names of the routines shipped inside the package."""
    folder = resources.files("voiceguide.routines")
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_routine(ref: str | Path | None = None) -> Routine:
    """Load a routine by bundled name (default: back-massage) or by path."""
    ref = DEFAULT_ROUTINE if ref is None else ref
    path = Path(ref)
    as_text = str(ref)
    if not path.exists() and "/" not in as_text and not as_text.endswith((".yaml", ".yml")):
        if as_text in bundled_routines():
            text = resources.files("voiceguide.routines").joinpath(f"{as_text}.yaml").read_text("utf-8")
            return parse_routine(text, source=f"{as_text}.yaml", name=as_text)
        close = difflib.get_close_matches(as_text, bundled_routines(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; bundled: {', '.join(bundled_routines())}"
        raise RoutineError(f"no bundled routine or file named {as_text!r}{hint}")
    return parse_routine(read_routine_text(path), source=str(path))


def read_routine_text(path: Path) -> str:
    if not path.exists():
        raise RoutineError("no such file", path=path)
    if not path.is_file():
        raise RoutineError("not a file", path=path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise RoutineError(f"the file is over {MAX_FILE_BYTES // 1000} kB; is it really a routine?", path=path)
        data = path.read_bytes()
    except OSError as e:
        raise RoutineError(f"cannot read it: {e.strerror or e}", path=path) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise RoutineError("not UTF-8 text (save the routine as UTF-8)", path=path, line=line) from None
