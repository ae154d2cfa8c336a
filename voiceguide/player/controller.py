"""The live session: keys in, commands to the transport, the display kept up to date.

The sound runs in the output's own threads; this loop only reads keys (waiting at most a tick),
posts commands, and redraws. Where a control lands is worked out here from the timeline, so the
audio side never searches anything. Keys act on what is being heard, within a tick plus the
device's buffer (well under the 200 ms allowed). What the display says was said, and what ``r``
repeats, is only what was heard: a cue skipped by a jump was never spoken.

For the length of a session the garbage collector is kept off the audio path: whatever exists
once the session is built is frozen out of its sight, and automatic collections are off (a
180 ms collection on another thread once left a 111 ms gap in the sound); the output's producer
collects the young generation now and then, where a pause costs nothing heard.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeAlias

import numpy as np

from voiceguide.durations import format_clock
from voiceguide.errors import VoiceguideError
from voiceguide.keynames import Keymap, key_label
from voiceguide.player.display import Display, Status
from voiceguide.player.keys import KeySource
from voiceguide.player.opening import open_output
from voiceguide.player.output import Output
from voiceguide.player.transport import (
    Event,
    Fades,
    MixerLike,
    Mode,
    Pause,
    Position,
    Say,
    Seek,
    Stop,
    Swap,
    Transport,
    remap,
)
from voiceguide.timeline import Cue, Timeline

TICK_S = 0.02  # longest wait for a key: controls act within this plus the device buffer
REDRAW_S = 0.2  # the live screen refreshes five times a second at most
BACK_WITHIN_MS = 3000  # p this soon after a step starts goes to the step before
MESSAGE_S = 4.0  # how long a note stays on the live screen
#: How long the device plays on (silence) after the session's end is thought heard, before it is
#: closed. The heard position is an estimate from the server's latency (75 ms, measured), which
#: varies by a few ms: closing at once cut the last 1 ms of a session in 1 of 3 test runs.
HEAR_OUT_S = 0.15
LEAD_IN_MS, TAIL_MS, BETWEEN_MS = 250, 350, 500  # around a repeated line, and between safety lines
SEEKS = ("next", "back", "restart", "repeat")
TARGET_S = 0.5  # a jump counts as where the session is for this long, until it is heard

#: ``retime(step_index, delta_ms)``: the session re-compiled with that step longer or shorter, or None
Retime: TypeAlias = Callable[[int, int], MixerLike | None]


@dataclass(frozen=True)
class PlayerOptions:
    output: str = "auto"  # auto | stream | simpleaudio
    device: str | None = None  # a name from list_devices() (stream output only)
    keymap: Mapping[str, str] | None = None  # action -> key over the defaults; see keynames.ACTIONS
    step_adjust_ms: int = 30_000  # what + and - add to or take from the current step


@dataclass(frozen=True)
class PlayResult:
    completed: bool  # heard to the end
    quit: bool  # stopped with the quit key
    position_ms: int  # session time heard last
    output: str  # which output played ("stream (PulseAudio)", "simpleaudio")
    events: tuple[Event, ...] = ()  # every control as applied, in device frames
    underruns: int = 0  # device requests that found no sound ready (each one a gap)
    worst_late_ms: float = 0.0  # the latest the device asked for sound, past its period


def play_session(
    mixer: MixerLike,
    *,
    options: PlayerOptions,
    display: Display,
    keys: KeySource | None,
    retime: Retime | None = None,
    safety_texts: Sequence[str] = (),
    fades: Fades | None = None,
    on_end: Callable[[PlayResult], None] | None = None,
    output: Output | None = None,
) -> PlayResult:
    """Play ``mixer``'s session live until it ends or the quit key; Ctrl-C fades out and re-raises.

    ``retime(step_index, delta_ms)`` returns the session re-compiled with that step longer or
    shorter (a new mixer), or None when that cannot be done. ``on_end`` is given the result
    however the session ends, Ctrl-C and device failures included (the CLI's debug report).
    ``output`` is an output already opened for the session's rate and channels (it is closed
    at the end); by default one is opened as ``options`` say.
    """
    keymap = Keymap(options.keymap)
    transport = Transport(mixer, fades=fades)
    if output is None:
        output = open_output(options.output, mixer.rate, mixer.channels, options.device)
    live = _Live(transport, output, display, keys, keymap, retime, tuple(safety_texts), options)
    # an output that began on a kept opening is already playing: a full collection now would
    # hold the audio path (in a test process with a large heap it slipped the sound)
    with _collector_off_the_audio_path(collect=not getattr(output, "started", False)):
        try:
            output.start(transport)
            return live.run()
        except KeyboardInterrupt:
            try:
                live.fade_out(transport.fades.stop_ms)
            except BaseException:  # noqa: BLE001 - a second Ctrl-C, or the device failing: stop waiting for the fade
                pass
            raise
        finally:
            output.close()
            display.close()
            if on_end is not None:
                on_end(live.result(quit=live.quit))


@contextlib.contextmanager
def _collector_off_the_audio_path(*, collect: bool = True) -> Iterator[None]:
    """No automatic garbage collection while the session plays (see the module's docstring);
    everything as it was afterwards. ``collect``: clear the garbage first (not while sound plays)."""
    was_enabled = gc.isenabled()
    if collect:
        gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()


class _Target(NamedTuple):
    """A jump on its way: where it lands, in which session, and until when it stands for what is heard."""

    ms: int
    mixer: MixerLike
    until: float  # time.monotonic()


class _Live:
    def __init__(
        self,
        transport: Transport,
        output: Output,
        display: Display,
        keys: KeySource | None,
        keymap: Keymap,
        retime: Retime | None,
        safety: tuple[str, ...],
        options: PlayerOptions,
    ):
        self.transport, self.output, self.display, self.keys = transport, output, display, keys
        self.keymap, self.retime, self.safety, self.options = keymap, retime, safety, options
        self.quit = False
        self.message = ""
        self.message_until = 0.0
        self.said = ""  # the line being repeated, shown while it plays
        self.last_ms = -1  # cues up to here have been shown
        self.seen_events = 0
        self.target: _Target | None = None
        self.timeline = transport.mixer.timeline
        self.heard: Position = transport.at(0)
        self.heard_cue: Cue | None = None  # the last spoken cue whose sound started playing
        self.waited = False  # "waiting for the sound device" was shown
        self.actions: dict[str, Callable[[], None]] = {
            "pause": self.do_pause,
            "next": self.do_next,
            "back": self.do_back,
            "repeat": self.do_repeat,
            "extend": self.do_extend,
            "shorten": self.do_shorten,
            "safety": self.do_safety,
            "quit": self.do_quit,
        }

    # --- the loop -----------------------------------------------------------------------------
    def run(self) -> PlayResult:
        next_draw = 0.0
        while True:
            self.output.check()
            if not self.waited and getattr(self.output, "waiting", False):
                self.waited = True
                self.note("Waiting for the sound device...")
            key = self.keys.read_key(TICK_S) if self.keys is not None else _no_key(TICK_S)
            if key is not None:
                self.press(key)
            if self.quit:
                self.fade_out(self.transport.fades.quit_ms)
                return self.result(quit=True)
            self.follow()
            now = time.monotonic()
            if now >= next_draw:
                self.display.update(self.status())
                next_draw = now + REDRAW_S
            end = self.transport.end_frame
            if end is not None and self.output.audible_frame() >= end:
                self.follow()
                self.display.update(self.status())
                self.hear_out()
                return self.result(quit=False)

    def hear_out(self) -> None:
        """Let the device play on for ``HEAR_OUT_S`` past the end, so its last frames are heard."""
        deadline = time.monotonic() + HEAR_OUT_S
        while time.monotonic() < deadline:
            self.output.check()
            time.sleep(TICK_S)

    def fade_out(self, fade_ms: int) -> None:
        """Stop with a fade, and wait (briefly) until the fade has been heard."""
        self.transport.post(Stop(fade_ms))
        deadline = time.monotonic() + fade_ms / 1000 + self.output.latency_s + 0.3
        while time.monotonic() < deadline:
            end = self.transport.end_frame
            if end is not None and self.output.audible_frame() >= end:
                return
            self.output.check()
            time.sleep(0.01)

    def result(self, *, quit: bool) -> PlayResult:  # noqa: A002 - the action's name, only as a keyword
        heard = self.transport.at(self.output.audible_frame())
        return PlayResult(
            completed=heard.mode is Mode.ENDED,
            quit=quit,
            position_ms=heard.session_ms,
            output=self.output.name,
            events=tuple(self.transport.events),
            underruns=int(getattr(self.output, "underruns", 0)),
            worst_late_ms=1000 * float(getattr(self.output, "worst_late_s", 0.0)),
        )

    # --- what is heard --------------------------------------------------------------------------
    def follow(self) -> None:
        """Show each cue as its sound starts playing; a jump carries on from where it landed, so
        the cues it skipped are never shown nor counted as said."""
        heard = self.transport.at(self.output.audible_frame())
        self.heard = heard
        timeline = heard.mixer.timeline
        ms = heard.session_ms
        events = self.transport.events
        new = [e for e in events[self.seen_events :] if e.device_frame <= heard.device_frame]
        self.seen_events += len(new)
        if timeline is not self.timeline:
            self.heard_cue = _same_cue(self.heard_cue, self.timeline, timeline)
            self.timeline = timeline
            self.last_ms = ms
        jumps = [e for e in new if e.action in SEEKS]
        if jumps:
            # from the frame the jump plays from: a cue that starts there is heard from its start
            self.last_ms = min(ms, jumps[-1].after * 1000 // heard.mixer.rate - 1)
        if heard.mode is not Mode.REPEATING:
            self.said = ""
        if ms <= self.last_ms or heard.mode in (Mode.PAUSED, Mode.REPEATING):
            return
        for cue in timeline.cues:
            if self.last_ms < cue.start_ms <= ms:
                if cue.spoken:
                    self.heard_cue = cue
                self.display.cue(cue, self.status(ms))
        self.last_ms = ms

    def status(self, ms: int | None = None) -> Status:
        heard = self.heard
        ms = heard.session_ms if ms is None else ms
        timeline = heard.mixer.timeline
        line = self.said or (self.heard_cue.text if self.heard_cue is not None else "")
        message = self.message if time.monotonic() < self.message_until else ""
        return Status(timeline, ms, heard.mode, line, message, self.keymap.help())

    def note(self, text: str) -> None:
        self.message = text
        self.message_until = time.monotonic() + MESSAGE_S
        self.display.note(text, self.status())

    # --- controls -------------------------------------------------------------------------------
    def press(self, key: str) -> None:
        action = self.keymap.action_for(key)
        if action is not None:
            self.actions[action]()

    def base(self) -> tuple[int, MixerLike]:
        """(session ms, mixer) a control builds on: what is heard, or where a jump just asked for
        will land (so quick presses add up instead of repeating the same jump)."""
        if self.target is not None and time.monotonic() < self.target.until:
            return self.target.ms, self.target.mixer
        heard = self.transport.at(self.output.audible_frame())
        return heard.session_ms, heard.mixer

    def do_pause(self) -> None:
        paused = self.transport.at(self.output.audible_frame()).mode is Mode.PAUSED
        self.transport.post(Pause())
        key = key_label(self.keymap.keys["pause"])
        self.note("Playing" if paused else f"Paused: press {key} to go on")

    def do_quit(self) -> None:
        self.quit = True

    def do_next(self) -> None:
        ms, mixer = self.base()
        tl = mixer.timeline
        later = [s for s in tl.steps if s.start_ms > ms]
        if later:
            s = later[0]
            self.seek(mixer, s.start_ms, "next", f"Next: step {s.index}, {s.title}")
        elif ms < tl.outro_start_ms and tl.steps:
            self.seek(mixer, tl.outro_start_ms, "next", "On to the closing")
        else:
            self.note("This is the last part")

    def do_back(self) -> None:
        ms, mixer = self.base()
        tl = mixer.timeline
        # the intro and the closing count as parts too, so p works the same everywhere
        starts = [0] + [s.start_ms for s in tl.steps] + ([tl.outro_start_ms] if tl.steps else [])
        current = max(i for i, t in enumerate(starts) if t <= ms)
        if ms - starts[current] >= BACK_WITHIN_MS or current == 0:
            target, action = starts[current], "restart"
        else:
            target, action = starts[current - 1], "back"
        self.seek(mixer, target, action, "Again from the start of " + _part_name(tl, target))

    def seek(self, mixer: MixerLike, ms: int, action: str, message: str) -> None:
        self.transport.post(Seek(mixer.frame_of_ms(ms), action))
        self.target = _Target(ms, mixer, time.monotonic() + TARGET_S)
        self.note(message)

    def do_repeat(self) -> None:
        heard = self.heard
        cue = self.heard_cue
        if cue is None:
            self.note("Nothing has been said yet")
            return
        if cue.start_ms <= heard.session_ms < cue.end_ms:
            # still being said: go back to its start instead of talking over it
            self.seek(heard.mixer, cue.start_ms, "repeat", "Again")
            return
        self.say([cue.text], "repeat", f"Again: {cue.text}")

    def do_safety(self) -> None:
        if not self.safety:
            self.note("This routine has no safety lines")
            return
        self.say(list(self.safety), "safety", "Safety: " + " ".join(self.safety))

    def say(self, texts: list[str], action: str, message: str) -> None:
        mixer = self.base()[1]
        try:
            clips = [np.asarray(mixer.speech(t), dtype=np.float32) for t in texts]
        except VoiceguideError as e:
            self.note(str(e))
            return
        ch = mixer.channels

        def gap(ms: int) -> np.ndarray:
            return np.zeros((mixer.frame_of_ms(ms), ch), np.float32)

        parts = [gap(LEAD_IN_MS)]
        for i, c in enumerate(clips):
            parts += [gap(BETWEEN_MS)] if i else []
            parts.append(c if c.ndim == 2 else np.repeat(c[:, None], ch, axis=1))
        parts.append(gap(TAIL_MS))
        self.said = " ".join(texts)
        self.transport.post(Say(np.concatenate(parts), action))
        self.note(message)

    def do_extend(self) -> None:
        self.adjust(+self.options.step_adjust_ms)

    def do_shorten(self) -> None:
        self.adjust(-self.options.step_adjust_ms)

    def adjust(self, delta_ms: int) -> None:
        how = "longer" if delta_ms > 0 else "shorter"
        if self.retime is None:
            self.note(f"Steps cannot be made {how} here")
            return
        ms, mixer = self.base()
        step = mixer.timeline.step_at(ms)
        if step is None:
            self.note(f"Only a step can be made {how}")
            return
        try:
            new = self.retime(step.index, delta_ms)
        except VoiceguideError as e:
            self.note(str(e))
            return
        if new is None:
            self.note(f"Step {step.index} cannot be made {how}")
            return
        self.transport.post(Swap(new))
        self.target = None
        secs = abs(delta_ms) // 1000
        self.note(f"Step {step.index} is {secs} s {how}; the session now ends at {format_clock(new.timeline.total_ms)}")


def _same_cue(cue: Cue | None, old: Timeline, new: Timeline) -> Cue | None:
    """``cue`` of ``old`` as it stands in the re-timed ``new`` (the same words, nearest in time)."""
    if cue is None:
        return None
    at = remap(old, new, cue.start_ms)
    same = [c for c in new.cues if (c.kind, c.text, c.step) == (cue.kind, cue.text, cue.step)]
    return min(same, key=lambda c: abs(c.start_ms - at), default=None)


def _part_name(tl: Timeline, ms: int) -> str:
    step = tl.step_at(ms)
    if step is not None:
        return f"step {step.index}, {step.title}"
    return "the intro" if ms < tl.intro_end_ms else "the closing"


def _no_key(seconds: float) -> str | None:
    """What a session without keys reads in a tick: nothing, after the tick."""
    time.sleep(seconds)
    return None
