"""A hostile corpus: routine files, flags, settings files, environment values and music files that
are all bad input. Each must end in exit status 2 with a clear message naming the file (and the
line, where there is one), never exit 3 or a traceback, within 5 s.

The files are generated (many are binary, or too large to keep in git): ``Case.materialise(dir)``
writes what a case needs and returns the arguments and environment to run it with.
``tests/test_hostile.py`` runs every case in process; ``tests/hostile/run.py`` runs them as
subprocesses and prints the counts by exit status.
"""

from __future__ import annotations

import json
import math
import os
import struct
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

TIME_LIMIT_S = 5.0

#: A routine that is fine; every routine case breaks it in one way.
BASE = ["title: T", "steps:", "  - title: A", "    duration: 1m", "    instruction: Go."]


@dataclass
class Case:
    name: str
    kind: str  # routine, flag, settings, env, music
    args: list[str]  # "{file}" is replaced by the case's file path
    files: dict[str, bytes | Callable[[Path], None]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # "{file}" and "{dir}" are replaced
    names: str | None = "{file}"  # what stderr must name ("{file}", a flag, or None)
    line: int | None = None  # stderr must say "file:line:" when set
    needle: str | None = None  # stderr must contain this, when set
    absent: str | None = None  # stderr must not contain this (a secret in the file)

    def materialise(self, where: Path) -> tuple[list[str], dict[str, str], str | None]:
        where.mkdir(parents=True, exist_ok=True)
        first = None
        for rel, content in self.files.items():
            path = where / rel
            if first is None:
                first = path
            if callable(content):
                content(path)
            else:
                path.write_bytes(content)
        file = str(first) if first is not None else ""

        def fill(text: str) -> str:
            return text.replace("{file}", file).replace("{dir}", str(where))

        names = fill(self.names) if self.names else None
        return [fill(a) for a in self.args], {k: fill(v) for k, v in self.env.items()}, names


def _lines(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def _replace(index: int, text: str) -> bytes:
    lines = list(BASE)
    lines[index] = text
    return _lines(lines)


def _routine(
    name: str,
    content: bytes | Callable[[Path], None],
    line: int | None = None,
    needle: str | None = None,
    filename: str | None = None,
) -> list[Case]:
    """The same file through ``validate`` and through ``show``: both refuse it alike."""
    filename = filename or f"{name}.yaml"
    return [
        Case(f"{command}:{name}", "routine", [command, "{file}"], {filename: content}, line=line, needle=needle)
        for command in ("validate", "show")
    ]


# --- routine files ----------------------------------------------------------------------------------

DURATIONS = [
    "1e999s",
    "-0s",
    "0x10s",
    "1_000s",
    "½m",
    "٣s",
    "١٢s",
    "１m",
    ".inf",
    "-.inf",
    ".nan",
    "1.0e+999",
    "1e3",
    "9" * 400 + "s",
    "9" * 400,
    "9" * 5000,
    "0s",
    "0",
    "0.0001s",
    "-1m",
    "3-2m",
    "2-",
    "-",
    "''",
    "' '",
    "1:75",
    "1:30:00",
    "99999999999:00",
    "10h",
    "121m",
    "7201s",
    "1d",
    "1w",
    "~",
    "null",
    "[1m]",
    "{a: 1}",
    "!!int",
    "!!float",
    "!!timestamp",
    "!!bool",
    "!!binary",
    "!!set",
    "!!omap",
    "!foo 1m",
    "1m 30",
    "m",
    "s",
    "1.5.5m",
    ".5m",
    "5.m",
    "+5s",
    "5 secs",
    "1m-",
    "2m--3m",
    "1-2-3m",
    "true",
    "yes",
    "2024-02-30",
    "!!float .inf",
    "!!float .nan",
    "!!int 99999999",
    '"1e999s"',
    "'-0s'",
    "*nothing",
    "&a",
    "[]",
]

TEXTS = [
    "''",
    "' '",
    "'...'",
    "'. . .'",
    '"\\u200b\\u200b"',
    '"\\0"',
    '"Go\\0now"',
    '"\\x01"',
    '"\\e[31m"',
    '"\\ud800"',
    '"Go \\udc00"',
    '"\\ud83d\\ude00"',
    "~",
    "null",
    "[]",
    "{}",
    "[[a]]",
    "{a: b}",
    "!!int",
    "!!binary aGk=",
    "!!set {a}",
    "'—'",
    "'…'",
    "'😀'",
    "'٣'",
    "'½'",
    "x" * 2001,
    '"\\u0301"',
    '"\\u200e\\u200f"',
    '"\\u00a0"',
    '"\\u3000"',
    '"\\t\\t"',
    '"\\N"',
    '"\\x7f"',
    '"\\x9b"',
    "*undefined",
    "&a",
    "!!str",
    '"\\ufeff"',
    "'----'",
    "!!timestamp 2024-13-45",
]


def routine_cases() -> list[Case]:
    cases: list[Case] = []
    for k, v in enumerate(DURATIONS):
        cases += _routine(f"duration-{k}", _replace(3, f"    duration: {v}"), 4)
    for k, v in enumerate(TEXTS):
        cases += _routine(f"instruction-{k}", _replace(4, f"    instruction: {v}"), 5)
    for k, v in enumerate(TEXTS[:20]):
        cases += _routine(f"title-{k}", _replace(0, f"title: {v}"), 1)
    for k, v in enumerate(TEXTS[:14]):
        cases += _routine(f"tip-{k}", _lines(BASE + ["    tips:", f"      - {v}"]), 7)
    for k, v in enumerate(
        ["1e999s", ".inf", "9" * 400 + "s", "-1s", "2m", "1m", "x", "''", "[1]", "!!int", "!!float", "1:75"]
    ):
        cases += _routine(f"cue-at-{k}", _lines(BASE + ["    cues:", f"      - at: {v}", "        say: Hi."]), 7)
    for k, v in enumerate(["1e999s", ".inf", "0s", "-1s", "x", "9h", "!!int", "[]", "{}"]):
        cases += _routine(f"every-{k}", _lines(BASE + ["checkins:", f"  every: {v}", "  lines: [Hi.]"]), 7)
    structure = [
        ("empty", b"", 1),
        ("blank", b"   \n\n", 1),
        ("doc-start", b"---\n", 1),
        ("doc-end", b"...\n", 1),
        ("list", b"- a\n- b\n", 1),
        ("word", b"a\n", 1),
        ("number", b"42\n", 1),
        ("null", b"~\n", 1),
        ("brackets", b"[]\n", 1),
        ("braces", b"{}\n", 1),
        ("steps-map", b"title: T\nsteps: {}\n", 2),
        ("steps-empty", b"title: T\nsteps: []\n", 2),
        ("steps-word", b"title: T\nsteps: x\n", 2),
        ("steps-nested", b"title: T\nsteps: [[]]\n", 3 - 1),
        ("steps-number", b"title: T\nsteps: [1]\n", 2),
        ("steps-null", b"title: T\nsteps: [~]\n", 2),
        ("steps-null-value", b"title: T\nsteps:\n", 2),
        ("no-title", _lines(BASE[1:]), 1),
        ("no-steps", b"title: T\n", 1),
        ("no-duration", _lines(BASE[:3] + BASE[4:]), 3),
        ("no-instruction", _lines(BASE[:4]), 3),
        ("step-title-missing", _lines(BASE[:2] + ["  - duration: 1m", "    instruction: Go."]), 3),
        ("cues-map", _lines(BASE + ["    cues: {at: 1s, say: Hi.}"]), 6),
        ("cues-word", _lines(BASE + ["    cues: soon"]), 6),
        ("cue-no-say", _lines(BASE + ["    cues:", "      - at: 10s"]), 7),
        ("cue-list", _lines(BASE + ["    cues:", "      - [10s, Hi.]"]), 7),
        ("sides-one", _lines(BASE + ["    sides: [left]"]), 6),
        ("sides-three", _lines(BASE + ["    sides: [a, b, c]"]), 6),
        ("sides-word", _lines(BASE + ["    sides: left"]), 6),
        ("sides-map", _lines(BASE + ["    sides: {left: right}"]), 6),
        ("tips-map", _lines(BASE + ["    tips: {a: 1}"]), 6),
        ("checkins-every-only", _lines(BASE + ["checkins:", "  every: 60s"]), 6),
        ("checkins-no-lines", _lines(BASE + ["checkins: {every: 60s, lines: []}"]), 6),
        ("checkins-number", _lines(BASE + ["checkins: 5"]), 6),
        ("checkins-lines-map", _lines(BASE + ["checkins:", "  lines: {a: b}"]), 7),
        ("setup-map", _lines(BASE + ["setup: {a: b}"]), 6),
        ("closing-empty-item", _lines(BASE + ["closing: ['']"]), 6),
        ("unknown-top", _lines(BASE + ["titel: x"]), 6),
        ("unknown-step", _lines(BASE + ["    duratoin: 1m"]), 6),
        ("duplicate-top", _lines(BASE + ["title: Again"]), 6),
        ("duplicate-step", _lines(BASE + ["    duration: 2m"]), 6),
        ("key-list", _lines(BASE + ["? [a, b]", ": c"]), 6),
        ("key-map", _lines(BASE + ["? {a: b}", ": c"]), 6),
        ("key-null", _lines(BASE + ["~: x"]), 6),
        ("key-empty", _lines(BASE + ["'': x"]), 6),
        ("key-number", _lines(BASE + ["1: x"]), 6),
        ("key-bool", _lines(BASE + ["true: x"]), 6),
        ("key-binary", _lines(BASE + ["!!binary aGk=: x"]), 6),
        ("key-long", _lines(BASE + ["k" * 5000 + ": x"]), 6),
        ("deep-flow", ("title: " + "[" * 5000 + "]" * 5000 + "\n").encode(), 1),
        ("deep-block", ("title:\n" + "".join("  " * i + "- \n" for i in range(1, 600))).encode(), 21),
        ("deep-map", ("".join("  " * i + f"k{i}:\n" for i in range(600))).encode(), 21),
        (
            "billion-laughs",
            (
                "a: &a ["
                + ",".join(["lol"] * 10)
                + "]\n"
                + "".join(f"{c}: &{c} [" + ",".join([f"*{p}"] * 10) + "]\n" for p, c in zip("abcdefgh", "bcdefghi"))
                + "title: T\n"
            ).encode(),
            None,
        ),
        (
            "alias-bomb-text",
            (
                "t: &t "
                + "x" * 1900
                + "\n"
                + "\n".join(_lines(BASE).decode().splitlines())
                + "\n    tips: ["
                + ", ".join(["*t"] * 3000)
                + "]\n"
            ).encode(),
            None,
        ),
        ("self-alias", b"title: &t [*t]\nsteps: []\n", 1),
        ("undefined-alias", b"title: *nowhere\n", 1),
        ("duplicate-anchor", b"a: &x 1\nb: &x 2\n", 2),
        ("merge-scalar", _lines(BASE + ["<<: 5"]), 6),
        ("merge-cycle", b"a: &a {<<: *a}\n", 1),
        (
            "merge-chain",
            (
                "a0: &a0 {x: 1}\n" + "".join(f"a{i}: &a{i} {{<<: *a{i - 1}, y{i}: 1}}\n" for i in range(1, 3000))
            ).encode(),
            None,
        ),
        ("many-steps", ("title: T\nsteps:\n" + "  - {title: A, duration: 1m, instruction: Go.}\n" * 201).encode(), 2),
        ("many-tips", _lines(BASE + ["    tips:"] + ["      - Tip."] * 10_001), 6),
        ("long-session", ("title: T\nsteps:\n" + "  - {title: A, duration: 2h, instruction: Go.}\n" * 5).encode(), 2),
        ("too-large", lambda p: p.write_bytes(_lines(BASE) + b"# " + b"x" * 1_100_000 + b"\n"), None),
        ("long-line", ("title: " + "x" * 200_000 + "\n" + "\n".join(BASE[1:]) + "\n").encode(), 1),
        ("multi-doc", _lines(BASE) + b"---\n" + _lines(BASE), 6),
        ("directive", b"%YAML 9.9\n---\n" + _lines(BASE), 1),
        ("unclosed-flow", _lines(BASE[:3] + ["    duration: [1m"] + BASE[4:]), 4),
        ("unclosed-quote", _lines(BASE[:4] + ['    instruction: "Go.']), 5),
        ("colon-space", _lines(BASE[:4] + ["    instruction: a: b"]), 5),
        ("bad-indent", _lines(BASE[:4] + ["   instruction: Go."]), 5),
        ("tabs", _lines(BASE[:4] + ["\tinstruction: Go."]), 5),
        ("tab-in-flow", b"title: T\nsteps:\n  - {title: A,\n\tduration: 1m}\n", None),
        ("crlf-error", _replace(3, "    duration: soon").replace(b"\n", b"\r\n"), 4),
        ("cr-error", _replace(3, "    duration: soon").replace(b"\n", b"\r"), 4),
        ("bom-error", b"\xef\xbb\xbf" + _replace(3, "    duration: soon"), 4),
        # two BOMs (a file saved twice by a BOM-adding editor) read as one: the lines still count right
        ("double-bom-error", b"\xef\xbb\xbf\xef\xbb\xbf" + _replace(3, "    duration: soon"), 4),
        ("utf16-le", b"\xff\xfe" + _lines(BASE).decode().encode("utf-16-le"), 1),
        ("utf16-be", b"\xfe\xff" + _lines(BASE).decode().encode("utf-16-be"), 1),
        ("utf16-nobom", _lines(BASE).decode().encode("utf-16-le"), 1),
        ("utf32", _lines(BASE).decode().encode("utf-32"), 1),
        ("latin1", _replace(4, "    instruction: Caf\xe9.").decode().encode("latin-1"), 5),
        ("invalid-utf8", _lines(BASE[:2]) + b"  - title: \xff\xfe\n" + _lines(BASE[3:]), 3),
        ("overlong-utf8", _replace(4, "    instruction: X").replace(b"X", b"\xc0\xaf"), 5),
        ("surrogate-utf8", _replace(4, "    instruction: X").replace(b"X", b"\xed\xa0\x80"), 5),
        ("raw-nul", _replace(4, "    instruction: Go\0."), 5),
        ("raw-bell", _replace(4, "    instruction: Go\a."), 5),
        ("raw-escape", _replace(4, "    instruction: Go\x1b[2J."), 5),
        ("raw-del", _replace(4, "    instruction: Go\x7f."), 5),
        ("raw-fffe", _replace(4, "    instruction: Go\ufffe."), 5),
        ("raw-c1", _replace(4, "    instruction: Go\x9b."), 5),
        ("png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, None),
        ("gzip", b"\x1f\x8b\x08\x00" + bytes(range(256)), None),
        ("json-list", json.dumps([1, 2, 3]).encode(), 1),
        ("toml", b'rate = 150\n[show]\nsteps = "1-2"\n', None),
        ("passwd", b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n", 1),
        ("shadow", b"root:$6$saltsalt$Q9secretsecretsecret:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\n", 1),
        (
            "six-problems",
            _lines(
                [
                    "title: ''",
                    "steps:",
                    "  - title: A",
                    "    duration: 0s",
                    "    instruction: .",
                    "    tips: [{}]",
                    "    cues:",
                    "      - at: 2m",
                    "        say: ''",
                ]
            ),
            1,
        ),
    ]
    for name, content, line in structure:
        cases += _routine(name, content, line)
    # secrets stay secret: the hash after the first few characters never appears
    for c in cases:
        if c.name.endswith(":shadow"):
            c.absent = "Q9secretsecretsecret"
    cases += _special_paths()
    return cases


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _folder(path: Path) -> None:
    path.mkdir()
    (path / "inside.yaml").write_bytes(_lines(BASE))


def _loop(path: Path) -> None:
    path.symlink_to(path.name)


def _dangling(path: Path) -> None:
    path.symlink_to(path.with_name("nowhere.yaml"))


def _to_device(target: str) -> Callable[[Path], None]:
    return lambda path: path.symlink_to(target)


def _special_paths() -> list[Case]:
    """Paths that are not routine files at all; each through validate and show."""
    out: list[Case] = []
    for name, make in [
        ("fifo", _fifo),
        ("folder", _folder),
        ("symlink-loop", _loop),
        ("dangling", _dangling),
        ("dev-zero", _to_device("/dev/zero")),
        ("dev-null", _to_device("/dev/null")),
        ("dev-urandom", _to_device("/dev/urandom")),
    ]:
        out += _routine(f"path-{name}", make)
    for name, filename in [
        ("newline-name", "bad\nname.yaml"),
        ("bytes-name", os.fsdecode(b"bad\xffname.yaml")),
        ("escape-name", "bad\x1b[31mname.yaml"),
    ]:
        out += _routine(name, _replace(3, "    duration: soon"), 4, filename=filename)
    out.append(Case("validate:missing", "routine", ["validate", "{dir}/missing.yaml"], names="missing.yaml"))
    out.append(Case("show:missing", "routine", ["show", "{dir}/missing.yaml"], names="missing.yaml"))
    out.append(Case("show:long-name", "routine", ["show", "x" * 5000], names="no bundled routine"))
    return out


# --- flags ------------------------------------------------------------------------------------------


def flag_cases() -> list[Case]:
    big = "9" * 5000
    rows = [
        ["--rate", "70"],
        ["--rate", "500"],
        ["--rate", "abc"],
        ["--rate", "150.5"],
        ["--rate", "1e3"],
        ["--rate", big],
        ["--rate", ""],
        ["--rate", "-0"],
        ["--pace", "0"],
        ["--pace", "-1"],
        ["--pace", "nan"],
        ["--pace", "inf"],
        ["--pace", "1e999"],
        ["--pace", "abc"],
        ["--pace", ""],
        ["--length", "2m"],
        ["--length", "1e999s"],
        ["--length", "9" * 400 + "s"],
        ["--length", "-0s"],
        ["--length", "0x10s"],
        ["--length", "٣s"],
        ["--length", ""],
        ["--length", "9h"],
        ["--length", "soon"],
        ["--length", "0s"],
        ["--steps", "0"],
        ["--steps", "8"],
        ["--steps", "3-1"],
        ["--steps", big],
        ["--steps", ","],
        ["--steps", "massage"],
        ["--steps", "ion"],
        ["--steps", "1-" + big],
        ["--lead-in", "11m"],
        ["--lead-in", "-1s"],
        ["--lead-in", "x"],
        ["--countdown", "x"],
        ["--countdown", "0s"],
        ["--countdown", "2h"],
        ["--countdown", "1e999s"],
        ["--checkin-every", "1s"],
        ["--checkin-every", "9h"],
        ["--checkin-every", "x"],
        ["--engine", "bogus"],
        ["--engine", ""],
        ["--engine", "AUTO"],
        ["--engine", "espeak-ng", "--voice", "bogus"],
        ["--engine", "espeak-ng", "--voice", " "],
        ["--volume", "0"],
        ["--volume", "2"],
        ["--volume", "nan"],
        ["--volume", "-1"],
        ["--volume", "x"],
        ["--bogus-flag"],
        ["extra", "args"],
    ]

    def named(r: list[str]) -> str | None:
        if "--voice" in r:
            return "voice"
        if r[0] == "--engine":
            return "engine"
        if r[0] == "--volume":
            return "volume"
        return r[0] if r[0].startswith("-") else None

    cases = [Case(f"show {' '.join(r)[:40]}", "flag", ["show", *r], names=named(r)) for r in rows]
    for name, what in (("--engine bogus", "engine"), ("--engine espeak-ng --voice bogus", "voice")):
        cases.append(Case(f"render {name}", "flag", ["render", *name.split()], names=what))
    export = ["export", "--steps", "1", "--engine", "espeak-ng", "--no-checkins"]
    for r in [
        ["--music-volume", "nan"],
        ["--music-volume", "inf"],
        ["--music-volume", "100"],
        ["--music-volume", "x"],
        ["--sample-rate", "1"],
        ["--sample-rate", "44100.5"],
        ["--sample-rate", "x"],
        ["--chime", "x"],
        ["--chapters", "x"],
        ["--bitrate", "7k"],
        ["--bitrate", "x"],
    ]:
        cases.append(Case(f"export {' '.join(r)}", "flag", [*export, *r, "-o", "{dir}/out.mp3"], names=None))
    for out in ["{dir}/no/such/dir/x.mp3", "{dir}/x.txt", "{dir}"]:
        cases.append(Case(f"export -o {out[5:]}", "flag", [*export, "-o", out], names=None))
    cases += [
        Case("voices --engine bogus", "flag", ["voices", "--engine", "bogus"], names="bogus"),
        Case("cache prune x", "flag", ["cache", "prune", "--older-than", "x"], names="--older-than"),
        Case("cache prune huge", "flag", ["cache", "prune", "--older-than", "9" * 400 + "d"], names="--older-than"),
        Case("validate nothing", "flag", ["validate"], names="FILES"),
        Case("play --output x", "flag", ["play", "--output", "x"], names="--output"),
    ]
    return cases


# --- settings files ---------------------------------------------------------------------------------

SETTINGS = [
    ('rate = "fast"\n', 1),
    ("rate = 150.5\n", 1),
    ("rate = inf\n", 1),
    ("rate = nan\n", 1),
    ("rate = -inf\n", 1),
    ("rate = 1e999\n", 1),
    ("rate = [1]\n", 1),
    ("rate = {a = 1}\n", 1),
    ("rate = 1979-05-27\n", 1),
    ("rate = true\n", 1),
    ("rate = 500\n", 1),
    ("rate = 70\n", 1),
    ('pace = "x"\n', 1),
    ("pace = inf\n", 1),
    ("pace = 20\n", 1),
    ("sample-rate = 44100.5\n", 1),
    ("volume = 5\n", 1),
    ('length = "soon"\n', 1),
    ('length = "1e999s"\n', 1),
    ('countdown = "0s"\n', 1),
    ('chime = "gong"\n', 1),
    ("no-checkins = 1\n", 1),
    ('engine = "bogus"\n', 1),
    ('cache-dir = "a\\u0000b"\n', 1),
    ("music-volume = nan\n", 1),
    ("\n\n[show]\nrate = 150.5\n", 4),
    ("[show]\nplay = 1\n", 2),
    ("rat = 150\n", 1),
    ("[plya]\nrate = 1\n", 1),
    ("show = 5\n", 1),
    ("[keys]\npause = 1\n", 2),
    ('[keys]\npause = "spacebar"\n', 2),
    ('[keys]\njump = "j"\n', 2),
    ("keys = 5\n", 1),
    ('[keys]\npause = "n"\n', 1),
    ('[play]\nkeymap = "x"\n', 2),
    ('rate = 150\nmusic = "unclosed\n', 2),
    ("rate = 1\nrate = 2\n", 2),
    ("= 1\n", 1),
    ("[show\n", 1),
    ("a = " + "[" * 3000 + "1" + "]" * 3000 + "\n", None),
    ('length = "5s"\n', 1),
    ('voice = "bogus"\n', 2),
]


def settings_cases() -> list[Case]:
    cases = []
    for k, (text, line) in enumerate(SETTINGS):
        data = text.encode("utf-8")
        if 'voice = "bogus"' in text:
            data = b'engine = "espeak-ng"\n' + data
        cases.append(
            Case(
                f"settings-{k}",
                "settings",
                ["show", "--steps", "1"],
                {"config.toml": data},
                env={"VOICEGUIDE_CONFIG": "{file}"},
                line=line,
            )
        )
    for name, data, line in [
        ("binary", bytes(range(256)), None),
        ("utf16", "rate = 150\n".encode("utf-16"), 1),
        ("latin1", 'music = "caf\xe9"\n'.encode("latin-1"), 1),
        ("nul", b"rate = 1\0\n", None),
        ("huge", b"# " + b"x" * 70_000 + b"\n", None),
    ]:
        cases.append(
            Case(
                f"settings-{name}",
                "settings",
                ["show", "--steps", "1"],
                {"config.toml": data},
                env={"VOICEGUIDE_CONFIG": "{file}"},
                line=line,
            )
        )
    return cases


def env_cases() -> list[Case]:
    return [
        Case("env-config-dev-zero", "env", ["show"], env={"VOICEGUIDE_CONFIG": "/dev/zero"}, names="/dev/zero"),
        Case("env-config-fifo", "env", ["show"], {"fifo.toml": _fifo}, env={"VOICEGUIDE_CONFIG": "{file}"}),
        Case("env-config-folder", "env", ["show"], env={"VOICEGUIDE_CONFIG": "{dir}"}, names="{dir}"),
        Case("env-config-missing", "env", ["show"], env={"VOICEGUIDE_CONFIG": "{dir}/none.toml"}, names="none.toml"),
        Case("env-config-loop", "env", ["show"], {"loop.toml": _loop}, env={"VOICEGUIDE_CONFIG": "{file}"}),
        Case("env-config-urandom", "env", ["show"], env={"VOICEGUIDE_CONFIG": "/dev/urandom"}, names="/dev/urandom"),
    ]


# --- music files --------------------------------------------------------------------------------------


def _wav(frames: bytes, rate: int = 44100, channels: int = 1, width: int = 2) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        with wave.open(str(path), "wb") as w:
            w.setnchannels(channels)
            w.setsampwidth(width)
            w.setframerate(rate)
            w.writeframes(frames)

    return make


def _float_wav(value: float, seconds: float = 2.0, rate: int = 8000) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        n = int(seconds * rate)
        data = struct.pack(f"<{n}f", *([value] * n))
        fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
        path.write_bytes(
            b"RIFF"
            + struct.pack("<I", 36 + len(data))
            + b"WAVEfmt "
            + struct.pack("<I", 16)
            + fmt
            + b"data"
            + struct.pack("<I", len(data))
            + data
        )

    return make


def _lying_wav(path: Path) -> None:
    _wav(b"\x10\x00" * 100)(path)
    data = bytearray(path.read_bytes())
    data[40:44] = struct.pack("<I", 0x7FFFFFF0)  # says 2 GB of samples
    path.write_bytes(bytes(data))


def _music_folder(files: dict[str, bytes]) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.mkdir()
        for name, data in files.items():
            (path / name).write_bytes(data)

    return make


def music_cases() -> list[Case]:
    tone = struct.pack("<8000h", *(int(8000 * math.sin(i / 5)) for i in range(8000)))
    rows: list[tuple[str, str, bytes | Callable[[Path], None]]] = [
        ("two-samples", "two.wav", _wav(struct.pack("<2h", 1000, -1000))),
        ("no-frames", "zero.wav", _wav(b"")),
        ("tenth-second", "short.wav", _wav(tone[:1600], rate=8000)),
        ("empty", "empty.mp3", b""),
        ("text", "text.mp3", b"hello\n" * 100),
        ("noise-bytes", "noise.wav", bytes(range(256)) * 20),
        ("header-only", "head.wav", b"RIFF\x24\x00\x00\x00WAVEfmt "),
        ("lying-size", "lying.wav", _lying_wav),
        ("silent", "silent.wav", _wav(b"\x00\x00" * 16000, rate=8000)),
        ("nan", "nan.wav", _float_wav(math.nan)),
        ("inf", "inf.wav", _float_wav(math.inf)),
        ("id3-only", "tag.mp3", b"ID3\x04\x00\x00\x00\x00\x00\x00"),
        ("folder-empty", "empty-folder", _music_folder({})),
        ("folder-broken", "broken-folder", _music_folder({"a.mp3": b"not audio", "b.wav": b""})),
        ("folder-named-mp3", "folder.mp3", _music_folder({"readme.txt": b"x"})),
        ("fifo", "pipe.mp3", _fifo),
        ("dev-zero", "zero.mp3", _to_device("/dev/zero")),
        ("loop", "loop.mp3", _loop),
        ("dangling", "gone.mp3", _dangling),
    ]
    export = ["export", "--steps", "1", "--engine", "espeak-ng", "--no-checkins", "-o", "{dir}/out.mp3"]
    cases = [
        Case(f"music-{name}", "music", [*export, "--music", "{file}"], {fname: make}) for name, fname, make in rows
    ]
    cases.append(Case("music-missing", "music", [*export, "--music", "{dir}/missing.mp3"], names="missing.mp3"))
    return cases


def all_cases() -> list[Case]:
    return routine_cases() + flag_cases() + settings_cases() + env_cases() + music_cases()
