"""The mixer: the only place samples are made. Live play and export read the same blocks.

``render(start, frames)`` is a pure function of the frame range: each output frame is the voice
clips and chimes that cover it, plus the bed at that frame's loop position times the envelope's
gain at that frame, all times one global gain. Nothing carries over from block to block, so a
player can seek anywhere and get exactly the samples an export writes there.

The gains are decided before the first block, from predictions rather than a trial mix: each clip's
K-weighted power per 10 ms is known (see sources/speech.py), as are the bed's, the chime's and the
envelope's, and ``levels.solve_levels`` turns them into the global gain, the bed's and the chime's,
and the clips' ceiling. ``build_mixer`` gathers those inputs and hands the finished levels to the
Mixer, which is complete when it is made.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from voiceguide import cachedir
from voiceguide.audio.cache import DerivedCache, digest
from voiceguide.audio.dsp.loudness import (
    SEGMENT_MS,
    block_powers,
    db,
    gated_power,
    k_weight,
    lufs,
    segment_bounds,
    segment_powers,
    true_peak,
)
from voiceguide.audio.mix.envelope import MusicEnvelope
from voiceguide.audio.mix.levels import (
    CEILING_DBTP,
    TARGET_LUFS,
    LevelInputs,
    Levels,
    grid_powers,
    solve_levels,
)
from voiceguide.audio.settings import MixSettings
from voiceguide.audio.sources.chime import synthesize_chime
from voiceguide.audio.sources.music import Bed, bed_position, prepare_bed
from voiceguide.audio.sources.speech import ClipLike, SpeechBank
from voiceguide.timeline import CueKind, Timeline

if TYPE_CHECKING:  # pragma: no cover
    from voiceguide.background import Background

__all__ = ["CEILING_DBTP", "TARGET_LUFS", "Levels", "Mixer", "Placement", "build_mixer"]

END_FADE_MS = 30  # everything, at the very end: the last sample is silence


@dataclass(frozen=True)
class Placement:
    start: int  # first frame
    frames: int
    start_ms: int
    text: str | None  # None: the chime


def frame_of_ms(ms: int, rate: int) -> int:
    """The frame a time in ms falls on: round half up, in integers (the same everywhere)."""
    return (int(ms) * rate + 500) // 1000


def place(timeline: Timeline, rate: int, bank: SpeechBank, chime_frames: int) -> list[Placement]:
    """Where each clip and chime sounds, in order (a chime before a clip on the same frame)."""
    out = []
    transitions = [c.start_ms for c in timeline.cues if c.kind is CueKind.TRANSITION]
    for c in timeline.cues:
        if c.kind is CueKind.TRANSITION:
            if chime_frames:
                out.append(Placement(frame_of_ms(c.start_ms, rate), chime_frames, c.start_ms, None))
        elif c.spoken and c.text:
            out.append(Placement(frame_of_ms(c.start_ms, rate), bank.out_frames(c.text), c.start_ms, c.text))
    closing = [c for c in timeline.cues if c.kind is CueKind.CLOSING]
    # The session ends on a chime: if the timeline has none after its closing words, add one.
    if closing and chime_frames and not any(t >= closing[-1].start_ms for t in transitions):
        end = closing[-1].end_ms
        out.append(Placement(frame_of_ms(end, rate), chime_frames, end, None))
    out.sort(key=lambda p: (p.start, p.text is not None))
    return out


def envelope_for(placements: list[Placement], rate: int, total_frames: int, duck_db: float) -> MusicEnvelope:
    """The bed's gain over the session: ducked under every clip (chimes do not duck it)."""
    spans = [(p.start, p.start + p.frames) for p in placements if p.text is not None]
    return MusicEnvelope(rate, total_frames, spans, duck_db)


class Mixer:
    """One session's sound, complete when made: its placements, envelope and levels are fixed.
    ``build_mixer`` decides the levels and makes one; ``with_timeline`` re-times it."""

    def __init__(
        self,
        timeline: Timeline,
        *,
        rate: int,
        channels: int,
        bank: SpeechBank,
        bed: Bed | None,
        chime: np.ndarray,
        duck_db: float,
        levels: Levels,
        placements: list[Placement] | None = None,
        envelope: MusicEnvelope | None = None,
    ):
        """``chime`` is the chime's samples at their mix level (the unit-peak chime times
        ``levels.chime_gain``), float32; ``placements`` and ``envelope``, when given, are what
        ``place`` and ``envelope_for`` make for this timeline (``build_mixer`` has them already)."""
        self.timeline = timeline
        self.rate = rate
        self.channels = channels
        self.total_frames = frame_of_ms(timeline.total_ms, rate)
        self.bank = bank
        self.bed = bed
        self.chime = chime  # float32, at its mix level (before the global gain)
        self.duck_db = duck_db
        self.levels = levels
        self.gain = levels.gain
        self.music_gain = levels.music_gain
        self.music_volume_db = levels.music_volume_db  # the bed's level relative to the voice, as mixed
        self.predicted_lufs = levels.predicted_lufs
        self.placements = placements if placements is not None else place(timeline, rate, bank, len(chime))
        self._starts = [p.start for p in self.placements]
        self._longest = max((p.frames for p in self.placements), default=0)
        self.envelope = (
            envelope if envelope is not None else envelope_for(self.placements, rate, self.total_frames, duck_db)
        )
        self._end_fade = (
            0.5 + 0.5 * np.cos(np.pi * np.arange(rate * END_FADE_MS // 1000) / max(1, rate * END_FADE_MS // 1000))
        ).astype(np.float32)

    # -- the contract ----------------------------------------------------------------------

    @property
    def gain_db(self) -> float:
        return db(self.gain)

    def frame_of_ms(self, ms: int) -> int:
        """The frame a time in ms falls on: round half up, in integers (the same everywhere)."""
        return frame_of_ms(ms, self.rate)

    def render(self, start_frame: int, frames: int) -> np.ndarray:
        """Frames [start_frame, start_frame + frames) as float32 (frames, channels).

        Past the end of the session the frames are silent.
        """
        if start_frame < 0 or frames < 0:
            raise ValueError("render needs a non-negative start and length")
        out = np.zeros((frames, self.channels), dtype=np.float32)
        n = min(frames, self.total_frames - start_frame)
        if n > 0:
            mixed = self.mix(start_frame, n)
            out[:n] = mixed[:, None] if mixed.ndim == 1 else mixed
        return out

    def mix(self, start_frame: int, n: int) -> np.ndarray:
        """The same frames as ``render`` (within the session), shaped (n,) when every channel
        carries the same signal (the voice, the chimes and a mono bed are centred), else (n, channels).
        Export converts the one channel before copying it, which halves that work."""
        end = start_frame + n
        voice = np.zeros(n, dtype=np.float32)
        chimes = None
        lo = bisect.bisect_right(self._starts, start_frame - self._longest)
        hi = bisect.bisect_left(self._starts, end)
        for p in self.placements[lo:hi]:
            a, b = max(p.start, start_frame), min(p.start + p.frames, end)
            if a < b:
                if p.text is None:
                    if chimes is None:
                        chimes = np.zeros(n, dtype=np.float32)
                    chimes[a - start_frame : b - start_frame] += self.chime[a - p.start : b - p.start]
                else:
                    voice[a - start_frame : b - start_frame] += self.bank.samples(p.text)[a - p.start : b - p.start]
        if chimes is not None:
            voice += chimes * self.envelope.block(start_frame, n, fades=False)
        voice *= np.float32(self.gain)
        tail = self.total_frames - len(self._end_fade)
        if end > tail:
            a = max(start_frame, tail)
            voice[a - start_frame :] *= self._end_fade[a - tail : end - tail]
        if self.bed is None:
            return voice
        env = self.envelope.block(start_frame, n)
        env *= np.float32(self.gain * self.music_gain)
        music = self.bed.read(start_frame, n)
        if music.ndim == 1:
            voice += music * env
            return voice
        return music * env[:, None] + voice[:, None]

    def blocks(self, start_frame: int = 0, block_frames: int = 4096) -> Iterator[np.ndarray]:
        """The session from ``start_frame`` to its end, in blocks of ``block_frames`` (the last shorter)."""
        if block_frames <= 0:
            raise ValueError("block_frames must be positive")
        for s in range(start_frame, self.total_frames, block_frames):
            yield self.render(s, min(block_frames, self.total_frames - s))

    def mixes(self, block_frames: int) -> Iterator[np.ndarray]:
        """``mix`` over the whole session, in blocks (for export)."""
        for s in range(0, self.total_frames, block_frames):
            yield self.mix(s, min(block_frames, self.total_frames - s))

    def steady_spans(self) -> list[tuple[int, int]]:
        """Frame ranges [start, end) where the mix is the bed alone at its full level: no clip or
        chime sounds, the bed is neither dipped nor fading. There every frame is ``steady`` at
        the frame's position in the loop, which lets an MP3 export encode the loop once and reuse
        it (in a routine, about three quarters of the session)."""
        if self.bed is None:
            return []
        env = self.envelope
        busy = [(p.start, p.start + p.frames) for p in self.placements]
        busy += [(d.start - env.attack, d.end + env.release) for d in env.dips]
        busy += [
            (0, max(env.fade_in, self.bed.loop_start)),  # the music's opening is not the loop
            (self.total_frames - env.fade_out, self.total_frames),
        ]
        busy.sort()
        spans = []
        at = 0
        for a, b in busy:
            if a > at:
                spans.append((at, min(a, self.total_frames)))
            at = max(at, b)
        if at < self.total_frames:
            spans.append((at, self.total_frames))
        return [(a, b) for a, b in spans if b > a]

    def steady(self, pos: int, frames: int) -> np.ndarray:
        """The bed at its full level from loop position ``pos``: exactly what ``mix`` makes in a
        steady span (the same float32 products), shaped as ``mix`` shapes it."""
        if self.bed is None:
            raise ValueError("this session has no music bed")
        # ``pos`` counts in the loop's period from the session's start; after the music's
        # opening, session frame p plays the loop at loop_start + (p - loop_start) % period
        start, period = self.bed.loop_start, self.bed.frames - self.bed.loop_start
        return self.bed.read(start + (pos - start) % period, frames) * np.float32(self.gain * self.music_gain)

    def with_timeline(self, timeline: Timeline, clips: Mapping[str, ClipLike] | None = None) -> Mixer:
        """The same clips (with ``clips`` added: a re-timed step can speak a line the session did
        not), music and gain over a re-timed session (the player's +/- keys)."""
        if clips:
            self.bank.add(clips)
        self.bank.analyse(timeline.spoken_texts())
        return Mixer(
            timeline,
            rate=self.rate,
            channels=self.channels,
            bank=self.bank,
            bed=self.bed,
            chime=self.chime,
            duck_db=self.duck_db,
            levels=self.levels,
        )

    def prepare(self, start_frame: int, frames: int) -> bool:
        """Make ready the first clip placed in [start_frame, start_frame + frames) that is not
        ready yet; True when there was one. The live player's producer calls this in its spare
        time, so clips are made in spoken order before their turn and never on the audio path."""
        lo = bisect.bisect_right(self._starts, start_frame - self._longest)
        hi = bisect.bisect_left(self._starts, start_frame + frames)
        for p in self.placements[lo:hi]:
            if p.text is not None and p.start + p.frames > start_frame and not self.bank.ready(p.text):
                self.bank.samples(p.text)
                return True
        return False

    def speech(self, text: str) -> np.ndarray:
        """The clip spoken for ``text``, processed and at the session's gain: (frames, channels)."""
        self.bank.analyse([text])
        x = self.bank.samples(text) * np.float32(self.gain)
        return np.repeat(x[:, None], self.channels, axis=1)

    def music(self, start_frame: int, frames: int, ducked: bool) -> np.ndarray:
        """The bed alone at a session position, at the session's gain: (frames, channels).

        ``ducked`` gives the level it has under speech; otherwise its full level. The session's
        own envelope (dips and fades) is not applied: this is for playing the bed on its own,
        e.g. while paused or under a replayed line.
        """
        out = np.zeros((frames, self.channels), dtype=np.float32)
        if self.bed is None or frames <= 0:
            return out
        level = self.gain * self.music_gain * (self.envelope.duck if ducked else 1.0)
        x = self.bed.read(start_frame, frames) * np.float32(level)
        out[:] = x[:, None] if x.ndim == 1 else x
        return out


# -- building ------------------------------------------------------------------------------


def _chime(style: str, rate: int, cache: DerivedCache | None) -> tuple[np.ndarray, float, np.ndarray, float]:
    """The chime at unit peak, with its loudness (one channel), 10 ms powers and true peak.

    Kept in the cache: synthesising and measuring it costs about as much as the rest of a warm
    build."""
    name = digest("chime", style, rate)
    if cache is not None:
        z = cache.load_arrays("chime", name)
        if z is not None:
            loud, peak = z["meta"]
            return z["samples"], float(loud), z["powers"], float(peak)
    chime = synthesize_chime(style, rate)
    if len(chime) == 0:
        return chime, float("-inf"), np.zeros(0), 0.0
    powers = segment_powers(k_weight(chime, rate), rate)
    loud, peak = lufs(gated_power(block_powers(powers))), true_peak(chime)
    if cache is not None:
        cache.save_arrays("chime", name, samples=chime, powers=powers, meta=np.array([loud, peak]))
    return chime, loud, powers, peak


def _check_digests(clips: Mapping[str, ClipLike]) -> None:
    """Every clip's digest, read now (one small read each): a clip whose seal is damaged is
    found before anything is built on it, all such clips at once (DamagedClip names them)."""
    from voiceguide.errors import DamagedClip

    damaged: list[DamagedClip] = []
    for clip in {id(c): c for c in clips.values()}.values():
        try:
            _ = clip.digest  # reading it checks the clip's seal
        except DamagedClip as e:
            damaged.append(e)
    DamagedClip.raise_all(damaged)


def _bed_powers(bed: Bed, bounds: np.ndarray, rate: int) -> np.ndarray:
    """The bed's power (all channels, at its own level) at each 10 ms segment's loop position."""
    pos = bed_position(bounds[:-1], bed.frames, bed.loop_start)
    idx = np.minimum(pos * 1000 // (rate * SEGMENT_MS), len(bed.powers) - 1)
    return bed.powers[idx]


def build_mixer(
    timeline: Timeline,
    clips: Mapping[str, ClipLike],
    settings: MixSettings,
    background: Background | None = None,
) -> Mixer:
    """Prepare everything a session's sound needs and fix its levels, without rendering it.

    ``clips`` maps each spoken text to its clip (an object with .key, .digest, .sample_rate, .frames
    and .read() -> float32 mono). With a ``background``, the music, the chime and the clips'
    analysis are made side by side on its threads (on first use the three take about as long
    each, and the analysis alone cannot keep two cores busy), and the MP3 encoder's calibration
    is started there, for an export that usually follows; without one, all of it is done here,
    in turn (and export calibrates when it needs to). Raises AudioInputError for unusable music,
    DamagedClip for a cached clip that fails its check (it has been taken out of the cache:
    render it again).
    """
    from voiceguide.background import Background

    _check_digests(clips)
    tasks = background if background is not None else Background(0)
    rate, channels = settings.sample_rate, settings.channels
    cache = DerivedCache(settings.cache_dir / cachedir.MIX) if settings.cache_dir is not None else None
    if cache is not None and tasks.threaded:
        # The encoder's calibration (two short ffmpeg runs) at the lowest priority, on what CPU
        # the work below leaves idle: usually done when an export asks for it.
        from voiceguide.audio.encode import codec

        codec.warm_up(rate, channels, cache, background=tasks, nice=True)
    bank = SpeechBank(clips, rate, cache)
    bed_task = tasks.submit(prepare_bed, settings.music, rate, channels, cache)
    chime_task = tasks.submit(_chime, settings.chime, rate, cache)
    try:
        bank.analyse(timeline.spoken_texts(), tasks)
    except BaseException:
        for task in (bed_task, chime_task):  # never left running behind an error
            task.cancel()
            task.wait()
        raise
    chime_task.wait()  # both end before either's error is raised
    bed = bed_task.result()
    chime_raw, chime_lufs, chime_powers, chime_peak = chime_task.result()

    placements = place(timeline, rate, bank, len(chime_raw))
    total_frames = frame_of_ms(timeline.total_ms, rate)
    envelope = envelope_for(placements, rate, total_frames, settings.duck_db)
    bounds = segment_bounds(total_frames, rate)
    n_seg = len(bounds) - 1
    envelope_power, dip_power = envelope.mean_squares(bounds)
    voices = [(p.start_ms, bank.analysis(p.text).powers) for p in placements if p.text is not None]
    levels = solve_levels(
        LevelInputs(
            channels=channels,
            voice=grid_powers([ms for ms, _ in voices], [powers for _, powers in voices], n_seg),
            chime_starts_ms=[p.start_ms for p in placements if p.text is None],
            chime_powers=chime_powers,
            chime_lufs=chime_lufs,
            chime_peak=chime_peak,
            bed_powers=_bed_powers(bed, bounds, rate) if bed is not None else None,
            bed_mean=float(bed.powers.mean()) if bed is not None else 0.0,
            bed_peak=bed.peak if bed is not None else 0.0,
            envelope_power=envelope_power,
            dip_power=dip_power,
            duck=envelope.duck,
            music_volume_db=settings.music_volume_db,
        )
    )
    bank.set_ceiling(levels.voice_ceiling_db)
    bank.check_sources(timeline.spoken_texts())
    return Mixer(
        timeline,
        rate=rate,
        channels=channels,
        bank=bank,
        bed=bed,
        chime=(chime_raw * levels.chime_gain).astype(np.float32),
        duck_db=settings.duck_db,
        levels=levels,
        placements=placements,
        envelope=envelope,
    )
