"""`voiceguide play` as a person uses it: a subprocess on a pseudo-terminal, keys typed into it,
its sound recorded from a private PulseAudio server and compared with `voiceguide export`."""

from __future__ import annotations

import fcntl
import os
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from audio_server import RATE, assert_same_sound, offset_of

pytestmark = [pytest.mark.audio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
ROUTINE = ROOT / "tests" / "routines" / "stretch.yaml"


def voiceguide(*args, env, **kw):
    return subprocess.run(
        [sys.executable, "-m", "voiceguide", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        **kw,
    )


def _ctrl_c_as_from_a_shell() -> None:
    """In the child: SIGINT at its default, as in a program a shell starts, whatever this test run
    inherited (under nohup, or a script's background job, SIGINT is ignored, and a child that
    ignores it plays on through the test's Ctrl-C)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Terminal:
    """A child process on a pseudo-terminal of its own (its controlling terminal, so ^C is SIGINT)."""

    def __init__(self, args, env, cols=100, rows=30):
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.slave_name = os.ttyname(slave)
        self.before = termios.tcgetattr(slave)

        def controlling_terminal():
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            _ctrl_c_as_from_a_shell()

        self.proc = subprocess.Popen(
            args,
            env=env,
            stdin=slave,
            stdout=slave,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=controlling_terminal,
        )
        os.close(slave)
        self.screen = bytearray()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            if not data:
                return
            self.screen += data

    def type(self, keys: bytes) -> float:
        os.write(self.master, keys)
        return time.monotonic()

    def wait(self, timeout=15):
        try:
            err = self.proc.communicate(timeout=timeout)[1].decode()
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        return self.proc.returncode, err

    def attrs_now(self):
        fd = os.open(self.slave_name, os.O_RDWR | os.O_NOCTTY)
        try:
            return termios.tcgetattr(fd)
        finally:
            os.close(fd)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


def wait_for_sound(server, since, proc, timeout=30.0):
    """The recording frame where the first audible sound arrived after ``since``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"play exited {proc.returncode} before a sound: {proc.stderr.read()[-600:]!r}")
        rec = server.record(since)
        loud = np.flatnonzero(np.abs(rec).max(axis=1) > 0.003)
        if len(loud):
            return since + int(loud[0])
        time.sleep(0.05)
    raise AssertionError("nothing was heard")


def test_play_in_a_terminal_with_keys_matches_export_and_stops_cleanly(server, tmp_path):
    env = dict(os.environ, **server.env, VOICEGUIDE_CACHE_DIR=str(tmp_path / "cache"), TERM="xterm")
    env.pop("VOICEGUIDE_DEBUG", None)
    args = [ROUTINE, "--steps", "1-2"]
    assert voiceguide("render", *args, env=env).returncode == 0
    assert voiceguide("export", *args, "-o", tmp_path / "ref.wav", env=env).returncode == 0
    with wave.open(str(tmp_path / "ref.wav")) as w:
        ref = np.frombuffer(w.readframes(w.getnframes()), np.int16).reshape(-1, w.getnchannels())
    ref = ref.astype(np.float32) / 32768
    show = voiceguide("show", *args, "--json", env=env)
    import json

    timeline = json.loads(show.stdout)
    step1 = int(timeline["steps"][0]["start_s"] * RATE)  # n in the intro goes to step 1

    mark = server.mark()
    launched = time.monotonic()
    term = Terminal([sys.executable, "-m", "voiceguide", "play", *map(str, args)], env)
    try:
        first = wait_for_sound(server, mark, term.proc)
        first_sound_s = server.time_of(first) - launched
        start = time.monotonic()
        while time.monotonic() < start + 3.0:
            time.sleep(0.05)
        t_pause = term.type(b" ")
        time.sleep(2.0)
        t_resume = term.type(b" ")
        time.sleep(2.5)
        t_next = term.type(b"n")
        time.sleep(3.0)
        t_int = term.type(b"\x03")  # Ctrl-C, through the terminal's line discipline
        code, err = term.wait()
        time.sleep(0.2)
        rec = server.record(mark)
        restored = term.attrs_now()
    finally:
        term.close()

    assert code == 130, err
    assert "Traceback" not in err
    assert restored == term.before  # the terminal is as it was: echo and line editing back
    screen = term.screen.decode("utf-8", "replace")
    assert "\x1b[?1049h" in screen and screen.rstrip().endswith("\x1b[?1049l")
    assert "Intro" in screen and "Step 1/2" in screen and "space pause" in screen and "PAUSED" in screen

    # before the pause: the export, sample for sample
    lag, score = offset_of(rec, ref, at=RATE, window=RATE)
    assert score > 0.999
    heard = server.time_of(mark + lag)  # when the session's frame 0 was heard
    n = int((t_pause - heard - 0.3) * RATE)
    assert_same_sound(rec, ref, lag, RATE // 10, n, "before the pause, the recording")
    # after the pause: the same session, later by the time between the two presses
    at = int((t_next - heard - 2.0 - 1.0) * RATE)
    lag2, score = offset_of(rec, ref, at=at, window=RATE, search=(lag + at, lag + at + 3 * RATE))
    assert score > 0.999
    assert abs((lag2 - lag) / RATE - (t_resume - t_pause)) < 0.1
    # after n: step 1 from its start, heard within 200 ms of the key
    lag3, score = offset_of(rec, ref, at=step1 + RATE // 2, window=RATE, search=(0, len(rec)))
    assert score > 0.999
    step_heard = server.time_of(mark + lag3 + step1)
    assert -0.05 < step_heard - t_next < 0.2, step_heard - t_next
    # Ctrl-C: faded out within about 0.3 s
    loud = np.flatnonzero(np.abs(rec).max(axis=1) > 1e-3)
    assert server.time_of(mark + int(loud[-1])) - t_int < 0.4
    assert first_sound_s < 10  # (rendering was done; start-up is measured in scripts/bench_play.py)


def play_then_interrupt(args: list[str], env: dict[str, str], *, seconds: float) -> tuple[int, str, str]:
    """``voiceguide play ARGS`` with no terminal, Ctrl-C after ``seconds``: (exit status, stdout, stderr)."""
    p = subprocess.Popen(
        [sys.executable, "-m", "voiceguide", "play", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ctrl_c_as_from_a_shell,
    )
    time.sleep(seconds)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=20)
    return p.returncode, out, err


def test_play_when_piped_prints_a_line_per_cue_and_q_is_not_needed(server, tmp_path):
    env = dict(os.environ, **server.env, VOICEGUIDE_CACHE_DIR=str(tmp_path / "cache"))
    # rendered first: a cold render with piper took 4.2 s of the 10 s below on a busy machine,
    # and the second cue starts 6 s in
    render = [sys.executable, "-m", "voiceguide", "render", str(ROUTINE), "--steps", "2"]
    subprocess.run(render, env=env, capture_output=True, check=True)
    code, out, err = play_then_interrupt([str(ROUTINE), "--steps", "2"], env, seconds=10)
    assert code == 130 and "Traceback" not in err
    lines = out.splitlines()
    assert lines[0].startswith("00:0") and "  Intro  Sit at the front of your chair" in lines[0]
    assert any("  Intro  Stop if anything hurts." in ln for ln in lines)
    assert "\x1b" not in out  # no screen control codes in a pipe


def test_play_with_no_sound_server_is_one_line_and_exit_1(tmp_path):
    conf = tmp_path / "asound.conf"
    conf.write_text("pcm.!default { type pulse }\nctl.!default { type pulse }\n")
    env = dict(
        os.environ,
        PULSE_SERVER=f"unix:{tmp_path}/none",
        ALSA_CONFIG_PATH=f"/usr/share/alsa/alsa.conf:{conf}",
        VOICEGUIDE_CACHE_DIR=str(tmp_path / "cache"),
        XDG_RUNTIME_DIR=str(tmp_path),
    )
    p = voiceguide("play", ROUTINE, "--steps", "2", env=env, stdin=subprocess.DEVNULL)
    assert p.returncode == 1
    last = p.stderr.strip().splitlines()[-1]
    assert "voiceguide export" in last and "ALSA" not in p.stderr and "Traceback" not in p.stderr
    p = voiceguide("play", ROUTINE, "--device", "Kitchen", "--steps", "2", env=env, stdin=subprocess.DEVNULL)
    # no such device is a mistyped flag (exit 2), whatever else is wrong with the sound
    assert p.returncode == 2 and "--device 'Kitchen'" in p.stderr and "Traceback" not in p.stderr


def test_play_starts_on_the_opening_render_kept_and_keeps_one_itself(server, tmp_path):
    env = dict(os.environ, **server.env, VOICEGUIDE_CACHE_DIR=str(tmp_path / "cache"), VOICEGUIDE_DEBUG="1")
    routine = tmp_path / "stretch.yaml"
    routine.write_text(ROUTINE.read_text())
    session = [str(routine), "--steps", "2", "--engine", "espeak-ng"]

    def play(*flags: str) -> str:
        code, _, err = play_then_interrupt([*session, *flags], env, seconds=3)
        assert code == 130, err
        return err

    subprocess.run([sys.executable, "-m", "voiceguide", "render", *session], env=env, capture_output=True, check=True)
    assert "started on its kept opening" in play()
    assert "no kept opening" in play("--pace", "1.5")  # other words: none kept for them yet
    assert "started on its kept opening" in play("--pace", "1.5")  # the play before kept it
    routine.write_text(routine.read_text() + "\n# edited\n")
    assert "no kept opening" in play()
