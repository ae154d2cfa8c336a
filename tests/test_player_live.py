"""LivePlay, `voiceguide play` as a library call: the kept opening found and started on, kept again
only when it was not the session's own, the safety lines and the retimer handed to the player.
Real clips (espeak-ng), the real mixer and session; the device is a fake that pulls the transport
at each key poll (the real sound server's side is tested in test_player_prelude.py)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

import voiceguide
from voiceguide.durations import format_clock
from voiceguide.player import PlainDisplay, prelude
from voiceguide.player.live import LivePlay

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")

RATE = 8000
ROUTINE = Path(__file__).parent / "routines" / "stretch.yaml"


class KeepingOutput:
    """A stream-like output: it can start on a kept opening (``begin``) and, once the session's
    transport arrives, says whether that opening was the session's own sound."""

    name = "fake"
    latency_s = 0.0
    underruns = 0

    def __init__(self, own_opening: bool = True):
        self.own_opening = own_opening
        self.begun: bytes | None = None
        self.prelude_matched: bool | None = None
        self.transport = None
        self.heard = 0
        self.closed = False

    def begin(self, pcm: bytes) -> None:
        self.begun = pcm

    def start(self, transport) -> None:
        self.transport = transport
        if self.begun is not None:
            self.prelude_matched = self.own_opening

    def tick(self, frames: int) -> None:
        self.transport.pull(frames)
        self.heard += frames

    def audible_frame(self) -> int:
        return self.heard

    def check(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class KeysAt:
    """Each poll moves the fake output 20 ms; the keys are pressed at the given heard seconds."""

    def __init__(self, out: KeepingOutput, script: list[tuple[float, str]]):
        self.out, self.script = out, sorted(script)

    def read_key(self, timeout: float) -> str | None:
        self.out.tick(RATE // 50)
        if self.script and self.out.heard >= self.script[0][0] * RATE:
            return self.script.pop(0)[1]
        return None


def _session(cache: Path) -> voiceguide.Session:
    return voiceguide.Session(
        ROUTINE, steps="1", engine="espeak-ng", sample_rate=RATE, mono=True, music="none", cache_dir=cache
    )


def _play(monkeypatch, cache: Path, out: KeepingOutput, script, name: str | None = "opening.pcm"):
    monkeypatch.setattr("voiceguide.player.opening.open_output", lambda *a, **k: out)
    shown = io.StringIO()
    with (
        _session(cache) as session,
        LivePlay("auto", rate=RATE, channels=1, cache_dir=cache, opening_name=name) as live,
    ):
        result = live.play(session, display=PlainDisplay(shown), keys=KeysAt(out, script))
        return live, result, session, shown.getvalue()


def test_a_first_play_keeps_its_opening_and_the_next_starts_on_it(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = KeepingOutput()
    live, result, session, _ = _play(monkeypatch, cache, first, [(1.0, "q")])
    assert result.quit and first.closed
    assert first.begun is None and live.opening == "no kept opening"
    kept = prelude.find(cache, "opening.pcm", RATE, 1)
    assert kept is not None and kept == prelude.opening(session.mixer())

    entry = next((cache / "mix" / prelude.KIND).iterdir())
    written = entry.stat().st_ino  # an entry is written to a temp file and renamed into place
    second = KeepingOutput(own_opening=True)
    live, result, _, _ = _play(monkeypatch, cache, second, [(1.0, "q")])
    assert second.begun == kept  # started on the kept opening before the session was loaded
    assert live.opening == "started on its kept opening"
    assert entry.stat().st_ino == written  # the very opening heard: not written again


def test_a_stale_opening_is_kept_anew_and_none_is_kept_without_a_name(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    _, _, session, _ = _play(monkeypatch, cache, KeepingOutput(), [(1.0, "q")])
    own = prelude.opening(session.mixer())
    silence = bytes(len(own))  # what an older voice, say, made of the same session
    prelude.keep("opening.pcm", session, silence, RATE, 1)

    stale = KeepingOutput(own_opening=False)
    live, _, _, _ = _play(monkeypatch, cache, stale, [(1.0, "q")])
    assert stale.begun == silence and live.opening == "its kept opening was stale"
    assert prelude.find(cache, "opening.pcm", RATE, 1) == own  # kept anew, as the session sounds now

    bare = tmp_path / "bare"
    out = KeepingOutput()
    _play(monkeypatch, bare, out, [(1.0, "q")], name=None)
    assert out.begun is None
    assert not (bare / "mix" / prelude.KIND).exists()


def test_the_player_gets_the_sessions_safety_lines_and_its_retimer(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    with _session(cache) as probe:
        step = probe.timeline.steps[0]
        safety = [c.text for c in probe.timeline.cues if c.kind is voiceguide.timeline.CueKind.SAFETY]
    into = step.start_ms / 1000 + 1
    out = KeepingOutput()
    # a second into step 1: s repeats the safety lines, + makes the step 30 s longer
    live, result, session, shown = _play(monkeypatch, cache, out, [(into, "s"), (into + 0.5, "+"), (into + 1, "q")])
    assert safety and all(f"(Safety: {line})" in shown for line in safety), shown
    assert [e.action for e in result.events] == ["safety", "retime"] and result.quit, shown
    longer = probe.timeline.total_ms + 30_000
    assert f"(Step 1 is 30 s longer; the session now ends at {format_clock(longer)})" in shown, shown
    # the longer step has room for the next check-in in turn, which the session had not spoken:
    # its clip was rendered then (it once ended the play with an internal error)
    new = set(session.prepared.clips) - set(probe.timeline.spoken_texts())
    assert new == {"Relax your shoulders."}, new
