"""YAML routine files -> ``Routine``: the author's intent, with file:line in every error.

This is the only module that reads YAML. It uses PyYAML's SafeLoader (no arbitrary objects) with
constructors that remember the line of every key and list item, so an error can point at it.
Plain scalars stay text (only ``null``/``~``/empty and ``<<`` keep their YAML meaning): in a
routine a value is words or a duration, and YAML 1.1's guesses (``no`` as false, ``1:30`` as 90,
``017`` as 15, ``1.0e+999`` as infinity, ``2024-02-30`` as a date that cannot exist) only ever
changed what an author wrote. Durations are then read by ``voiceguide.durations``.

Loading goes on past a problem: every problem found is collected (``Problems``) and one
``RoutineError`` carries them all, in file order, so ``voiceguide validate`` can list them in one
run. Only a file that is not YAML at all stops the reading at its first problem.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, cast

from voiceguide.durations import format_ms, parse_duration, parse_range
from voiceguide.errors import RoutineError, excerpt, shown_path
from voiceguide.textfile import read_small_file

#: The routine played when none is named.
DEFAULT_ROUTINE = "back-massage"

# Limits that catch typos (a step of 300m, a cue of 40 pages, a book pasted into the tips), not
# taste. Each is far above what a routine needs, and far below what would make loading or
# compiling slow (10,000 lines compile in about 0.1 s; scripts/bench_compile.py).
MAX_STEP_MS = 2 * 3_600_000
MAX_SESSION_MS = 8 * 3_600_000  # a whole session, however it is paced (the compiler holds it too)
MAX_TEXT_CHARS = 2_000
MAX_STEPS = 200
MAX_LINES = 10_000  # spoken lines in a routine: set-up, tips, cues, check-ins...
MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 20  # a routine nests 5 deep (steps > step > cues > cue > say)
MAX_EXPANDED = 2 * MAX_FILE_BYTES  # values (and characters) once every alias is written out
MAX_PROBLEMS = 100  # listed per file; past that, a count


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
    name: str  # bundled name, or the file's stem
    source: str  # the path it came from, for messages
    title: str
    description: str
    setup: tuple[str, ...]
    safety: tuple[str, ...]
    checkins: tuple[str, ...]
    checkin_every_ms: int | None  # None: the compiler's default; the least spacing of a range
    closing: tuple[str, ...]
    steps: tuple[RoutineStep, ...] = field(default_factory=tuple)
    checkin_every_most_ms: int | None = None  # `every: 60-90s`: the most; None: a single value


# --- problems, collected --------------------------------------------------------------------------


class Problems:
    """Every problem found in one file; ``error()`` is one RoutineError carrying them, in file order."""

    def __init__(self, source: str):
        self.source = source
        self.found: list[RoutineError] = []
        self.more = 0  # found past MAX_PROBLEMS: counted, not kept

    def add(self, message: str, line: int | None) -> None:
        if len(self.found) < MAX_PROBLEMS:
            self.found.append(RoutineError(message, path=self.source, line=line))
        else:
            self.more += 1

    def __bool__(self) -> bool:
        return bool(self.found)

    def error(self) -> RoutineError:
        ordered = sorted(self.found, key=lambda p: p.line or 0)  # stable: same line, found order
        if self.more:
            ordered.append(RoutineError(f"... and {self.more} more problems", path=self.source))
        return RoutineError.several(ordered)  # type: ignore[return-value]

    def raise_if_any(self) -> None:
        if self.found:
            raise self.error()


def fatal(message: str, source: str, line: int | None = None) -> RoutineError:
    return RoutineError(message, path=source, line=line)


# --- text: what can be spoken ---------------------------------------------------------------------

# Control characters that are not whitespace (a NUL ends the text an engine is handed; the rest
# are no speech either), and lone surrogates (half of a UTF-16 pair, from a "\ud83d" escape: no
# character at all, and no UTF-8 encoder takes them). Whitespace runs are folded to one space.
_NOT_TEXT = re.compile(
    "["
    + "".join(re.escape(chr(c)) for c in range(0xA0) if (c < 0x20 or c >= 0x7F) and not chr(c).isspace())
    + "\ud800-\udfff]"
)
_ASCII_DIGIT = re.compile("[0-9]")


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be spoken, or None. One rule for the loader and the speech layer.

    Speakable text has a letter or a digit: punctuation, symbols and invisible characters alone
    (``...``, zero-width spaces) make every engine write silence. Digits count only as ASCII ones:
    espeak-ng's English voice reads "٣" as nothing.
    """
    bad = _NOT_TEXT.search(text)
    if bad:
        ch = bad.group()
        if ch == "\0":
            return "contains a NUL character (U+0000)"
        if "\ud800" <= ch <= "\udfff":
            return f"contains a lone surrogate (U+{ord(ch):04X}), half of a character; write the character itself"
        return f"contains a control character (U+{ord(ch):04X})"
    if not text.strip():
        return "is empty"
    if not (_ASCII_DIGIT.search(text) or any(c.isalpha() for c in text)):
        return "has nothing to speak (no letters or digits)"
    if len(text) > MAX_TEXT_CHARS:
        return f"is {len(text)} characters; keep it under {MAX_TEXT_CHARS}"
    return None


# --- YAML with line numbers -------------------------------------------------------------------


class _Located:
    """Mixin: ``line`` of the node itself and ``lines`` of its keys or items (1-based)."""

    line: int
    lines: dict[Any, int]


class _Map(dict[Any, Any], _Located):
    pass


class _Seq(list[Any], _Located):
    pass


class _Unreadable:
    """A value YAML could not construct (``!!int`` with nothing after it); already reported."""

    def __repr__(self) -> str:
        return "<unreadable>"


UNREADABLE = _Unreadable()

_TAG_WHAT = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "timestamp": "a date",
    "binary": "base64 binary data",
    "set": "a set",
    "omap": "an ordered map",
    "pairs": "pairs",
    "null": "null",
    "str": "text",
    "map": "a mapping",
    "seq": "a list",
}

_loader_cache: list[type] = []


def _loader_class() -> Any:
    if _loader_cache:
        return _loader_cache[0]
    import yaml
    from yaml.composer import Composer
    from yaml.constructor import SafeConstructor
    from yaml.resolver import Resolver

    try:
        # libyaml's parser hands over the events five times faster than PyYAML's own (0.27 s
        # against 1.3-1.7 s for 256 kB, measured); composing stays in Python, for the depth limit.
        from yaml._yaml import CParser

        Events: Any = CParser
    except ImportError:  # pragma: no cover - a PyYAML built without libyaml
        Events = None
    # The loader's parts come together only below (libyaml's parser or PyYAML's own), so to a type
    # checker this mixin's base is unknown: PyYAML's methods and attributes are Any here.
    mixin_base: Any = object

    class Lines(mixin_base):  # type: ignore[misc]
        """Keeps lines, types only null and merge keys, and reports problems instead of crashing."""

        def __init__(self, stream: str, problems: Problems):
            if Events is not None:
                Events.__init__(self, stream)
                Composer.__init__(self)
                SafeConstructor.__init__(self)
                Resolver.__init__(self)
            else:
                yaml.SafeLoader.__init__(self, stream)
            self.problems = problems
            self.depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            # PyYAML composes and constructs by recursion; nesting a few hundred deep would end
            # in RecursionError. A routine needs 5 levels.
            # only a mapping or a list is a level: a scalar key inside the 20th is not the 21st
            level = int(self.check_event(yaml.events.MappingStartEvent, yaml.events.SequenceStartEvent))
            self.depth += level
            try:
                if self.depth > MAX_DEPTH:
                    mark = self.peek_event().start_mark
                    raise fatal(
                        f"values are nested more than {MAX_DEPTH} deep; a routine needs 5 at most",
                        self.problems.source,
                        mark.line + 1,
                    )
                return super().compose_node(parent, index)
            finally:
                self.depth -= level

        def construct_document(self, node: Any) -> Any:
            _check_expansion(node, self.problems.source)
            return super().construct_document(node)

        def construct_object(self, node: Any, deep: bool = False) -> Any:
            # PyYAML's own constructors fail on some values with plain Python errors
            # ("!!int" alone: IndexError; "!!bool": KeyError ''): each becomes a problem at its line.
            saved_deep = self.deep_construct
            try:
                return super().construct_object(node, deep=deep)
            except RoutineError:
                raise
            except yaml.MarkedYAMLError as e:
                mark = e.problem_mark or e.context_mark or node.start_mark
                problem = _yaml_problem(e)
                if "could not determine a constructor" in problem:
                    problem = f"unknown tag {excerpt(node.tag, 30)} (a routine needs no tags)"
                self._unreadable(node, f"cannot read this value: {problem}", mark.line + 1, saved_deep)
            except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as e:
                tag = node.tag.rpartition(":")[2] if node.tag.startswith("tag:yaml.org") else node.tag
                what = _TAG_WHAT.get(tag, excerpt(tag, 20))
                value = f" {excerpt(node.value)}" if isinstance(node.value, str) and node.value else " (empty)"
                self._unreadable(
                    node,
                    f"cannot read{value} as {what} (!!{tag}): {type(e).__name__}",
                    node.start_mark.line + 1,
                    saved_deep,
                )
            return UNREADABLE

        def _unreadable(self, node: Any, message: str, line: int, saved_deep: bool) -> None:
            self.problems.add(message, line)
            self.recursive_objects.pop(node, None)
            self.constructed_objects[node] = UNREADABLE
            self.deep_construct = saved_deep

    bases = (Lines, Composer, Events, SafeConstructor, Resolver) if Events is not None else (Lines, yaml.SafeLoader)
    LineLoader: Any = type("LineLoader", bases, {})
    # Plain scalars resolve to null (empty, ~, null) and merge (<<) only: everything else is text.
    LineLoader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in rules if tag in ("tag:yaml.org,2002:null", "tag:yaml.org,2002:merge")]
        for first, rules in Resolver.yaml_implicit_resolvers.items()
    }

    def construct_map(loader: Any, node: Any) -> Iterator[_Map]:
        data = _Map()
        data.line, data.lines = node.start_mark.line + 1, {}
        yield data
        try:
            loader.flatten_mapping(node)
        except (yaml.YAMLError, RecursionError) as e:
            mark = getattr(e, "problem_mark", None)
            line = mark.line + 1 if mark is not None else node.start_mark.line + 1
            loader.problems.add(f"cannot merge (<<) here: {_yaml_problem(e)}", line)
            node.value = [(k, v) for k, v in node.value if k.tag != "tag:yaml.org,2002:merge"]
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key is UNREADABLE:
                continue
            if not isinstance(key, (str, int, float, bool)) or key is None:
                loader.problems.add(f"a key must be a plain word, not {_kind(key)}", line)
                continue
            if key in data:
                loader.problems.add(f"{_shown_key(key)} is given twice (first on line {data.lines[key]})", line)
                continue
            data[key] = loader.construct_object(value_node, deep=True)
            data.lines[key] = line

    def construct_seq(loader: Any, node: Any) -> Iterator[_Seq]:
        data = _Seq()
        data.line = node.start_mark.line + 1
        data.lines = {}
        yield data
        for i, child in enumerate(node.value):
            data.append(loader.construct_object(child, deep=True))
            data.lines[i] = child.start_mark.line + 1

    LineLoader.add_constructor("tag:yaml.org,2002:map", construct_map)
    LineLoader.add_constructor("tag:yaml.org,2002:seq", construct_seq)
    _loader_cache.append(LineLoader)
    return LineLoader


def _check_expansion(root: Any, source: str) -> None:
    """Refuse a document whose aliases expand it past MAX_EXPANDED, or make it contain itself.

    Aliases share nodes, so ``&a [x, x]`` nested nine deep is small to hold and a billion values
    to walk ("billion laughs"). Each node's weight (1, plus its characters, plus its children's
    weights) is computed once, children first, without recursion.
    """
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    weight: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            if isinstance(node, ScalarNode):
                w = 1 + len(node.value)
            else:
                kids = node.value if isinstance(node, SequenceNode) else [n for pair in node.value for n in pair]
                w = 1 + sum(weight[id(k)] for k in kids)
            if w > MAX_EXPANDED:
                raise fatal(
                    f"aliases (*name) expand this file past {MAX_EXPANDED:,} values and characters; "
                    "write the repeated parts out, or repeat less",
                    source,
                    node.start_mark.line + 1,
                )
            weight[key] = w
            continue
        if key in weight:
            continue
        if key in on_path:
            raise fatal("an alias (*name) refers to a value that contains it", source, node.start_mark.line + 1)
        on_path.add(key)
        stack.append((node, True))
        if isinstance(node, SequenceNode):
            stack.extend((k, False) for k in node.value if id(k) not in weight)
        elif isinstance(node, MappingNode):
            stack.extend((k, False) for pair in node.value for k in pair if id(k) not in weight)


def _yaml_problem(e: Exception) -> str:
    problem = getattr(e, "problem", None) or getattr(e, "context", None) or "malformed YAML"
    return excerpt(problem, 80)[1:-1] if not problem.isprintable() else problem[:120]


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, bytes):
        return "binary data"
    if isinstance(value, (set, frozenset)):
        return "a set"
    if isinstance(value, (int, float)):
        return "a number"
    return f"a {type(value).__name__}"


_WORD_KEY = re.compile(r"[\w -]{1,30}")


def _shown_key(key: Any) -> str:
    """A key as messages quote it; a long or odd one only by its start (it may be a secret)."""
    text = str(key)
    return repr(text) if _WORD_KEY.fullmatch(text) else excerpt(text, 12)


def _parse_yaml(text: str, problems: Problems) -> Any:
    import yaml
    from yaml.reader import Reader

    source = problems.source
    text = text[1:] if text.startswith("\ufeff") else text
    bad = Reader.NON_PRINTABLE.search(text)
    if bad:
        # a character YAML never allows in a file (NUL, most control characters, U+FFFE)
        line = text.count("\n", 0, bad.start()) + 1
        raise fatal(f"contains a character YAML does not allow (U+{ord(bad.group()):04X})", source, line)
    loader = None
    try:
        loader = _loader_class()(text, problems)
        return loader.get_single_data()
    except RoutineError:
        raise
    except yaml.MarkedYAMLError as e:
        message, where = _malformed(e, text)
        raise fatal(f"malformed YAML: {message}", source, where) from None
    except yaml.YAMLError as e:
        raise fatal(f"malformed YAML: {excerpt(str(e), 80)}", source) from None
    except RecursionError:
        # the depth limit stops nesting; this is the last guard (a merge chain thousands long)
        raise fatal("values are nested or merged too deeply to read", source) from None
    except Exception as e:  # noqa: BLE001 - PyYAML failing in a way not seen yet: still the user's file
        raise fatal(f"cannot read this YAML ({type(e).__name__})", source) from None
    finally:
        if loader is not None and hasattr(loader, "dispose"):
            loader.dispose()


def _malformed(e: Any, text: str) -> tuple[str, int | None]:
    """A YAML syntax error as a short message and the line that explains it."""
    mark, context_mark = e.problem_mark or e.context_mark, e.context_mark
    problem = _yaml_problem(e)
    at_end = mark is not None and not text[mark.index :].strip()
    if context_mark is not None and (at_end or "stream end" in problem or "end of stream" in problem):
        # an unclosed bracket or quote: point where it opened, not at the end of the file
        opened = (e.context or "a bracket").replace("while parsing ", "").replace("while scanning ", "")
        return f"{opened} was never closed", context_mark.line + 1
    if mark is not None:
        lines = text.split("\n")
        here = lines[mark.line][mark.column : mark.column + 1] if mark.line < len(lines) else ""
        if here == "\t" or "'\\t'" in problem:
            return "a tab cannot indent YAML (use spaces)", mark.line + 1
    if problem == "second occurrence" and context_mark is not None:  # a duplicate &anchor
        return f"an &anchor is defined twice (first on line {context_mark.line + 1})", mark.line + 1
    if (
        context_mark is not None
        and mark is not None
        and context_mark.line != mark.line
        and "flow" in (e.context or "")
        and "did not find expected" in problem
    ):
        # `duration: [1m` and the file goes on: the bracket that was never closed is the mistake,
        # not the next line, where libyaml noticed it
        opened = e.context.replace("while parsing ", "")
        return f"{opened} is never closed ({problem})", context_mark.line + 1
    if context_mark is not None and e.context and mark is not None and context_mark.line != mark.line:
        problem += f" ({e.context.replace('while ', 'while ', 1)} that starts on line {context_mark.line + 1})"
    return problem, mark.line + 1 if mark else None


# --- validation -----------------------------------------------------------------------------------

_TOP_KEYS = ("title", "description", "setup", "safety", "checkins", "closing", "steps")
_STEP_KEYS = ("title", "instruction", "duration", "tips", "cues", "sides")
_CHECKIN_KEYS = ("every", "lines")
_CUE_KEYS = ("at", "say")

#: ``checkins: every`` above this would never speak in any session (it lasts at most 8 h).
MAX_CHECKIN_EVERY_MS = MAX_SESSION_MS


class _Reader:
    """Reads the parsed YAML into values; a problem is recorded and the value comes back None."""

    def __init__(self, problems: Problems):
        self.problems = problems
        self.spoken = 0  # lines to speak so far, against MAX_LINES
        self.over_lines = False  # reported once; no more lines are read after it
        self.suggested: dict[int, set[str]] = {}  # mapping id -> keys "did you mean" named

    def missing(self, mapping: _Map, key: str) -> bool:
        """Whether ``key`` is absent and no misspelt key already pointed at it."""
        return key not in mapping and key not in self.suggested.get(id(mapping), ())

    def fail(self, message: str, line: int | None) -> None:
        self.problems.add(message, line)

    def line_of(self, container: Any, key: Any, fallback: int | None = None) -> int | None:
        lines = getattr(container, "lines", None)
        if lines and key in lines:
            found: int = lines[key]
            return found
        own: int | None = getattr(container, "line", None)
        return own or fallback

    def mapping(self, value: Any, what: str, allowed: tuple[str, ...], line: int | None) -> _Map | None:
        """``value`` if it is a mapping; unknown keys are reported (and left out)."""
        if value is UNREADABLE:
            return None
        if not isinstance(value, dict):
            self.fail(f"{what} must be a mapping of keys ({', '.join(allowed)}), not {_kind(value)}", line)
            return None
        for key in value:
            if key not in allowed:
                hint = difflib.get_close_matches(str(key)[:40], allowed, n=1)
                also = f"; did you mean {hint[0]!r}?" if hint else f"; known keys: {', '.join(allowed)}"
                if hint:
                    self.suggested.setdefault(id(value), set()).add(hint[0])
                self.fail(f"unknown key {_shown_key(key)} in {what}{also}", self.line_of(value, key, line))
        return cast(_Map, value)  # every mapping the loader makes is a _Map

    def text(self, value: Any, what: str, line: int | None) -> str | None:
        if value is UNREADABLE:
            return None
        if value is None:
            self.fail(f"{what} is empty", line)
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # an explicit !!int or !!float: its digits are the words
        if not isinstance(value, str):
            self.fail(f"{what} must be text, not {_kind(value)}", line)
            return None
        cleaned = " ".join(value.split())
        problem = text_problem(cleaned)
        if problem:
            self.fail(f"{what} {problem}", line)
            return None
        return cleaned

    def count_lines(self, n: int, line: int | None) -> bool:
        """Count ``n`` more lines to speak; False (reported once) when the routine has too many."""
        self.spoken += n
        if self.spoken > MAX_LINES:
            if not self.over_lines:
                self.fail(
                    f"the routine has more than {MAX_LINES:,} lines to speak; "
                    "is a whole book pasted in? (the rest is not checked)",
                    line,
                )
            self.over_lines = True
        return not self.over_lines

    def lines(self, value: Any, what: str, line: int | None) -> tuple[str, ...]:
        """A single string or a list of strings (an empty list is none)."""
        if value is None or value is UNREADABLE:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.fail(f"{what} must be a line of text or a list of lines, not {_kind(value)}", line)
            return ()
        if not self.count_lines(len(value), line):
            return ()
        single = len(value) == 1 and not isinstance(value, _Seq)
        out = []
        for i, v in enumerate(value):
            label = what if single else f"{what} item {i + 1}"
            got = self.text(v, label, self.line_of(value, i, line))
            if got is not None:
                out.append(got)
        return tuple(out)

    def duration_range(self, value: Any, what: str, line: int | None, most_ms: int) -> tuple[int, int] | None:
        """One duration or a range (``60-90s``) as (least, most) ms, both longer than zero."""
        if value is UNREADABLE:
            return None
        try:
            lo, hi = parse_range(value, most_ms=most_ms)
        except ValueError as e:
            self.fail(f"{what}: {e}", line)
            return None
        if lo <= 0:
            self.fail(f"{what} must be longer than zero", line)
            return None
        return lo, hi

    def duration(self, value: Any, what: str, line: int | None, most_ms: int) -> int | None:
        if value is UNREADABLE:
            return None
        try:
            ms = parse_duration(value, most_ms=most_ms)
        except ValueError as e:
            self.fail(f"{what}: {e}", line)
            return None
        if ms <= 0:
            self.fail(f"{what} must be longer than zero", line)
            return None
        return ms


def parse_routine(text: str, *, source: str = "<routine>", name: str | None = None) -> Routine:
    """Parse and validate routine YAML text; a RoutineError carries every problem found."""
    source = shown_path(source)
    problems = Problems(source)
    data = _parse_yaml(text, problems)
    routine = _read_routine(_Reader(problems), data, source, name or _stem(source))
    problems.raise_if_any()
    assert routine is not None
    return routine


def _stem(source: str) -> str:
    return Path(source).stem


def _read_routine(r: _Reader, data: Any, source: str, name: str) -> Routine | None:
    if data is None:
        r.fail("the file is empty; a routine needs a title and steps", 1)
        return None
    if isinstance(data, dict) and data and not any(k in _TOP_KEYS for k in data):
        # Not a routine with a typo but something else (a settings file, /etc/passwd): one line,
        # not one per key.
        r.fail(f"this is not a routine: none of its keys is {', '.join(_TOP_KEYS)}", getattr(data, "line", 1))
        return None
    top = r.mapping(data, "the routine", _TOP_KEYS, 1)
    if top is None:
        return None

    title = None
    if "title" in top:
        title = r.text(top["title"], "title", r.line_of(top, "title"))
    elif r.missing(top, "title"):
        r.fail("the routine has no title", getattr(top, "line", 1))
    description = ""
    if top.get("description") is not None:
        description = r.text(top["description"], "description", r.line_of(top, "description")) or ""

    setup = r.lines(top.get("setup"), "setup", r.line_of(top, "setup"))
    safety = r.lines(top.get("safety"), "safety", r.line_of(top, "safety"))
    checkins, every = _read_checkins(r, top)
    closing = r.lines(top.get("closing"), "closing", r.line_of(top, "closing"))
    steps = _read_steps(r, top)

    if r.problems or title is None or steps is None:
        return None
    return Routine(
        name=name,
        source=source,
        title=title,
        description=description,
        setup=setup,
        safety=safety,
        checkins=checkins,
        checkin_every_ms=every[0] if every else None,
        checkin_every_most_ms=every[1] if every and every[1] != every[0] else None,
        closing=closing,
        steps=steps,
    )


def _read_checkins(r: _Reader, top: _Map) -> tuple[tuple[str, ...], tuple[int, int] | None]:
    raw = top.get("checkins")
    if raw is None or raw is UNREADABLE:
        return (), None
    cline = r.line_of(top, "checkins")
    if isinstance(raw, str) and _is_number_or_duration(raw):
        # `checkins: 5` would have the guide say "5" every 90 s; it was meant as a spacing
        r.fail(
            f"checkins is {excerpt(raw, 20)}, a number, not a line to speak; to set the spacing write "
            "`checkins: {every: 2m, lines: [...]}`",
            cline,
        )
        return (), None
    if isinstance(raw, (list, str)):
        return r.lines(raw, "checkins", cline), None
    c = r.mapping(raw, "checkins", _CHECKIN_KEYS, cline)
    if c is None:
        return (), None
    lines = r.lines(c.get("lines"), "checkins lines", r.line_of(c, "lines", cline))
    every = None
    if "every" in c:
        every = r.duration_range(c["every"], "checkins every", r.line_of(c, "every", cline), MAX_CHECKIN_EVERY_MS)
    if not lines and c.get("lines") in (None, []) and c.get("lines") is not UNREADABLE:
        # `every` alone would silently speak nothing.
        r.fail("checkins has no lines to speak; add `lines:` (or remove `checkins`)", cline)
    return lines, every


def _is_number_or_duration(text: str) -> bool:
    try:
        parse_duration(text.strip(), most_ms=MAX_SESSION_MS)
    except ValueError:
        return bool(re.fullmatch(r"[-+]?[\d.,]+", text.strip()))
    return True


def _read_steps(r: _Reader, top: _Map) -> tuple[RoutineStep, ...] | None:
    raw_steps = top.get("steps")
    sline = r.line_of(top, "steps")
    if raw_steps is UNREADABLE:
        return None
    if "steps" not in top or raw_steps is None:
        if r.missing(top, "steps") or (raw_steps is None and "steps" in top):
            r.fail("the routine has no steps", sline or 1)
        return None
    if not isinstance(raw_steps, list):
        r.fail(f"steps must be a list, not {_kind(raw_steps)}", sline)
        return None
    if not raw_steps:
        r.fail("the routine has no steps", sline)
        return None
    if len(raw_steps) > MAX_STEPS:
        r.fail(f"{len(raw_steps)} steps; at most {MAX_STEPS}", sline)
        return None
    read = [_read_step(r, s, i, r.line_of(raw_steps, i, sline)) for i, s in enumerate(raw_steps)]
    steps = [s for s in read if s is not None]
    if len(steps) < len(read):
        return None
    shortest = sum(s.min_ms for s in steps)
    if shortest > MAX_SESSION_MS:
        r.fail(
            f"the steps last {format_ms(shortest)} at their shortest; a session lasts at most "
            f"{format_ms(MAX_SESSION_MS)}",
            sline,
        )
        return None
    return tuple(steps)


def _read_step(r: _Reader, raw: Any, i: int, line: int | None) -> RoutineStep | None:
    what = f"step {i + 1}"
    s = r.mapping(raw, what, _STEP_KEYS, line)
    if s is None:
        return None
    line = getattr(s, "line", line)
    title = None
    if "title" in s:
        title = r.text(s["title"], f"{what} title", r.line_of(s, "title", line))
        if title is not None:
            what = f"step {i + 1} ({excerpt(title, 30)[1:-1]})"
    elif r.missing(s, "title"):
        r.fail(f"{what} has no title", line)

    instruction = None
    if "instruction" not in s:
        if r.missing(s, "instruction"):
            r.fail(f"{what} has no instruction", line)
    else:
        iline = r.line_of(s, "instruction", line)
        parts = r.lines(s["instruction"], f"{what} instruction", iline)
        if parts:
            instruction = " ".join(parts)
            if len(instruction) > MAX_TEXT_CHARS:
                r.fail(f"{what} instruction is {len(instruction)} characters; keep it under {MAX_TEXT_CHARS}", iline)
                instruction = None
        elif (
            s["instruction"] is not UNREADABLE
            and not r.over_lines
            and (s["instruction"] is None or s["instruction"] == [])
        ):
            r.fail(f"{what} instruction is empty", iline)

    lo = hi = None
    if "duration" not in s:
        if r.missing(s, "duration"):
            r.fail(f"{what} has no duration (write it like 2-3m or 90s)", line)
    elif s["duration"] is not UNREADABLE:
        lo, hi = _read_range(r, s["duration"], what, r.line_of(s, "duration", line))

    cues = _read_cues(r, s, what, line, lo)
    sides: tuple[str, ...] = ()
    if s.get("sides") is not None and s.get("sides") is not UNREADABLE:
        sline = r.line_of(s, "sides", line)
        raw_sides = s["sides"]
        if isinstance(raw_sides, list) and len(raw_sides) != 2:
            r.fail(f"{what} sides must name two sides, like [left, right]", sline)
        else:
            sides = r.lines(raw_sides, f"{what} sides", sline)
            if len(sides) != 2 and not isinstance(raw_sides, list):
                r.fail(f"{what} sides must name two sides, like [left, right]", sline)
    tips = r.lines(s.get("tips"), f"{what} tips", r.line_of(s, "tips", line))

    if title is None or instruction is None or lo is None or hi is None or cues is None:
        return None
    if len(sides) not in (0, 2):
        return None
    return RoutineStep(
        title=title, instruction=instruction, min_ms=lo, max_ms=hi, tips=tips, cues=cues, sides=sides, line=line
    )


def _read_range(r: _Reader, value: Any, what: str, dline: int | None) -> tuple[int | None, int | None]:
    try:
        lo, hi = parse_range(value, most_ms=MAX_STEP_MS)
    except ValueError as e:
        message = str(e)
        if "too long" in message:
            message += " a step"
        r.fail(f"{what} duration: {message}", dline)
        return None, None
    if lo <= 0:
        r.fail(f"{what} duration must be longer than zero", dline)
        return None, None
    return lo, hi


def _read_cues(r: _Reader, s: _Map, what: str, line: int | None, lo: int | None) -> tuple[StepCue, ...] | None:
    raw_cues = s.get("cues")
    if raw_cues is None:
        return ()
    if raw_cues is UNREADABLE:
        return None
    cline = r.line_of(s, "cues", line)
    if not isinstance(raw_cues, list):
        r.fail(f"{what} cues must be a list of {{at, say}}, not {_kind(raw_cues)}", cline)
        return None
    if not r.count_lines(len(raw_cues), cline):
        return None
    cues: list[StepCue] = []
    ok = True
    for k, c in enumerate(raw_cues):
        kline = r.line_of(raw_cues, k, cline)
        label = f"{what} cue {k + 1}"
        c = r.mapping(c, label, _CUE_KEYS, kline)
        if c is None:
            ok = False
            continue
        cue_line = getattr(c, "line", kline)
        for need in _CUE_KEYS:
            if need not in c:
                if r.missing(c, need):
                    r.fail(f"{label} has no {need!r}", cue_line)
                ok = False
        if "at" not in c or "say" not in c:
            continue
        aline = r.line_of(c, "at", kline)
        at = None
        if c["at"] is not UNREADABLE:
            try:
                at = parse_duration(c["at"], most_ms=MAX_STEP_MS)
            except ValueError as e:
                r.fail(f"{label} at: {e}", aline)
        say = r.text(c["say"], f"{label} say", r.line_of(c, "say", kline))
        if at is not None and lo is not None and at >= lo:
            r.fail(f"{label} at {format_ms(at)} is not inside the step (it may last only {format_ms(lo)})", aline)
            at = None
        if at is None or say is None:
            ok = False
            continue
        cues.append(StepCue(at, say, aline))
    if not ok:
        return None
    cues.sort(key=lambda c: c.at_ms)
    return tuple(cues)


# --- files and bundled routines ----------------------------------------------------------------


def bundled_routines() -> list[str]:
    """Names of the routines shipped inside the package."""
    folder = resources.files("voiceguide.routines")
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_routine(ref: str | Path | None = None) -> Routine:
    """Load a routine by bundled name (default: back-massage) or by path.

    A name is first a file: ``NAME`` as given, else ``NAME.yaml`` (or ``.yml``) beside it, so
    ``show neck`` finds ``./neck.yaml``; then a bundled routine. A file in the current folder
    therefore wins over a bundled routine of the same name (an edited copy of back-massage.yaml
    is what its author means); with no routine at all, the bundled default plays.
    """
    if ref is None:
        return _bundled(DEFAULT_ROUTINE)
    as_text = str(ref)
    found = _routine_file(Path(ref))
    if found is not None:
        return parse_routine(read_routine_text(found), source=str(found))
    if "/" not in as_text and not as_text.endswith((".yaml", ".yml")):
        if as_text in bundled_routines():
            return _bundled(as_text)
        close = difflib.get_close_matches(as_text, bundled_routines(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; bundled: {', '.join(bundled_routines())}"
        raise RoutineError(f"no bundled routine or file named {excerpt(as_text, 60)}{hint}")
    return parse_routine(read_routine_text(ref), source=str(ref))  # says the file is not there


def routine_file(ref: str | Path | None) -> Path | None:
    """The file ``load_routine(ref)`` reads, or None for a bundled routine (or no routine at all)."""
    return None if ref is None else _routine_file(Path(ref))


def _bundled(name: str) -> Routine:
    text = resources.files("voiceguide.routines").joinpath(f"{name}.yaml").read_text("utf-8")
    return parse_routine(text, source=f"{name}.yaml", name=name)


def _routine_file(path: Path) -> Path | None:
    """``path`` if it exists, else ``path.yaml`` or ``path.yml`` if one does."""
    if _exists(path):
        return path
    if path.suffix.lower() in (".yaml", ".yml") or not path.name:
        return None
    for suffix in (".yaml", ".yml"):
        candidate = path.with_name(path.name + suffix)
        if _exists(candidate):
            return candidate
    return None


def read_routine_text(path: str | Path) -> str:
    """The file's text, refusing what is not a routine file before reading it whole."""
    data = read_small_file(path, MAX_FILE_BYTES, RoutineError, "routine")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise RoutineError("the file is UTF-16 text; save the routine as UTF-8", path=path, line=1)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise RoutineError("not UTF-8 text (save the routine as UTF-8)", path=path, line=line) from None


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long for the system, say: no file of that name, then
        return False
