"""A private PulseAudio server with a null sink, and a recorder of its monitor.

Real playback tests need a sound server that plays in real time without a sound card and
without touching the user's own audio: this one lives in its own XDG_RUNTIME_DIR, is reached
only through the PULSE_SERVER it hands back, and is stopped when the test ends.

    with AudioServer() as server:          # or the ``audio_server`` pytest fixture
        subprocess.run([...], env=server.env)  # or os.environ.update(server.env)
        take = server.record()             # everything the sink played since start
        server.onsets(take)                # ...

Missing pulseaudio/parec/pacat/pactl skips the test with the reason, except under CI=true,
where the real-path tests must run and so fail instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

RATE = 44100
CHANNELS = 2
SINK = "vg"
PROGRAMS = ("pulseaudio", "pactl", "pacat", "parec")

# ALSA's own default device knows nothing of a private server; simpleaudio (ALSA only) reaches it
# through the pulse plugin (libasound2-plugins) named in a config of our own, because a running
# pulse server's ALSA hook would otherwise win over ~/.asoundrc.
ALSA_CONF = """\
pcm.!default { type pulse }
ctl.!default { type pulse }
"""


def missing_programs() -> list[str]:
    return [p for p in PROGRAMS if shutil.which(p) is None]


def alsa_pulse_plugin() -> bool:
    """Whether ALSA's pulse plugin (libasound2-plugins) is installed."""
    roots = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"]
    return any(Path(r, "alsa-lib", "libasound_module_pcm_pulse.so").exists() for r in roots)


class AudioServer:
    """Start with ``with``; ``env`` reaches the server; ``record()`` returns float32 (frames, 2)."""

    def __init__(self, *, latency_ms: int = 10, keepalive: bool = True):
        self.latency_ms = latency_ms
        # keepalive=False leaves the sink idle until a client plays, as a device slow to wake (a
        # suspended card, a Bluetooth speaker): its first request for audio then takes seconds
        self.keepalive = keepalive
        self.env: dict[str, str] = {}
        self._procs: list[subprocess.Popen] = []
        self._data = bytearray()
        # (monotonic time, recorded frames) as chunks arrive: maps a recording frame to a moment
        self.arrivals: list[tuple[float, int]] = []
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None
        self._rec: subprocess.Popen | None = None
        self.dir: str | None = None

    # --- lifetime -----------------------------------------------------------------------
    def __enter__(self) -> AudioServer:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _start(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="vg-pulse-")
        os.chmod(self.dir, 0o700)
        alsa_conf = Path(self.dir, "asound.conf")
        alsa_conf.write_text(ALSA_CONF)
        self.env = {
            "XDG_RUNTIME_DIR": self.dir,
            "PULSE_SERVER": f"unix:{self.dir}/pulse/native",
            "ALSA_CONFIG_PATH": f"/usr/share/alsa/alsa.conf:{alsa_conf}",
            # pulseaudio keeps its cookie and state under HOME/.config/pulse otherwise
            "PULSE_CONFIG_PATH": str(Path(self.dir, "config")),
            "PULSE_STATE_PATH": str(Path(self.dir, "state")),
            "PULSE_RUNTIME_PATH": str(Path(self.dir, "pulse")),
        }
        env = self.full_env()
        self._procs.append(
            subprocess.Popen(
                [
                    "pulseaudio",
                    "-n",
                    "--daemonize=no",
                    "--exit-idle-time=-1",
                    "--disallow-exit",
                    "--use-pid-file=no",
                    "-L",
                    f"module-null-sink sink_name={SINK} rate={RATE} channels={CHANNELS}",
                    "-L",
                    "module-native-protocol-unix",
                    "-L",
                    "module-always-sink",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        deadline = time.monotonic() + 10
        while subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode != 0:
            if self._procs[0].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the private pulseaudio server did not start")
            time.sleep(0.05)
        subprocess.run(["pactl", "set-default-sink", SINK], env=env, capture_output=True, check=True)
        # An idle null sink stops its clock, and then its monitor delivers nothing: zeros keep it going.
        if self.keepalive:
            self._procs.append(
                subprocess.Popen(
                    [
                        "pacat",
                        "--raw",
                        "--format=s16le",
                        f"--rate={RATE}",
                        f"--channels={CHANNELS}",
                        f"--latency-msec={self.latency_ms}",
                        "/dev/zero",
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            time.sleep(0.2)
        self._rec = subprocess.Popen(
            [
                "parec",
                "-d",
                f"{SINK}.monitor",
                "--raw",
                "--format=s16le",
                f"--rate={RATE}",
                f"--channels={CHANNELS}",
                f"--latency-msec={self.latency_ms}",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._procs.append(self._rec)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 5
        while self.keepalive and self.recorded_frames() < RATE // 10:
            if time.monotonic() > deadline:
                raise RuntimeError("the private pulseaudio server's monitor records nothing")
            time.sleep(0.02)

    def full_env(self) -> dict[str, str]:
        return dict(os.environ, **self.env)

    def stop(self) -> None:
        for p in reversed(self._procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self._procs):
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        self._procs.clear()
        if self._reader is not None:
            self._reader.join(5)
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    # --- recording ----------------------------------------------------------------------
    def _read(self) -> None:
        assert self._rec is not None and self._rec.stdout is not None
        while True:
            chunk = self._rec.stdout.read1(8192)
            if not chunk:
                return
            with self._lock:
                self._data += chunk
                self.arrivals.append((time.monotonic(), len(self._data) // (2 * CHANNELS)))

    def recorded_frames(self) -> int:
        with self._lock:
            return len(self._data) // (2 * CHANNELS)

    def time_of(self, frame: int) -> float:
        """About when (monotonic) recording frame ``frame`` reached the recorder."""
        with self._lock:
            arrivals = list(self.arrivals)
        for t, total in arrivals:
            if total > frame:
                return t - (total - 1 - frame) / RATE
        raise ValueError(f"frame {frame} has not been recorded yet")

    def kill_server(self) -> None:
        """The sound server dies (as when a device is unplugged or the server crashes)."""
        if self._procs and self._procs[0].poll() is None:
            self._procs[0].kill()

    def freeze_server(self, seconds: float) -> None:
        """The sound server stops for a moment (a busy or swapping machine), then goes on."""
        server = self._procs[0]
        server.send_signal(signal.SIGSTOP)
        try:
            time.sleep(seconds)
        finally:
            server.send_signal(signal.SIGCONT)

    def mark(self) -> int:
        """The recording's length in frames now: pass it to ``record`` to keep only what follows."""
        return self.recorded_frames()

    def record(self, since: int = 0) -> np.ndarray:
        """What the sink played from frame ``since`` of the recording until now, float32 (frames, 2)."""
        with self._lock:
            raw = bytes(self._data[since * 2 * CHANNELS :])
        a = np.frombuffer(raw[: len(raw) // (2 * CHANNELS) * 2 * CHANNELS], np.int16)
        return a.reshape(-1, CHANNELS).astype(np.float32) / 32768


def require_audio_server() -> None:
    """Skip the calling test when the sound server's programs are absent (fail under CI)."""
    import pytest

    missing = missing_programs()
    if missing:
        reason = (
            f"real-playback test needs {', '.join(missing)} "
            "(scripts/bootstrap --test-audio installs pulseaudio and pulseaudio-utils)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; under CI these tests must run")
        pytest.skip(reason)


def audio_server_fixture():
    """A pytest fixture body: ``audio_server = pytest.fixture(audio_server_fixture)``."""
    require_audio_server()
    with AudioServer() as server:
        yield server


try:  # importable without pytest (scripts/bench_play.py uses AudioServer alone)
    import pytest as _pytest

    audio_server = _pytest.fixture(audio_server_fixture)
except ImportError:  # pragma: no cover
    pass


# --- a session whose sound is known, and how to find it again in a recording -----------------


def tone_timeline(
    steps: int = 3,
    step_ms: int = 4000,
    intro_ms: int = 1000,
    outro_ms: int = 1000,
    cue_every_ms: int = 1000,
    title: str = "Tones",
):
    """A Timeline with a chime at each step's start and a spoken cue every ``cue_every_ms``."""
    from voiceguide.timeline import Cue, CueKind, Step, Timeline

    cues = [Cue(200, 500, CueKind.SETUP, "Welcome.", None)]
    step_list = []
    t = intro_ms
    for i in range(1, steps + 1):
        step_list.append(Step(i, i, f"Step {i}", t, t + step_ms))
        cues.append(Cue(t, t + 200, CueKind.TRANSITION, "", i))
        for k, at in enumerate(range(t + cue_every_ms, t + step_ms, cue_every_ms), 1):
            cues.append(Cue(at, at + 300, CueKind.INSTRUCTION, f"Step {i} line {k}.", i))
        t += step_ms
    cues.append(Cue(t + 200, t + 500, CueKind.CLOSING, "Goodbye.", None))
    return Timeline(title, "tones", t + outro_ms, tuple(step_list), tuple(cues))


def stretched(tl, index: int, delta_ms: int):
    """``tl`` with step ``index`` ``delta_ms`` longer and everything after it moved (the cues stay):
    what a retimer hands the player, without compiling."""
    from voiceguide.timeline import Step, Timeline

    steps, shift = [], 0
    for s in tl.steps:
        start = s.start_ms + shift
        end = s.end_ms + shift + (delta_ms if s.index == index else 0)
        shift = end - s.end_ms
        steps.append(Step(s.index, s.number, s.title, start, end))
    return Timeline(tl.title, tl.routine, tl.total_ms + delta_ms, tuple(steps), tl.cues)


class ToneMixer:
    """A stand-in for voiceguide.audio.Mixer whose output is known sample for sample.

    A quiet noise bed that never repeats within a few seconds (so a recording can be aligned to
    it by cross-correlation) and a loud 60 ms beep at every cue's start (so onsets can be timed).
    ``speech(text)`` is a lower tone as long as the text needs; ``music`` is the bed alone.
    """

    BEEP_MS = 60
    BED = 0.02

    def __init__(self, timeline, rate: int = RATE, channels: int = CHANNELS, gain_db: float = 0.0):
        self.timeline = timeline
        self.rate = rate
        self.channels = channels
        self.gain_db = gain_db
        self.total_frames = self.frame_of_ms(timeline.total_ms)
        rng = np.random.default_rng(7)
        self._bed = (rng.standard_normal(int(7.3 * rate)) * self.BED).astype(np.float32)
        n = self.frame_of_ms(self.BEEP_MS)
        t = np.arange(n) / rate
        env = np.minimum(1.0, np.minimum(t / 0.002, (n - np.arange(n)) / (0.005 * rate)))
        self._beep = (0.5 * np.sin(2 * np.pi * 880 * t) * env).astype(np.float32)
        self._starts = np.array([self.frame_of_ms(c.start_ms) for c in timeline.cues], dtype=np.int64)

    def frame_of_ms(self, ms: int) -> int:
        return (ms * self.rate + 500) // 1000

    def with_timeline(self, timeline) -> ToneMixer:
        return ToneMixer(timeline, self.rate, self.channels, self.gain_db)

    def music(self, start_frame: int, frames: int, ducked: bool = False) -> np.ndarray:
        idx = np.arange(start_frame, start_frame + frames) % len(self._bed)
        mono = self._bed[idx] * (0.3 if ducked else 1.0)
        return np.repeat(mono[:, None], self.channels, axis=1)

    def render(self, start_frame: int, frames: int) -> np.ndarray:
        end = min(start_frame + frames, self.total_frames)
        out = np.zeros((frames, self.channels), np.float32)
        if end <= start_frame:
            return out
        out[: end - start_frame] = self.music(start_frame, end - start_frame)
        n = len(self._beep)
        for s in self._starts[(self._starts < end) & (self._starts + n > start_frame)]:
            a, b = max(s, start_frame), min(s + n, end)
            out[a - start_frame : b - start_frame] += self._beep[a - s : b - s, None]
        return out

    def blocks(self, start_frame: int = 0, block_frames: int = 4096):
        for a in range(start_frame, self.total_frames, block_frames):
            yield self.render(a, min(block_frames, self.total_frames - a))

    def speech(self, text: str) -> np.ndarray:
        n = self.frame_of_ms(max(300, 40 * len(text)))
        t = np.arange(n) / self.rate
        env = np.minimum(1.0, np.minimum(t / 0.002, (n - np.arange(n)) / (0.005 * self.rate)))
        mono = (0.4 * np.sin(2 * np.pi * 440 * t) * env).astype(np.float32)
        return np.repeat(mono[:, None], self.channels, axis=1)

    def cue_frames(self) -> list[int]:
        return [int(s) for s in self._starts]


def onsets(x: np.ndarray, level: float = 0.2, quiet_ms: int = 100, rate: int = RATE) -> list[int]:
    """Frames where the mono mix first rises above ``level`` after at least ``quiet_ms`` below it."""
    m = np.abs(x.mean(axis=1)) if x.ndim == 2 else np.abs(x)
    loud = np.flatnonzero(m > level)
    if len(loud) == 0:
        return []
    gap = quiet_ms * rate // 1000
    keep = np.concatenate([[True], np.diff(loud) > gap])
    return [int(i) for i in loud[keep]]


def offset_of(
    rec: np.ndarray, ref: np.ndarray, at: int = 0, window: int = 2 * RATE, search: tuple[int, int] | None = None
) -> tuple[int, float]:
    """The lag of ``ref`` in ``rec`` around ``ref[at:at+window]`` (rec frame = ref frame + lag), by
    FFT cross-correlation, and the match quality (normalised correlation, 1.0 = same shape).
    ``search`` limits where in ``rec`` the window may start."""
    w = ref[at : at + window].mean(axis=1).astype(np.float64)
    c = rec.mean(axis=1).astype(np.float64)
    lo, hi = search if search is not None else (0, len(c))
    lo, hi = max(0, lo), min(len(c), hi + len(w))
    seg = c[lo:hi]
    if len(w) == 0 or len(seg) < len(w) or not np.any(w):
        raise ValueError("nothing to align")
    n = 1 << int(np.ceil(np.log2(len(seg) + len(w))))
    cc = np.fft.irfft(np.fft.rfft(seg, n) * np.conj(np.fft.rfft(w, n)), n)[: len(seg) - len(w) + 1]
    # normalised by the energy under each placement, so a loud passage elsewhere cannot win
    energy = np.concatenate([[0.0], np.cumsum(seg * seg)])
    local = np.sqrt(np.maximum(energy[len(w) :] - energy[: len(seg) - len(w) + 1], 0.0))
    scores = cc / (np.linalg.norm(w) * local + 1e-12)
    k = int(np.argmax(scores))
    return lo + k - at, float(scores[k])


def assert_same_sound(
    rec: np.ndarray, ref: np.ndarray, lag: int, start: int, end: int, what: str = "the recording"
) -> None:
    """``rec`` is ``ref`` sample for sample over ``ref[start:end]``, placed ``lag`` frames later.

    A failure says when it first differs and by how much that part moved (signed ms, from a local
    alignment: + heard later than the start puts it, - earlier), so a slip, a gap and a wrong
    sample in place read differently in the report."""
    end = min(end, len(ref))
    if len(rec) - lag < end:
        raise AssertionError(
            f"{what} ends {(len(rec) - lag) / RATE:.3f} s in, before the reference ({end / RATE:.3f} s)"
        )
    off = np.abs(rec[lag + start : lag + end] - ref[start:end]).max(axis=1)
    if len(off) == 0 or off.max() < 1e-4:
        return
    at = start + int(np.argmax(off >= 1e-4))
    window = min(RATE // 5, len(ref) - at)
    try:
        there, score = offset_of(rec, ref, at=at, window=window, search=(lag + at - RATE, lag + at + RATE))
        moved = (
            f"that part heard {(there - lag) / RATE * 1000:+.2f} ms from where the start puts it (score {score:.3f})"
        )
    except ValueError:  # silence there: nothing to align
        moved = "no sound there to align"
    raise AssertionError(
        f"{what} leaves the reference {at / RATE:.3f} s in: {moved}; largest difference {off.max():.4f}"
    )
