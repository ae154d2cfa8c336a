#!/usr/bin/env python3
"""Export speed, memory and joins, measured against a bare ffmpeg encode in the same run.

    .venv/bin/python scripts/bench_export.py              # 20 minutes, and --pace 3 (57) for memory
    .venv/bin/python scripts/bench_export.py --hand       # a hand-built 20 and 60 minutes, no CLI
    .venv/bin/python scripts/bench_export.py --hand --minutes 3   # a quick look

By default the sessions are the bundled routine exported through ``voiceguide export`` (as a user
would, clips rendered beforehand: the first export after ``render`` also does the mixer's one-off
work, the second finds it cached), with the built-in music and with a stereo music file (a
different moving tone in each ear, 40 s, as the acceptance check makes it). ``--hand`` builds a
routine-like timeline from espeak-ng clips and calls the library directly, which isolates the
audio engine from the rest of the start-up.

Prints, last line (measured on 2 cores):
    export20/bare_ffmpeg=0.37 export20_warm/bare_ffmpeg=0.28 with_stereo_music=0.45 rss20=144MB rsspace3=102MB
    seam=-0.2dB extra_samples=0   (one line when printed)
The bare encode is ``ffmpeg -f lavfi -i anoisesrc=...:c=pink -ac 2 -c:a libmp3lame -b:a 128k`` of the
same length; wall times include process start-up; RSS is each export process's peak. ``seam`` is
the acceptance check's join measure, on the stereo-music export: the worst 50 ms window of its
error against the WAV export, minus the same for a single-pass encode of that WAV (dB, lower is
better); ``extra_samples``: decoded length minus the session's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VG = ROOT / ".venv" / "bin" / "voiceguide"


def measure(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of ``cmd``, run through a fresh intermediate process so the
    RSS is this command's alone (RUSAGE_CHILDREN keeps the maximum over all children ever waited)."""
    probe = [sys.executable, __file__, "--run", "--", *cmd]
    out = subprocess.run(probe, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if out.returncode:
        sys.exit(f"bench: {' '.join(cmd[:3])}... failed:\n{out.stderr[-2000:]}")
    wall, rss = out.stdout.strip().splitlines()[-1].split()
    return float(wall), float(rss)


def run_and_report(cmd: list[str]) -> int:
    t = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t
    if p.returncode:
        sys.stderr.write(p.stderr)
        return p.returncode
    rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"{wall:.3f} {rss_kb / 1024:.1f}")
    return 0


def bare_ffmpeg(minutes: float, out: Path) -> list[str]:
    return [
        "ffmpeg",
        "-v",
        "error",
        "-f",
        "lavfi",
        "-i",
        f"anoisesrc=d={minutes * 60:g}:c=pink:r=44100:a=0.05",
        "-ac",
        "2",
        "-c:a",
        "libmp3lame",
        "-b:a",
        "128k",
        "-y",
        str(out),
    ]


# -- a hand-built session (--hand) ----------------------------------------------------------------

LINES = {
    "setup": ["Welcome. Warm your hands and find a comfortable position.", "Never press directly on the spine."],
    "checkin": ["Check in with your partner about the pressure.", "Keep breathing slowly and evenly."],
    "instruction": "Use long, slow strokes from the lower back up to the shoulders, then glide back down.",
    "countdown": "Thirty seconds left.",
    "closing": "That is the end of the session. Let your partner rest.",
}


def hand_texts(steps: int = 7) -> list[str]:
    texts = LINES["setup"] + LINES["checkin"] + [LINES["instruction"], LINES["countdown"], LINES["closing"]]
    return texts + [f"Step {i} of {steps}: technique {i}." for i in range(1, steps + 1)]


def render_espeak(texts: list[str], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, text in enumerate(texts):
        subprocess.run(["espeak-ng", "-w", str(folder / f"{i}.wav"), text], check=True)
    (folder / "texts.json").write_text(json.dumps(texts))


def hand_export(minutes: float, out: Path, clip_dir: Path, cache_dir: Path) -> None:
    """Runs in the measured child: load the clips, build the timeline and mixer, export."""
    from voiceguide.cli import _tune_allocator

    _tune_allocator()  # what the command line's entry point does for every command
    import numpy as np

    from voiceguide.audio import ArrayClip, MixSettings, build_mixer, export_session
    from voiceguide.background import Background
    from voiceguide.timeline import Cue, CueKind, Step, Timeline

    texts = json.loads((clip_dir / "texts.json").read_text())
    clips = {}
    for i, text in enumerate(texts):
        with wave.open(str(clip_dir / f"{i}.wav")) as w:
            x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768
            clips[text] = ArrayClip(x, w.getframerate(), key=f"espeak-ng:{text}")
    steps = 7
    total = int(minutes * 60000)
    intro, outro = 25000, 15000
    step_len = (total - intro - outro) // steps
    cues, step_list = [], []

    def say(t, text, kind, step):
        c = clips[text]
        end = t + -(-c.frames * 1000 // c.sample_rate)
        cues.append(Cue(t, end, kind, text, step))
        return end + 800

    t = 500
    for line in LINES["setup"]:
        t = say(t, line, CueKind.SETUP, None)
    for i in range(steps):
        s0, s1 = intro + i * step_len, intro + (i + 1) * step_len
        step_list.append(Step(i + 1, i + 1, f"Technique {i + 1}", s0, s1))
        cues.append(Cue(s0, s0 + 1500, CueKind.TRANSITION, "", i + 1))
        t = say(s0 + 1500, f"Step {i + 1} of {steps}: technique {i + 1}.", CueKind.ANNOUNCE, i + 1)
        t = say(t, LINES["instruction"], CueKind.INSTRUCTION, i + 1)
        k = 0
        while t + 40000 < s1 - 35000:
            t = say(t + 40000, LINES["checkin"][k % 2], CueKind.CHECKIN, i + 1)
            k += 1
        say(s1 - 32000, LINES["countdown"], CueKind.COUNTDOWN, i + 1)
    t = say(step_list[-1].end_ms + 800, LINES["closing"], CueKind.CLOSING, None)
    cues.append(Cue(t, t + 1500, CueKind.TRANSITION, "", None))
    cues.sort(key=lambda c: c.start_ms)
    tl = Timeline("Back massage (bench)", "bench", total, tuple(step_list), tuple(cues), {"length": f"{minutes}m"})
    with Background() as background:  # the threads a command would give it
        mixer = build_mixer(tl, clips, MixSettings(cache_dir=cache_dir), background)
        export_session(mixer, out, background=background)


# -- the run ---------------------------------------------------------------------------------------

STEREO_MUSIC = (
    "aevalsrc=0.2*sin(2*PI*220*t)*(0.6+0.4*sin(2*PI*0.1*t))|0.2*sin(2*PI*277*t)*(0.6+0.4*cos(2*PI*0.13*t)):s=44100:d=40"
)


def seam(mp3: Path, wav: Path, scratch: Path) -> tuple[float, int]:
    """(worst-window dB of mp3 minus that of a single-pass encode of wav, extra decoded samples)."""
    import numpy as np

    def decode(path: Path) -> np.ndarray:
        out = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "2", "-ar", "44100", "-"],
            capture_output=True,
            check=True,
        ).stdout
        return np.frombuffer(out, np.float32).reshape(-1, 2)

    def worst(decoded: np.ndarray, truth: np.ndarray) -> float:
        n = min(len(decoded), len(truth))
        err = (decoded[:n] - truth[:n]).mean(axis=1)
        k = n // 2205
        return float(20 * np.log10(np.sqrt((err[: k * 2205].reshape(k, 2205) ** 2).mean(axis=1)).max() + 1e-12))

    single = scratch / "single.mp3"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(wav), "-c:a", "libmp3lame", "-b:a", "128k", "-y", str(single)], check=True
    )
    truth, ours = decode(wav), decode(mp3)
    return worst(ours, truth) - worst(decode(single), truth), len(ours) - len(truth)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--run"]:
        return run_and_report(argv[2:])
    if argv[:1] == ["--hand-child"]:
        minutes, out, clip_dir, cache_dir = argv[1:5]
        hand_export(float(minutes), Path(out), Path(clip_dir), Path(cache_dir))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--minutes", type=float, default=20.0, help="session length; memory is also taken at 3x")
    ap.add_argument("--hand", action="store_true", help="a hand-built session through the library, not the CLI")
    args = ap.parse_args(argv)
    use_cli = not args.hand and VG.exists()
    n = args.minutes
    tag = f"{n:g}"
    with tempfile.TemporaryDirectory(prefix="voiceguide-bench-") as d:
        d = Path(d)
        cache = d / "cache"
        env = {"VOICEGUIDE_CACHE_DIR": str(cache)}
        if not use_cli:
            render_espeak(hand_texts(), d / "clips")

            def export(minutes: float, out: Path) -> tuple[float, float]:
                return measure(
                    [sys.executable, __file__, "--hand-child", str(minutes), str(out), str(d / "clips"), str(cache)]
                )

            bare, _ = measure(bare_ffmpeg(n, d / "bare.mp3"))
            cold, rss = export(n, d / "cold.mp3")
            warm, rss_warm = export(n, d / "warm.mp3")
            bare2, _ = measure(bare_ffmpeg(n, d / "bare2.mp3"))
            _, rss_long = export(3 * n, d / "long.mp3")
            bare = (bare + bare2) / 2
            print(
                f"bare ffmpeg {bare:.2f}s, export {cold:.2f}s (first), {warm:.2f}s (warm); via the library "
                "(hand-built session)",
                file=sys.stderr,
            )
            print(
                f"export{tag}/bare_ffmpeg={cold / bare:.2f} export{tag}_warm/bare_ffmpeg={warm / bare:.2f} "
                f"rss{tag}={max(rss, rss_warm):.0f}MB rss{3 * n:g}={rss_long:.0f}MB"
            )
            return 0

        # the long session: the routine at three times its pace (the routine cannot be fitted to
        # an arbitrary length)
        length = ["--length", f"{n:g}m"]
        for flags in (length, ["--pace", "3"]):
            r = subprocess.run([str(VG), "render", *flags], env={**os.environ, **env}, capture_output=True, text=True)
            if r.returncode:
                sys.exit(f"bench: voiceguide render {' '.join(flags)} failed: {r.stderr.strip()[-300:]}")
        music = d / "stereo.ogg"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", STEREO_MUSIC, "-c:a", "libvorbis", "-y", str(music)],
            check=True,
        )

        def export(out: Path, *flags: str) -> tuple[float, float]:
            return measure([str(VG), "export", *flags, "-o", str(out)], env)

        bare, _ = measure(bare_ffmpeg(n, d / "bare.mp3"))
        cold, rss = export(d / "cold.mp3", *length)
        warm, rss_warm = export(d / "warm.mp3", *length)
        stereo, rss_stereo = export(d / "stereo.mp3", *length, "--music", str(music))  # the loop is made here
        bare2, _ = measure(bare_ffmpeg(n, d / "bare2.mp3"))  # the machine's load drifts: average two
        _, rss_long = export(d / "long.mp3", "--pace", "3")
        export(d / "stereo.wav", *length, "--music", str(music))
        seam_db, extra = seam(d / "stereo.mp3", d / "stereo.wav", d)
    bare = (bare + bare2) / 2
    print(
        f"bare ffmpeg {bare:.2f}s, export {cold:.2f}s (first after render), {warm:.2f}s (warm), "
        f"{stereo:.2f}s (stereo music, first)",
        file=sys.stderr,
    )
    print(
        f"export{tag}/bare_ffmpeg={cold / bare:.2f} export{tag}_warm/bare_ffmpeg={warm / bare:.2f} "
        f"with_stereo_music={stereo / bare:.2f} rss{tag}={max(rss, rss_warm, rss_stereo):.0f}MB "
        f"rsspace3={rss_long:.0f}MB seam={seam_db:+.1f}dB extra_samples={extra}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
