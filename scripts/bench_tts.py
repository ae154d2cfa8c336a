#!/usr/bin/env python3
"""TTS speed, as ratios against a baseline measured in the same run.

    .venv/bin/python scripts/bench_tts.py

Texts: every distinct spoken text of the bundled routine (from ``voiceguide show --json``).
Baseline: the espeak-ng command line once per text, one after another.
  cold/espeak-cli  ``voiceguide render --engine espeak-ng`` into an empty cache, a whole process
                   (start-up included), as the acceptance check measures it; target <= 1.0
  warm/cold        ``render_clips`` with every clip cached, in process; target <= 0.05
Also printed, not judged: the warm CLI process (mostly interpreter start-up), pyttsx3 cold, and
what checking every clip against its digest costs (reading them all, as a mixer with a cold mix/
does; a warm render reads headers only and does not pay it).

The neural voice (when piper is installed), against its own baseline: a few lines of Python that
load the voice once and synthesize each text in turn with piper's defaults (its session uses
every core), timed from the import of piper:
  piper cold/bare  ``voiceguide render`` (auto picks piper) into an empty cache, a whole
                   process; target <= 0.6
  piper warm/cold  ``render_clips`` with every clip cached, in process; target <= 0.05
Each figure is the median of a few runs. Exits 1 when a target is missed.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VG = ROOT / ".venv" / "bin" / "voiceguide"
RUNS = 3


def routine_texts() -> list[str]:
    p = subprocess.run([str(VG), "show", "--json"], capture_output=True, text=True, cwd=ROOT)
    if p.returncode != 0:
        raise SystemExit(f"bench_tts: voiceguide show --json failed: {p.stderr.strip()[-200:]}")
    cues = json.loads(p.stdout)["cues"]
    return list(dict.fromkeys(c["text"] for c in cues if c.get("text")))


def espeak_cli(texts: list[str]) -> float:
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        for k, text in enumerate(texts):
            subprocess.run(["espeak-ng", "-w", f"{d}/{k}.wav", text], check=True)
        return time.perf_counter() - t


def cli_render(cache: str, engine: str) -> float:
    env = {**os.environ, "VOICEGUIDE_CACHE_DIR": cache}
    t = time.perf_counter()
    p = subprocess.run([str(VG), "render", "--engine", engine], capture_output=True, text=True, env=env, cwd=ROOT)
    elapsed = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"bench_tts: voiceguide render --engine {engine} failed: {p.stderr.strip()[-200:]}")
    return elapsed


BARE_PIPER = r"""
import json, sys, time, wave, io
texts = json.loads(sys.stdin.read())
t = time.perf_counter()
from piper import PiperVoice
from voiceguide.tts.piper_engine import PiperEngine
voice = PiperVoice.load(str(PiperEngine().default_voice().model))
for text in texts:
    with wave.open(io.BytesIO(), "wb") as w:
        voice.synthesize_wav(text, w)
print(time.perf_counter() - t)
"""


def bare_piper(texts: list[str]) -> float:
    p = subprocess.run(
        [sys.executable, "-c", BARE_PIPER], input=json.dumps(texts), capture_output=True, text=True, cwd=ROOT
    )
    if p.returncode != 0:
        raise SystemExit(f"bench_tts: the bare piper loop failed: {p.stderr.strip()[-200:]}")
    return float(p.stdout.strip().splitlines()[-1])


def piper_figures(texts: list[str]) -> tuple[str, bool]:
    from voiceguide.tts import ClipCache, VoiceSettings, get_engine, render_clips

    if not get_engine("piper").available():
        return "piper not installed (scripts/bootstrap --neural-voice)", True
    bare, cold, warm = [], [], []
    for _ in range(RUNS):
        bare.append(bare_piper(texts))
        with tempfile.TemporaryDirectory() as d:
            cold.append(cli_render(d, "auto"))
            t = time.perf_counter()
            result = render_clips(texts, VoiceSettings(), ClipCache(d))
            warm.append(time.perf_counter() - t)
            if result.rendered or result.engine != "piper":
                raise SystemExit(f"bench_tts: the warm piper render rendered {result.rendered} with {result.engine}")
    b, c, w = (statistics.median(x) for x in (bare, cold, warm))
    ok = c / b <= 0.6 and w / c <= 0.05
    return (
        f"piper cold/bare={c / b:.2f} warm/cold={w / c:.3f} "
        f"(bare {b:.1f}s, cold {c:.1f}s, warm {w * 1000:.0f}ms in process)"
    ), ok


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))
    from voiceguide.tts import ClipCache, VoiceSettings, render_clips

    texts = routine_texts()
    base, cold, warm, warm_cli, py_cold, checked = [], [], [], [], [], []
    for _ in range(RUNS):
        base.append(espeak_cli(texts))
        with tempfile.TemporaryDirectory() as d:
            cold.append(cli_render(d, "espeak-ng"))
            warm_cli.append(cli_render(d, "espeak-ng"))
            cache = ClipCache(d)
            settings = VoiceSettings(engine="espeak-ng")
            t = time.perf_counter()
            result = render_clips(texts, settings, cache)
            warm.append(time.perf_counter() - t)
            if result.rendered:
                print(f"bench_tts: the warm render rendered {result.rendered} clips", file=sys.stderr)
                return 1
            t = time.perf_counter()
            for clip in result.clips.values():
                clip.read()  # the samples, checked against the clip's digest
            checked.append(time.perf_counter() - t)
        with tempfile.TemporaryDirectory() as d:
            py_cold.append(cli_render(d, "pyttsx3"))
    b, c, w, wc, pc, ck = (statistics.median(x) for x in (base, cold, warm, warm_cli, py_cold, checked))
    cold_ratio, warm_ratio = c / b, w / c
    print(
        f"tts texts={len(texts)} cold/espeak-cli={cold_ratio:.2f} warm/cold={warm_ratio:.3f} "
        f"(cli {b:.2f}s, cold {c:.2f}s, warm {w * 1000:.1f}ms in process; "
        f"warm-process/cold={wc / c:.2f}, pyttsx3-cold/espeak-cli={pc / b:.2f}, "
        f"every clip read and checked {ck * 1000:.1f}ms)"
    )
    line, piper_ok = piper_figures(texts)
    print(f"tts {line}")
    return 0 if cold_ratio <= 1.0 and warm_ratio <= 0.05 and piper_ok else 1


if __name__ == "__main__":
    sys.exit(main())
