"""The stages joined up: load a routine, render its clips, compile with their real lengths.

``show``, ``render``, ``export`` and ``play`` all start here, so they agree on every timing.
Heavy parts (the TTS layer, the mixer, the player) are imported only by the functions that need
them, so ``voiceguide show`` stays quick.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voiceguide.compiler import Pacing, compile_timeline, estimate_speech_ms
from voiceguide.errors import PacingError
from voiceguide.routine import Routine, load_routine
from voiceguide.timeline import Timeline

if TYPE_CHECKING:  # pragma: no cover
    from voiceguide.audio import ExportResult, Mixer, MixSettings
    from voiceguide.background import Background
    from voiceguide.tts import Clip, VoiceSettings

Progress = Callable[[int, int], None]

#: Rendering can add texts (a cue that fits only with the real clip lengths); stop after this many rounds.
MAX_RENDER_ROUNDS = 4
#: Times the mixer may find damaged clips (each time they are rendered again and the session re-timed).
MAX_REPAIRS = 3


@dataclass
class Prepared:
    routine: Routine
    pacing: Pacing
    timeline: Timeline
    clips: dict[str, Clip] = field(default_factory=dict)
    engine: str | None = None
    notes: list[str] = field(default_factory=list)
    rendered: int = 0
    voice: VoiceSettings | None = None  # what the clips were rendered with, and where they are:
    cache_dir: Path | None = None  # a damaged clip is rendered again from these


def _timer(clips: Mapping[str, Clip], rate_wpm: int) -> Callable[[str], tuple[int, bool]]:
    def timer(text: str) -> tuple[int, bool]:
        clip = clips.get(text)
        if clip is not None:
            return clip.duration_ms, False
        return estimate_speech_ms(text, rate_wpm), True

    return timer


def prepare(
    routine_ref: str | Path | None,
    pacing: Pacing,
    voice: VoiceSettings | None = None,
    cache_dir: Path | None = None,
    *,
    render: bool,
    progress: Progress | None = None,
    background: Background | None = None,
) -> Prepared:
    """Load and compile; with ``render`` make every clip (on ``background``'s threads, when
    given) and re-time with the real lengths.

    Without ``render`` it uses whatever clips the cache already holds and estimates the rest
    (the timeline says which cues are estimated).
    """
    routine = load_routine(routine_ref)
    timeline = compile_timeline(routine, pacing)  # fails fast on bad pacing, before any rendering
    if voice is None:
        return Prepared(routine, pacing, timeline)

    prepared = Prepared(routine, pacing, timeline, voice=voice, cache_dir=cache_dir)
    prepared.timeline = _fill(prepared, render=render, progress=progress, background=background)
    return prepared


def _fill(
    prepared: Prepared,
    *,
    render: bool,
    progress: Progress | None = None,
    background: Background | None = None,
    fixed_ms: Mapping[int, int] | None = None,
) -> Timeline:
    """Give ``prepared`` a clip for every text its session speaks, re-timing with each round's
    real lengths (rendering can add texts: a cue that fits only once the clips are measured), and
    return that timeline (``fixed_ms``: steps held at these lengths, as the retimer asks)."""
    from voiceguide.tts import ClipCache, check_voice, lookup_clips, render_clips

    voice, pacing = prepared.voice, prepared.pacing
    assert voice is not None, "prepare() fills only a session it has a voice for"
    if not render:
        check_voice(voice)  # what render would refuse (an unknown engine or voice), show refuses too
    cache = ClipCache(prepared.cache_dir)
    clips = prepared.clips
    timeline = prepared.timeline
    if fixed_ms is not None:
        timeline = compile_timeline(prepared.routine, pacing, _timer(clips, pacing.rate_wpm), fixed_ms=fixed_ms)
    for _ in range(MAX_RENDER_ROUNDS):
        missing = [t for t in timeline.spoken_texts() if t not in clips]
        if not missing:
            break
        if render:
            result = render_clips(missing, voice, cache, progress=progress, background=background)
            clips.update(result.clips)
            prepared.engine = result.engine
            prepared.notes.extend(n for n in result.notes if n not in prepared.notes)
            prepared.rendered += result.rendered
        else:
            found = lookup_clips(missing, voice, cache)
            clips.update(found)
        timeline = compile_timeline(prepared.routine, pacing, _timer(clips, pacing.rate_wpm), fixed_ms=fixed_ms)
        if not render:
            break
    return timeline


def build_mixer(prepared: Prepared, settings: MixSettings, background: Background | None = None) -> Mixer:
    """The session's mixer (its work on ``background``'s threads, when given). A cached clip the
    mixer finds damaged (it takes it out of the cache) is rendered again here and the session
    re-timed, and ``notes`` says so: nothing damaged is mixed, and the run goes on."""
    from voiceguide.audio import build_mixer as _build
    from voiceguide.errors import DamagedClip

    for attempt in range(MAX_REPAIRS + 1):
        try:
            mixer = _build(prepared.timeline, prepared.clips, settings, background)
        except DamagedClip as e:
            texts = [t for t, c in prepared.clips.items() if getattr(c, "key", None) in e.keys]
            if attempt == MAX_REPAIRS or prepared.voice is None or not texts:
                raise
            for t in texts:
                del prepared.clips[t]
            shown = ", ".join(repr(t if len(t) <= 40 else t[:39] + "…") for t in texts[:3])
            more = f" and {len(texts) - 3} more" if len(texts) > 3 else ""
            prepared.notes.append(f"{e.reason}; rendered {shown}{more} again")
            prepared.timeline = _fill(prepared, render=True, background=background)
            continue
        note = music_note(mixer)
        if note and note not in prepared.notes:
            prepared.notes.append(note)
        return mixer
    raise AssertionError("unreachable")  # pragma: no cover


def music_note(mixer: Mixer) -> str | None:
    """A line for the user when the music is mixed louder than the voice (``--music-volume``
    above 0 dB, and the mixer did not have to lower it): cues are then hard to follow."""
    level = mixer.music_volume_db
    if not level >= 0.5:  # -inf without music; under half a dB is level with the voice
        return None
    return (
        f"the music is mixed {level:.0f} dB louder than the voice (--music-volume); "
        "cues may be hard to hear over it (the default is -20)"
    )


class Retimer:
    """For the live player's + and - keys: ``retime(step_index, delta_ms)`` gives the session
    with that step lengthened or shortened (a new mixer, now ``self.mixer``), or None when it
    cannot be done (no such step, a step that would vanish, a length that no longer fits).

    Under ``--length`` the steps already played keep their lengths and the later ones re-fit, so
    the session still ends on time; without it only that step changes. Each change builds on
    the ones before it. A longer step can make room for a line the session did not speak before
    (the next check-in in turn, a countdown): its clip is rendered here, on the caller's thread
    (the player's key loop, never the audio path), on ``background``'s threads when given.
    """

    def __init__(self, prepared: Prepared, mixer: Mixer, background: Background | None = None):
        self.prepared = prepared
        self.mixer = mixer  # the session as last retimed
        self.background = background
        self._fixed: dict[int, int] = {}  # step index -> length, as the changes so far set them

    def __call__(self, step_index: int, delta_ms: int) -> Mixer | None:
        current = self.mixer.timeline
        by_index = {s.index: s for s in current.steps}
        if step_index not in by_index:
            return None
        want = dict(self._fixed)
        if self.prepared.pacing.length_ms is not None:
            for s in current.steps:
                if s.index <= step_index:
                    want[s.index] = s.duration_ms
        want[step_index] = by_index[step_index].duration_ms + delta_ms
        if want[step_index] <= 0:
            return None
        try:
            timeline = _fill(self.prepared, render=True, background=self.background, fixed_ms=want)
        except PacingError:
            return None
        self._fixed = want
        self.mixer = self.mixer.with_timeline(timeline, self.prepared.clips)
        return self.mixer


# --- the library's face: one object for people who script sessions -------------------------------------


def _ms(name: str, value: str | int | float | None, most_ms: int) -> int | None:
    """A duration given as text (``"15m"``, ``"1:30"``) or a number of seconds, in ms."""
    from voiceguide.durations import parse_duration

    if value is None:
        return None
    try:
        return parse_duration(value, most_ms=most_ms)
    except ValueError as e:
        raise PacingError(f"{name}: {e}") from None


def _spacing(value: str | int | float | None) -> tuple[int | None, int | None]:
    from voiceguide.durations import parse_range

    if value is None:
        return None, None
    try:
        lo, hi = parse_range(value)
    except ValueError as e:
        raise PacingError(f"checkin_every: {e}") from None
    return lo, (hi if hi != lo else None)


class Session:
    """A session made from a routine, ready to time, export or hand to pydub.

        import voiceguide
        session = voiceguide.Session("back-massage", length="15m", engine="piper")
        print(session.timeline.total_s)
        session.export("massage.mp3", chapters=["vtt"])

    The keywords are the command line's flags (``voiceguide export --help``): durations as text
    (``"15m"``, ``"90s"``, ``"60-90s"`` for ``checkin_every``) or numbers of seconds. Nothing
    happens until it is asked for: ``timeline`` renders the clips (into the clip cache, as
    ``voiceguide render`` does) and re-times with their real lengths; ``export`` and
    ``to_audiosegment`` build the mixer once and reuse it. Errors are the library's own
    (``voiceguide.errors``: RoutineError, PacingError, EngineError, ...); nothing is printed.
    What the command line would have said in a note (an engine that fell back, music louder
    than the voice) is in ``notes``.

    The work runs on a ``voiceguide.background.Background``'s threads: the one given as
    ``background`` (its owner closes it), else one the session makes when it first needs it and
    ends in ``close()``; ``with voiceguide.Session(...) as session:`` closes it on the way out.
    """

    def __init__(
        self,
        routine: str | Path | None = None,
        *,
        length: str | float | None = None,
        pace: float = 1.0,
        rate: int = 160,
        steps: str | None = None,
        lead_in: str | float = "3s",
        countdown: str | tuple[str | float, ...] = "30s,10s",
        checkin_every: str | float | None = None,
        checkins: bool = True,
        tips: bool = True,
        engine: str = "auto",
        voice: str | None = None,
        volume: float = 1.0,
        music: str | Path = "builtin",
        music_volume: float | None = None,
        chime: str = "soft",
        sample_rate: int = 44100,
        mono: bool = False,
        cache_dir: str | Path | None = None,
        background: Background | None = None,
    ):
        from voiceguide.audio.settings import DEFAULT_MUSIC_VOLUME_DB, MixSettings
        from voiceguide.compiler import MAX_COUNTDOWN_MS, MAX_LEAD_IN_MS
        from voiceguide.routine import MAX_SESSION_MS
        from voiceguide.tts import VoiceSettings, default_cache_dir

        parts = countdown.split(",") if isinstance(countdown, str) else list(countdown or ())
        countdowns = tuple(
            dict.fromkeys(
                ms
                for p in parts
                if not isinstance(p, str) or p.strip()
                if (ms := _ms("countdown", p.strip() if isinstance(p, str) else p, MAX_COUNTDOWN_MS)) is not None
            )
        )
        every, every_most = _spacing(checkin_every)
        pacing = Pacing(
            length_ms=_ms("length", length, MAX_SESSION_MS),
            pace=pace,
            rate_wpm=rate,
            steps=steps,
            lead_in_ms=_ms("lead_in", lead_in, MAX_LEAD_IN_MS) or 0,
            countdowns_ms=countdowns,
            checkins=checkins,
            checkin_every_ms=every,
            checkin_every_most_ms=every_most,
            tips=tips,
        )
        cache = default_cache_dir(cache_dir)
        mix = MixSettings(
            sample_rate=sample_rate,
            channels=1 if mono else 2,
            music=str(music),
            chime=chime,
            music_volume_db=DEFAULT_MUSIC_VOLUME_DB if music_volume is None else music_volume,
            cache_dir=cache,
        )
        self._setup(
            routine,
            pacing,
            VoiceSettings(engine=engine, voice=voice, rate_wpm=rate, volume=volume),
            mix,
            cache,
            background,
        )
        compile_timeline(load_routine(routine), pacing)  # a bad routine or length fails here, at once

    @classmethod
    def from_settings(
        cls,
        routine: str | Path | None,
        pacing: Pacing,
        voice: VoiceSettings,
        mix: MixSettings,
        cache_dir: Path,
        background: Background | None = None,
    ) -> Session:
        """A session from the settings objects themselves (the command line builds these)."""
        self = cls.__new__(cls)
        self._setup(routine, pacing, voice, mix, cache_dir, background)
        return self

    def _setup(
        self,
        routine: str | Path | None,
        pacing: Pacing,
        voice: VoiceSettings,
        mix: MixSettings,
        cache_dir: Path,
        background: Background | None,
    ) -> None:
        self.routine_ref, self.pacing, self.voice, self.mix, self.cache_dir = routine, pacing, voice, mix, cache_dir
        self._prepared: Prepared | None = None
        self._mixer: Mixer | None = None
        self._export_notes: list[str] = []
        self._given = background
        self._own: Background | None = None

    @property
    def background(self) -> Background:
        """Where the session's work runs: the Background it was given, else its own (made now)."""
        if self._given is not None:
            return self._given
        if self._own is None:
            from voiceguide.background import Background

            self._own = Background()
        return self._own

    def close(self) -> None:
        """End the session's own Background (one it was given is its owner's to close). The
        session still works afterwards, and makes a new one if it needs one."""
        own, self._own = self._own, None
        if own is not None:
            own.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def render(self, progress: Progress | None = None) -> Prepared:
        """Make every clip (once) and time the session with their real lengths."""
        if self._prepared is None:
            self._prepared = prepare(
                self.routine_ref,
                self.pacing,
                self.voice,
                self.cache_dir,
                render=True,
                progress=progress,
                background=self.background,
            )
        return self._prepared

    @property
    def prepared(self) -> Prepared:
        return self.render()

    @property
    def timeline(self) -> Timeline:
        """The exact timeline (rendering the clips first, if they are not yet)."""
        return self.render().timeline

    @property
    def notes(self) -> list[str]:
        return ([*self._prepared.notes] if self._prepared else []) + self._export_notes

    def mixer(self) -> Mixer:
        """The session's mixer (built once): the samples that play and export both read."""
        if self._mixer is None:
            self._mixer = build_mixer(self.render(), self.mix, self.background)
        return self._mixer

    def export(
        self, path: str | Path, *, chapters: Sequence[str] = (), bitrate: str = "128k", progress: Progress | None = None
    ) -> ExportResult:
        """Write the session to ``path`` (.mp3 or .wav), with FILE.chapters.vtt/.json when
        ``chapters`` asks for them; the file appears only when it is complete."""
        from voiceguide.audio import export_session

        result = export_session(
            self.mixer(),
            Path(path),
            bitrate=bitrate,
            chapters=list(chapters),
            progress=progress,
            background=self.background,
        )
        self._export_notes.extend(n for n in result.notes if n not in self._export_notes)
        return result

    def to_audiosegment(self) -> Any:
        """The whole session as a pydub ``AudioSegment`` (16-bit, the exporter's very samples).

        For people who already edit audio with pydub. It holds the whole session in memory
        (about 10 MB a minute in stereo), which is why the mixer itself does not use pydub.
        Needs the ``pydub`` extra: ``pip install 'voiceguide[pydub]'``.
        """
        try:
            from pydub import AudioSegment
        except ImportError:
            from voiceguide.errors import EnvironmentFault

            raise EnvironmentFault("pydub is not installed; install it with: pip install 'voiceguide[pydub]'") from None
        from voiceguide.audio.encode.export import _pcm16

        mixer = self.mixer()
        data = b"".join(_pcm16(block, mixer.channels) for block in mixer.mixes(1 << 16))
        return AudioSegment(data=data, sample_width=2, frame_rate=mixer.rate, channels=mixer.channels)
