#!/usr/bin/env python3
"""Compiler speed with many cues, against the same compiler on 100 cues in the same run.

    .venv/bin/python scripts/bench_compile.py

Routines: one 2-hour step with N one-word tips, and one with N author cues spread through it
(``at`` every 7.2 s / N * 1000), for N = 100, 1,000 and 10,000; compiled in process with the
default pacing. A 2-hour step holds about 1,450 tips (each keeps 4 s clear) and 4,200 cues, so
at 10,000 most of the search is for room that is not there, the case that used to be slowest
(2,000 tips took 41 s when every candidate was checked against every placed cue).
  N=10000 seconds   target < 1 s for tips and for cues
  linear            t(10,000) / (100 x t(100)); target <= 2 (1 is linear; more is worse)
Each figure is the best of 3 runs. Exits 1 when a target is missed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from voiceguide.compiler import compile_timeline
from voiceguide.routine import Routine, RoutineStep, StepCue

STEP_MS = 2 * 3_600_000
COUNTS = (100, 1_000, 10_000)


def routine(kind: str, n: int) -> Routine:
    tips = tuple(f"Tip{k}." for k in range(n)) if kind == "tips" else ()
    cues = tuple(StepCue(k * STEP_MS // (n + 1), f"Cue{k}.") for k in range(n)) if kind == "cues" else ()
    step = RoutineStep("Long", "Begin.", STEP_MS, STEP_MS, tips, cues)
    return Routine("bench", "bench.yaml", "Bench", "", (), (), (), None, (), (step,))


def best_of(r: Routine, runs: int = 3) -> tuple[float, int]:
    best, placed = float("inf"), 0
    for _ in range(runs):
        t = time.perf_counter()
        tl = compile_timeline(r)
        best = min(best, time.perf_counter() - t)
        placed = len(tl.cues)
    return best, placed


def main() -> int:
    failed = False
    figures = []
    for kind in ("tips", "cues"):
        times = {}
        for n in COUNTS:
            times[n], placed = best_of(routine(kind, n))
            print(f"compile {kind}: {n:>6} in a 2h step  {times[n]:.3f} s  ({placed} cues placed)", file=sys.stderr)
        linear = times[COUNTS[-1]] / (COUNTS[-1] / COUNTS[0] * times[COUNTS[0]])
        figures.append(
            f"{kind}100={times[100]:.4f}s {kind}1k={times[1_000]:.3f}s {kind}10k={times[10_000]:.3f}s "
            f"{kind}_linear={linear:.2f}"
        )
        failed |= times[10_000] >= 1.0 or linear > 2.0
    print("compile " + " ".join(figures))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
