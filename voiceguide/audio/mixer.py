"""The mixer: the only place samples are made. Live play and export read the same blocks.

``render(start, frames)`` is a pure function of the frame range: each output frame is the voice
clips and chimes that cover it, plus the bed at that frame's loop position times the envelope's
gain at that frame, all times one global gain. Nothing carries over from block to block, so a
player can seek anywhere and get exactly the samples an export writes there.

The global gain is decided before the first block, from predictions rather than a trial mix:
each clip's K-weighted power per 10 ms is known (see speech.py), as are the bed's and the
chime's, and the envelope's; voice and music are uncorrelated, so their powers add. Summed on a
10 ms grid, that gives the session's 400 ms gating blocks and its BS.1770 integrated loudness,
and one gain brings it to the target. The same prediction gives every peak, so clips are limited
only where that gain would push them over the ceiling.

A bed that fills most of a sparse session would set the integrated loudness on its own, and
reaching -16 LUFS would then push the voice far above it and into heavy limiting. So when the
voice would sit more than MAX_VOICE_PUSH_LU above the program, the bed is lowered until the voice
leads again (``Mixer.music_volume_db`` says where it ended up).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from voiceguide import cachedir
from voiceguide.audio.cache import DerivedCache, digest
from voiceguide.audio.chime import synthesize_chime
from voiceguide.audio.envelope import MusicEnvelope
from voiceguide.audio.loudness import (
    SEGMENT_MS,
    block_powers,
    db,
    gated_power,
    k_weight,
    lufs,
    power_of,
    segment_bounds,
    segment_powers,
    true_peak,
)
from voiceguide.audio.music import Bed, bed_position, prepare_bed
from voiceguide.audio.settings import MixSettings
from voiceguide.audio.speech import REFERENCE_LUFS, ClipLike, SpeechBank
from voiceguide.timeline import CueKind, Timeline

TARGET_LUFS = {2: -16.0, 1: -19.0}  # spoken-word targets; the same level per channel
CEILING_DBTP = -2.0  # the mix's true peak; MP3 encoding adds a little
CHIME_LEVEL_DB = -8.0  # the chime's loudness relative to the voice
END_FADE_MS = 30  # everything, at the very end: the last sample is silence
BED_HEADROOM = 0.7  # the bed alone stays 3 dB under the ceiling, room for a chime
MAX_VOICE_PUSH_LU = 2.0  # the voice may sit this far above the program's loudness
GATE_MARGIN_DB = 3.0


@dataclass(frozen=True)
class Placement:
    start: int  # first frame
    frames: int
    start_ms: int
    text: str | None  # None: the chime


class Mixer:
    """One session's sound. Build it with ``build_mixer``."""

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
        gain: float = 1.0,
        music_gain: float = 0.0,
    ):
        self.timeline = timeline
        self.rate = rate
        self.channels = channels
        self.total_frames = self.frame_of_ms(timeline.total_ms)
        self.bank = bank
        self.bed = bed
        self.chime = chime  # float32, at its mix level (before the global gain)
        self.duck_db = duck_db
        self.gain = gain
        self.music_gain = music_gain
        self.music_volume_db = float("-inf")  # the bed's level relative to the voice, as mixed
        self.predicted_lufs = float("nan")
        self.placements = self._place(timeline)
        self._starts = [p.start for p in self.placements]
        self._longest = max((p.frames for p in self.placements), default=0)
        spans = [(p.start, p.start + p.frames) for p in self.placements if p.text is not None]
        self.envelope = MusicEnvelope(rate, self.total_frames, spans, duck_db)
        self._end_fade = (
            0.5 + 0.5 * np.cos(np.pi * np.arange(rate * END_FADE_MS // 1000) / max(1, rate * END_FADE_MS // 1000))
        ).astype(np.float32)

    # -- the contract ----------------------------------------------------------------------

    @property
    def gain_db(self) -> float:
        return db(self.gain)

    def frame_of_ms(self, ms: int) -> int:
        """The frame a time in ms falls on: round half up, in integers (the same everywhere)."""
        return (int(ms) * self.rate + 500) // 1000

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

    def with_timeline(self, timeline: Timeline) -> Mixer:
        """The same clips, music and gain over a re-timed session (the player's +/- keys)."""
        self.bank.analyse(timeline.spoken_texts())
        m = Mixer(
            timeline,
            rate=self.rate,
            channels=self.channels,
            bank=self.bank,
            bed=self.bed,
            chime=self.chime,
            duck_db=self.duck_db,
            gain=self.gain,
            music_gain=self.music_gain,
        )
        m.predicted_lufs = self.predicted_lufs
        m.music_volume_db = self.music_volume_db
        return m

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

    # -- building --------------------------------------------------------------------------

    def _place(self, timeline: Timeline) -> list[Placement]:
        out = []
        transitions = [c.start_ms for c in timeline.cues if c.kind is CueKind.TRANSITION]
        for c in timeline.cues:
            if c.kind is CueKind.TRANSITION:
                if len(self.chime):
                    out.append(Placement(self.frame_of_ms(c.start_ms), len(self.chime), c.start_ms, None))
            elif c.spoken and c.text:
                out.append(Placement(self.frame_of_ms(c.start_ms), self.bank.out_frames(c.text), c.start_ms, c.text))
        closing = [c for c in timeline.cues if c.kind is CueKind.CLOSING]
        # The session ends on a chime: if the timeline has none after its closing words, add one.
        if closing and len(self.chime) and not any(t >= closing[-1].start_ms for t in transitions):
            end = closing[-1].end_ms
            out.append(Placement(self.frame_of_ms(end), len(self.chime), end, None))
        out.sort(key=lambda p: (p.start, p.text is not None))
        return out

    def _segment_grid(self) -> np.ndarray:
        return segment_bounds(self.total_frames, self.rate)

    def _placed_powers(self, n_segments: int, chime_powers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Voice and chime power on the session's 10 ms grid (one channel, before the gain)."""
        voice = np.zeros(n_segments + 1)
        chimes = np.zeros(n_segments + 1)
        for p in self.placements:
            powers = chime_powers if p.text is None else self.bank.analysis(p.text).powers
            target = chimes if p.text is None else voice
            k0, r = divmod(p.start_ms, SEGMENT_MS)
            r /= SEGMENT_MS
            m = max(0, min(len(powers), n_segments - k0))
            if m:
                target[k0 : k0 + m] += powers[:m] * (1 - r)
                target[k0 + 1 : k0 + 1 + m] += powers[:m] * r
        return voice[:n_segments], chimes[:n_segments]

    def _bed_powers(self, bounds: np.ndarray) -> np.ndarray:
        """The bed's power (all channels, at its own level) at each 10 ms segment's loop position."""
        if self.bed is None:
            return np.zeros(len(bounds) - 1)
        pos = bed_position(bounds[:-1], self.bed.frames, self.bed.loop_start)
        idx = np.minimum(pos * 1000 // (self.rate * SEGMENT_MS), len(self.bed.powers) - 1)
        return self.bed.powers[idx]


_ALLOCATOR_TUNED = False


def _return_big_buffers_to_the_system() -> None:
    """Pin glibc's mmap threshold at 2 MB (once per process).

    glibc raises the threshold to the size of every large block it frees (up to 32 MB), so after
    the bed's 17 MB transforms every clip's few-MB buffers would come from heaps that are never
    given back, and each thread has its own: about 35 MB of peak memory for nothing. With the
    threshold pinned, buffers of 2 MB and more are mapped and unmapped, and memory stays flat.
    (Not 1 MB: a clip at 44.1 kHz in float64 is just over it, and faulting in fresh pages for each
    of its buffers cost a third of a second of system time on first use.)
    Pinning it also pins the trim threshold at its 128 kB default, so every free at the top of a
    heap would hand its pages back and the next buffer would fault them in again: that doubled the
    time clips take to process. So the heaps may keep 8 MB free at their top before trimming,
    and there are at most two of them (one per core), whatever the number of threads.
    Not glibc (macOS, musl, Windows): nothing to do.
    """
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED:
        return
    _ALLOCATOR_TUNED = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 2 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 8 << 20)  # M_TRIM_THRESHOLD
        libc.mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


class _Side:
    """A function run on a thread of its own; ``result`` joins it and returns or raises."""

    def __init__(self, fn: Callable[[], Any]):
        import threading

        self._fn = fn
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="voiceguide-bed", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._fn()
        except BaseException as e:  # noqa: BLE001 - handed to the caller in result()
            self._error = e

    def join(self) -> None:
        self._thread.join()

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


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


def build_mixer(timeline: Timeline, clips: Mapping[str, ClipLike], settings: MixSettings) -> Mixer:
    """Prepare everything a session's sound needs and fix its gain, without rendering it.

    ``clips`` maps each spoken text to its clip (an object with .key, .digest, .sample_rate, .frames
    and .read() -> float32 mono). Raises AudioInputError for unusable music, DamagedClip for a
    cached clip that fails its check (it has been taken out of the cache: render it again).
    """
    _return_big_buffers_to_the_system()
    _check_digests(clips)
    rate, channels = settings.sample_rate, settings.channels
    cache = DerivedCache(settings.cache_dir / cachedir.MIX) if settings.cache_dir is not None else None
    if cache is not None:
        # An export usually follows, and needs the encoder's calibration (two short ffmpeg runs)
        # before its first block. They run at the lowest priority, on what CPU the work below
        # leaves idle, and are usually done when the export asks.
        from voiceguide.audio import codec

        codec.warm_up(rate, channels, cache, background=True)
    bank = SpeechBank(clips, rate, cache)
    # The music and the chime are made beside the clips' analysis rather than after it: on first
    # use the three take about as long each, and the analysis alone cannot keep two cores busy.
    # One plain thread, joined here (concurrent.futures would import logging: 11 ms of a warm
    # start's time to first sound).
    side = _Side(lambda: (prepare_bed(settings.music, rate, channels, cache), _chime(settings.chime, rate, cache)))
    try:
        bank.analyse(timeline.spoken_texts())
    except BaseException:
        side.join()  # never left running behind an error
        raise
    bed, (chime_raw, chime_lufs, chime_powers_unit, chime_peak_unit) = side.result()
    chime_gain = 10 ** ((REFERENCE_LUFS + CHIME_LEVEL_DB - chime_lufs) / 20) if len(chime_raw) else 0.0

    mixer = Mixer(
        timeline,
        rate=rate,
        channels=channels,
        bank=bank,
        bed=bed,
        chime=(chime_raw * chime_gain).astype(np.float32),
        duck_db=settings.duck_db,
    )
    bounds = mixer._segment_grid()
    n_seg = len(bounds) - 1
    env2, dips2 = mixer.envelope.mean_squares(bounds)
    bed_powers = mixer._bed_powers(bounds)

    target_lufs = TARGET_LUFS[channels]
    ceiling = 10 ** (CEILING_DBTP / 20)
    reference = channels * power_of(REFERENCE_LUFS)  # the voice's power across all channels
    bed_mean = float(bed.powers.mean()) if bed is not None else 0.0

    def music_gain_at(volume_db: float) -> float:
        return float(np.sqrt(10 ** (volume_db / 10) * reference / bed_mean)) if bed_mean > 0 else 0.0

    def solve(music_gain: float, chime_gain: float) -> tuple[float, np.ndarray]:
        """The gain that brings the predicted program to the target, and its block powers."""
        voice, chimes = mixer._placed_powers(n_seg, chime_powers_unit * chime_gain**2)
        blocks = block_powers(channels * (voice + chimes * dips2) + env2 * bed_powers * music_gain**2)
        gain = 1.0
        # iterate because the absolute gate applies to the program as heard
        for _ in range(3):
            heard = gated_power(blocks, gain * gain)
            if heard <= 0:
                break
            gain *= float(np.sqrt(power_of(target_lufs) / heard))
        return gain, blocks

    def voice_push(gain: float) -> float:
        """How far above the program's loudness the voice is heard (LU)."""
        return REFERENCE_LUFS + 10 * np.log10(channels) + db(gain) - target_lufs

    volume_db = settings.music_volume_db
    music_gain = music_gain_at(volume_db)
    gain, blocks = solve(music_gain, chime_gain)
    if music_gain > 0 and voice_push(gain) > MAX_VOICE_PUSH_LU:
        # The bed fills most of the time, so it sets the integrated loudness, and reaching the
        # target would drive the voice far above it (into heavy limiting). Lower the bed until the
        # voice leads again: usually until the bed falls under the relative gate.
        floor = volume_db - 40
        while volume_db > floor and voice_push(gain) > MAX_VOICE_PUSH_LU:
            volume_db -= 1.0
            music_gain = music_gain_at(volume_db)
            gain, blocks = solve(music_gain, chime_gain)
        # The bed now sits just under the relative gate; a margin keeps small prediction errors
        # from tipping its blocks back over it (which would move the loudness a whole LU).
        volume_db -= GATE_MARGIN_DB
        music_gain = music_gain_at(volume_db)
        gain, blocks = solve(music_gain, chime_gain)

    bed_peak = bed.peak if bed is not None else 0.0
    for _ in range(4):
        room = ceiling / gain
        changed = False
        if music_gain * bed_peak > BED_HEADROOM * room:
            music_gain = BED_HEADROOM * room / bed_peak
            volume_db = db(music_gain / music_gain_at(0.0))
            changed = True
        chime_room = max(0.0, room - music_gain * bed_peak)
        if chime_gain * chime_peak_unit > chime_room * 1.0001:
            chime_gain = chime_room / chime_peak_unit
            mixer.chime = (chime_raw * chime_gain).astype(np.float32)
            changed = True
        if not changed:
            break
        gain, blocks = solve(music_gain, chime_gain)
    # Clips keep their loudness when limited, so this ceiling does not move the gain.
    # Under a voice, the bed and any chime still ringing are ducked.
    voice_room = ceiling / gain - mixer.envelope.duck * (music_gain * bed_peak + chime_gain * chime_peak_unit)
    # (without ducking, a bed at its headroom could leave the voice no room at all)
    bank.set_ceiling(db(max(voice_room, 0.25 * ceiling / gain)) - 0.1)
    bank.check_sources(timeline.spoken_texts())
    mixer.gain = gain
    mixer.music_gain = music_gain
    mixer.music_volume_db = volume_db if bed is not None else float("-inf")
    mixer.predicted_lufs = lufs(gated_power(blocks, gain * gain)) if n_seg else float("-inf")
    return mixer


def prepare_mix(
    timeline: Timeline, clips: Mapping[str, ClipLike], settings: MixSettings, bitrate: str | None = "128k"
) -> Mixer:
    """Build the mixer and do now (keeping it in ``settings.cache_dir``) all the one-off work a
    first play or export of this session would otherwise do on the way: the music loop, every
    clip's analysis, limiting and resampling, and the MP3 encoder's calibration at ``bitrate``.
    For ``voiceguide render``, so that play starts at once and export runs at encoder speed.
    """
    from concurrent.futures import ThreadPoolExecutor

    mixer = build_mixer(timeline, clips, settings)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="voiceguide-prepare") as pool:
        list(pool.map(mixer.bank.samples, timeline.spoken_texts()))
    if bitrate is not None and mixer.bank.cache is not None:
        from voiceguide.audio import codec

        try:
            codec.codec_gain(bitrate, mixer.rate, mixer.channels, mixer.bank.cache)
        except Exception:  # noqa: BLE001 - any failure here is met again, and reported, by export
            pass  # no ffmpeg: export will say so itself
    return mixer
