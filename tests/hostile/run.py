#!/usr/bin/env python3
"""Run the hostile corpus through the CLI and judge every answer.

    .venv/bin/python tests/hostile/run.py            # every case as its own process (end to end)
    .venv/bin/python tests/hostile/run.py -k music   # the cases whose name contains "music"

Prints one line per case that falls short, then the counts by kind and exit status; exits 1 when
any case falls short. tests/test_hostile.py runs the same cases in process, with the same judge.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import TIME_LIMIT_S, Case, all_cases

ROOT = Path(__file__).resolve().parents[2]
VG = ROOT / ".venv" / "bin" / "voiceguide"


def base_env(where: Path) -> dict[str, str]:
    """A settings file that is empty and a cache of the run's own (warm across cases)."""
    (where / "empty.toml").write_text("")
    return {"VOICEGUIDE_CONFIG": str(where / "empty.toml"), "VOICEGUIDE_CACHE_DIR": str(where / "cache")}


def run_inprocess(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    from voiceguide.cli import main

    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(args)
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return code, out.getvalue(), err.getvalue()


def run_subprocess(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    try:
        p = subprocess.run(
            [str(VG), *args],
            capture_output=True,
            env={**os.environ, **env},
            timeout=TIME_LIMIT_S * 3,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return -9, "", "(killed: no answer)"
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def judge(case: Case, code: int, out: str, err: str, seconds: float, names: str | None) -> list[str]:
    """Everything wrong with one answer (empty when it is right)."""
    from voiceguide.errors import shown_path

    wrong = []
    if code != 2:
        wrong.append(f"exit {code}, want 2")
    if "Traceback" in out + err or "internal error" in err:
        wrong.append("a traceback or internal error")
    if not err.strip():
        wrong.append("no message on stderr")
    if seconds > TIME_LIMIT_S:
        wrong.append(f"took {seconds:.1f} s")
    shown = shown_path(names) if names and names.startswith("/") else names
    if shown and shown not in err:
        wrong.append(f"stderr does not name {shown!r}")
    if case.line is not None and shown and not re.search(re.escape(f"{shown}:{case.line}") + r"[:)]", err):
        wrong.append(f"stderr does not say {shown}:{case.line}:")
    if case.needle and case.needle not in err:
        wrong.append(f"stderr lacks {case.needle!r}")
    if case.absent and case.absent in out + err:
        wrong.append(f"stderr repeats {case.absent!r} from the file")
    return wrong


def run_case(case: Case, where: Path, env: dict[str, str], runner=run_inprocess):
    args, extra, names = case.materialise(where)
    start = time.monotonic()
    code, out, err = runner(args, {**env, **extra})
    seconds = time.monotonic() - start
    return code, out, err, seconds, judge(case, code, out, err, seconds, names)


def warm(env: dict[str, str]) -> None:
    """Render the clips the export cases need once, so each case is timed on its own input."""
    run_subprocess(["render", "--steps", "1", "--engine", "espeak-ng", "--no-checkins"], env)


def main() -> int:
    wanted = sys.argv[sys.argv.index("-k") + 1] if "-k" in sys.argv else ""
    cases = [c for c in all_cases() if wanted in c.name]
    counts: Counter = Counter()
    short = 0
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        env = base_env(root)
        warm(env)
        for k, case in enumerate(cases):
            code, _, err, seconds, wrong = run_case(case, root / f"case{k}", env, run_subprocess)
            counts[(case.kind, code)] += 1
            if wrong:
                short += 1
                print(f"FALLS SHORT {case.name[:60]!r}: {'; '.join(wrong)} :: {err.strip()[:200]!r}")
    by_kind = Counter()
    for (kind, code), n in sorted(counts.items()):
        by_kind[kind] += n
        print(f"{kind:<9} exit {code}: {n}")
    total = sum(counts.values())
    exits = Counter()
    for (_, code), n in counts.items():
        exits[code] += n
    print(
        f"hostile cases={total} "
        + " ".join(f"exit{c}={n}" for c, n in sorted(exits.items()))
        + f" short={short} ("
        + ", ".join(f"{k}={n}" for k, n in sorted(by_kind.items()))
        + ")"
    )
    return 1 if short else 0


if __name__ == "__main__":
    sys.exit(main())
