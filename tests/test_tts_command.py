"""One process per clip: a hung command is killed at the timeout, a failing one is reported."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from voiceguide.errors import EngineError
from voiceguide.tts.command import CommandEngine, last_line
from voiceguide.tts.engine import EngineFailure, Voice, VoiceSettings


class Script(CommandEngine):
    """Runs a Python snippet per clip; argv[1] of the snippet is the output path."""

    name = "script"

    def __init__(self, code: str, program: str = sys.executable):
        self.code = code
        self.program = program

    def available(self) -> bool:
        return True

    def version(self) -> str:
        return "0"

    def voices(self) -> list[Voice]:
        return []

    def argv(self, text: str, out: Path, settings: VoiceSettings) -> list[str]:
        return [self.program, "-c", self.code, str(out), text]


def test_a_hung_command_is_killed_at_the_timeout(tmp_path):
    pid_file = tmp_path / "pid"
    code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    synth = Script(code).open(VoiceSettings(), 1, 5)
    t = time.monotonic()
    with pytest.raises(EngineFailure, match=r"script gave no clip within 1 s") as err:
        synth.render("hello", tmp_path / "out.wav", 1.0)
    assert time.monotonic() - t < 5
    assert err.value.what == "hung"
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # gone, not left running in the background


def test_a_failing_command_reports_its_last_stderr_line(tmp_path):
    code = "import sys; print('noise', file=sys.stderr); print('voice not found', file=sys.stderr); sys.exit(3)"
    synth = Script(code).open(VoiceSettings(), 1, 5)
    with pytest.raises(EngineFailure, match="script failed: voice not found") as err:
        synth.render("hello", tmp_path / "out.wav", 10)
    assert err.value.what == "crashed"


def test_a_silent_failure_reports_its_status(tmp_path):
    synth = Script("import sys; sys.exit(7)").open(VoiceSettings(), 1, 5)
    with pytest.raises(EngineFailure, match="exit status 7"):
        synth.render("hello", tmp_path / "out.wav", 10)


def test_a_missing_program_is_an_engine_error(tmp_path):
    synth = Script("", program=str(tmp_path / "no-such-program")).open(VoiceSettings(), 1, 5)
    with pytest.raises(EngineError, match="cannot run") as err:
        synth.render("hello", tmp_path / "out.wav", 10)
    assert not isinstance(err.value, EngineFailure)  # nothing to retry


def test_the_text_reaches_the_command_intact(tmp_path):
    code = "import sys; open(sys.argv[1], 'w', encoding='utf-8').write(sys.argv[2])"
    synth = Script(code).open(VoiceSettings(), 1, 5)
    out = tmp_path / "out.txt"
    synth.render("-5 degrees, café naïve", out, 10)
    assert out.read_text(encoding="utf-8") == "-5 degrees, café naïve"


def test_last_line():
    assert last_line(b"a\n\nlast one  \n\n") == "last one"
    assert last_line("") == ""


def _hanging_wrapper(tmp_path):
    """An engine behind a shell script whose child hangs: (its synth, the file with the child's pid)."""
    pid_file = tmp_path / "child.pid"
    wrapper = tmp_path / "espeak-ng-wrapper"
    wrapper.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {pid_file}\nwait\n")
    wrapper.chmod(0o755)

    class Wrapped(Script):
        def argv(self, text, out, settings):
            return [str(wrapper), str(out), text]

    return Wrapped("").open(VoiceSettings(), 1, 5), pid_file


def test_a_wrapper_whose_child_hangs_is_killed_with_its_child(tmp_path):
    """An engine behind a shell script: the timeout ends the script's whole process group, so
    the hung child neither runs on nor keeps us waiting on the pipe it holds."""
    synth, pid_file = _hanging_wrapper(tmp_path)
    t = time.monotonic()
    with pytest.raises(EngineFailure, match=r"gave no clip within 1 s"):
        synth.render("hello", tmp_path / "out.wav", 1.0)
    assert time.monotonic() - t < 5
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the wrapper's child is still running")


def test_stopping_the_synth_ends_each_running_command_with_its_children(tmp_path):
    import threading

    synth, pid_file = _hanging_wrapper(tmp_path)
    errors: list[BaseException] = []

    def render() -> None:
        try:
            synth.render("hi", tmp_path / "o.wav", 60)
        except EngineFailure as e:
            errors.append(e)

    worker = threading.Thread(target=render)
    worker.start()
    deadline = time.monotonic() + 5
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    t = time.monotonic()
    synth.close()
    worker.join(10)
    assert not worker.is_alive() and time.monotonic() - t < 5
    assert [type(e) for e in errors] == [EngineFailure], errors  # the render stopped by close() says so
    with pytest.raises(ProcessLookupError):
        for _ in range(100):
            os.kill(int(pid_file.read_text()), 0)
            time.sleep(0.05)
