"""The session's levels, decided before the first block from predicted powers: pure arithmetic
over arrays, no audio, no I/O.

Every source's K-weighted power per 10 ms is known before anything is mixed (each clip's, the
chime's, the bed's at each loop position, and the envelope that ducks the bed), and voice and
music are uncorrelated, so their powers add. Summed on the session's 10 ms grid that gives its
400 ms gating blocks and BS.1770 integrated loudness, and one gain brings it to the target. The
same prediction bounds every peak, so the bed and the chime are lowered only where that gain
would push them over the ceiling, and the clips are limited to the room that is left.

A bed that fills most of a sparse session would set the integrated loudness on its own, and
reaching -16 LUFS would then push the voice far above it and into heavy limiting. So when the
voice would sit more than MAX_VOICE_PUSH_LU above the program, the bed is lowered until the voice
leads again (``Levels.music_volume_db`` says where it ended up).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from voiceguide.audio.dsp.loudness import SEGMENT_MS, block_powers, db, gated_power, lufs, power_of
from voiceguide.audio.sources.speech import REFERENCE_LUFS

TARGET_LUFS = {2: -16.0, 1: -19.0}  # spoken-word targets; the same level per channel
CEILING_DBTP = -2.0  # the mix's true peak; MP3 encoding adds a little
CHIME_LEVEL_DB = -8.0  # the chime's loudness relative to the voice
BED_HEADROOM = 0.7  # the bed alone stays 3 dB under the ceiling, room for a chime
MAX_VOICE_PUSH_LU = 2.0  # the voice may sit this far above the program's loudness
GATE_MARGIN_DB = 3.0


@dataclass(frozen=True)
class LevelInputs:
    """What the levels are decided from, every array on the session's 10 ms grid (n segments).

    Powers are K-weighted mean squares of one channel unless said otherwise.
    """

    channels: int
    voice: np.ndarray  # (n,) the placed clips, each at REFERENCE_LUFS (``grid_powers``)
    chime_starts_ms: Sequence[int]  # where each chime is placed
    chime_powers: np.ndarray  # the chime's own 10 ms powers, at unit peak (empty: no chime)
    chime_lufs: float  # its loudness at unit peak (one channel); -inf without a chime
    chime_peak: float  # its true peak at unit peak
    bed_powers: np.ndarray | None  # (n,) the bed at each segment's loop position, all channels; None: no bed
    bed_mean: float  # the bed's mean power over its own length (all channels)
    bed_peak: float  # its true peak
    envelope_power: np.ndarray  # (n,) the bed envelope's mean square per segment (dips and fades)
    dip_power: np.ndarray  # (n,) the same for the dips alone: what ducks a chime's tail
    duck: float  # the envelope's gain under a voice (linear)
    music_volume_db: float  # the bed's level asked for, relative to the voice


@dataclass(frozen=True)
class Levels:
    gain: float  # the whole mix's, after everything else
    music_gain: float  # the bed's (before ``gain``)
    chime_gain: float  # the chime's, from unit peak (before ``gain``)
    music_volume_db: float  # the bed's level relative to the voice, as mixed; -inf without a bed
    predicted_lufs: float  # the mix's integrated loudness, as predicted
    voice_ceiling_db: float  # every clip's true peak is held to this (before ``gain``)


def grid_powers(starts_ms: Sequence[int], powers: Sequence[np.ndarray], n_segments: int) -> np.ndarray:
    """Sources of 10 ms powers placed at ``starts_ms`` and summed on the session's 10 ms grid: a
    source that starts inside a segment shares each of its segments between the two it overlaps,
    in proportion."""
    out = np.zeros(n_segments + 1)
    for start_ms, p in zip(starts_ms, powers):
        k0, rem = divmod(start_ms, SEGMENT_MS)
        r = rem / SEGMENT_MS
        m = max(0, min(len(p), n_segments - k0))
        if m:
            out[k0 : k0 + m] += p[:m] * (1 - r)
            out[k0 + 1 : k0 + 1 + m] += p[:m] * r
    return out[:n_segments]


def solve_levels(x: LevelInputs) -> Levels:
    """The gains that bring the predicted mix to TARGET_LUFS with its peaks under CEILING_DBTP.

    In order: the gain for the bed asked for; a lower bed while the voice would be pushed more
    than MAX_VOICE_PUSH_LU above the program (then GATE_MARGIN_DB more); the bed and the chime
    held to the room under the ceiling; what is left is the clips' ceiling.
    """
    channels = x.channels
    n_seg = len(x.voice)
    target_lufs = TARGET_LUFS[channels]
    ceiling = 10 ** (CEILING_DBTP / 20)
    reference = channels * power_of(REFERENCE_LUFS)  # the voice's power across all channels
    bed_powers = x.bed_powers if x.bed_powers is not None else np.zeros(n_seg)
    bed_mean = x.bed_mean if x.bed_powers is not None else 0.0
    bed_peak = x.bed_peak if x.bed_powers is not None else 0.0
    has_chime = len(x.chime_powers) > 0 and bool(np.isfinite(x.chime_lufs))
    chime_gain = 10 ** ((REFERENCE_LUFS + CHIME_LEVEL_DB - x.chime_lufs) / 20) if has_chime else 0.0
    chime_peak = x.chime_peak

    def music_gain_at(volume_db: float) -> float:
        return float(np.sqrt(10 ** (volume_db / 10) * reference / bed_mean)) if bed_mean > 0 else 0.0

    def solve(music_gain: float, chime_gain: float) -> tuple[float, np.ndarray]:
        """The gain that brings the predicted program to the target, and its block powers."""
        # (the chime's powers are scaled before they are placed, as every source is)
        scaled = x.chime_powers * chime_gain**2
        chimes = grid_powers(x.chime_starts_ms, [scaled] * len(x.chime_starts_ms), n_seg)
        blocks = block_powers(
            channels * (x.voice + chimes * x.dip_power) + x.envelope_power * bed_powers * music_gain**2
        )
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

    volume_db = x.music_volume_db
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

    for _ in range(4):
        room = ceiling / gain
        changed = False
        if music_gain * bed_peak > BED_HEADROOM * room:
            music_gain = BED_HEADROOM * room / bed_peak
            volume_db = db(music_gain / music_gain_at(0.0))
            changed = True
        chime_room = max(0.0, room - music_gain * bed_peak)
        if chime_gain * chime_peak > chime_room * 1.0001:
            chime_gain = chime_room / chime_peak
            changed = True
        if not changed:
            break
        gain, blocks = solve(music_gain, chime_gain)
    # Clips keep their loudness when limited, so this ceiling does not move the gain.
    # Under a voice, the bed and any chime still ringing are ducked.
    voice_room = ceiling / gain - x.duck * (music_gain * bed_peak + chime_gain * chime_peak)
    return Levels(
        gain=gain,
        music_gain=music_gain,
        chime_gain=chime_gain,
        music_volume_db=volume_db if x.bed_powers is not None else float("-inf"),
        predicted_lufs=lufs(gated_power(blocks, gain * gain)) if n_seg else float("-inf"),
        # (without ducking, a bed at its headroom could leave the voice no room at all)
        voice_ceiling_db=db(max(voice_room, 0.25 * ceiling / gain)) - 0.1,
    )
