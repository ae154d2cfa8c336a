"""The level decisions on their own: hand-made power arrays in, gains out (no audio, no clips)."""

import math

import numpy as np
import pytest

from voiceguide.audio.dsp.loudness import db, lufs, power_of
from voiceguide.audio.mix.levels import (
    BED_HEADROOM,
    CEILING_DBTP,
    CHIME_LEVEL_DB,
    GATE_MARGIN_DB,
    MAX_VOICE_PUSH_LU,
    TARGET_LUFS,
    LevelInputs,
    grid_powers,
    solve_levels,
)
from voiceguide.audio.sources.speech import REFERENCE_LUFS

VOICE = power_of(REFERENCE_LUFS)  # one channel of a clip at the reference loudness
CEILING = 10 ** (CEILING_DBTP / 20)
DUCK = 10 ** (-13 / 20)


def inputs(n=1000, *, channels=2, voice=None, bed=None, bed_peak=0.5, chime=None, **extra) -> LevelInputs:
    """``n`` 10 ms segments of speech at the reference level unless ``voice`` says otherwise; a
    bed of constant power ``bed`` (all channels) if given; no ducking, no fades."""
    fields = dict(
        channels=channels,
        voice=np.full(n, VOICE) if voice is None else voice,
        chime_starts_ms=(),
        chime_powers=np.zeros(0),
        chime_lufs=-math.inf,
        chime_peak=0.0,
        bed_powers=None if bed is None else np.full(n, bed),
        bed_mean=0.0 if bed is None else bed,
        bed_peak=bed_peak,
        envelope_power=np.ones(n),
        dip_power=np.ones(n),
        duck=DUCK,
        music_volume_db=-20.0,
    )
    if chime is not None:
        starts, powers, loudness, peak = chime
        fields.update(chime_starts_ms=starts, chime_powers=powers, chime_lufs=loudness, chime_peak=peak)
    fields.update(extra)
    return LevelInputs(**fields)


def voice_push(levels, channels=2) -> float:
    return REFERENCE_LUFS + 10 * math.log10(channels) + db(levels.gain) - TARGET_LUFS[channels]


# -- placing powers on the grid ------------------------------------------------------------


def test_a_source_between_segments_shares_each_of_its_powers_between_two():
    out = grid_powers([25], [np.array([1.0, 2.0])], 5)  # 25 ms: halfway into segment 2
    assert out.tolist() == [0.0, 0.0, 0.5, 1.5, 1.0]


def test_sources_add_and_what_runs_past_the_end_is_cut():
    out = grid_powers([0, 10, 30], [np.array([1.0, 1.0]), np.array([4.0]), np.array([8.0, 8.0, 8.0])], 4)
    assert out.tolist() == [1.0, 5.0, 0.0, 8.0]


# -- the gain ----------------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [2, 1])
def test_speech_alone_is_brought_to_the_target(channels):
    levels = solve_levels(inputs(channels=channels))
    # every channel carries the voice at -23 LUFS: the program is 10*log10(channels) louder
    assert db(levels.gain) == pytest.approx(TARGET_LUFS[channels] - REFERENCE_LUFS - 10 * math.log10(channels))
    assert levels.predicted_lufs == pytest.approx(TARGET_LUFS[channels], abs=1e-9)
    assert levels.music_gain == 0.0 and levels.chime_gain == 0.0
    assert levels.music_volume_db == -math.inf
    # nothing else sounds: the clips have all the room under the ceiling, less 0.1 dB
    assert levels.voice_ceiling_db == pytest.approx(CEILING_DBTP - db(levels.gain) - 0.1)


def test_the_gate_leaves_silence_out_of_the_loudness():
    speech = np.zeros(3000)
    speech[:1000] = VOICE  # 10 s of speech, then 20 s of silence
    gated = db(solve_levels(inputs(3000, voice=speech)).gain) - db(solve_levels(inputs(1000)).gain)
    # only the few blocks that straddle the speech's end count a little silence: averaged over
    # the whole 30 s, the gain would be 4.8 dB higher
    assert 0 < gated < 0.1


def test_an_empty_session_keeps_unit_gain():
    levels = solve_levels(inputs(0))
    assert levels.gain == 1.0 and levels.predicted_lufs == -math.inf


# -- the bed ---------------------------------------------------------------------------------------


def test_the_bed_sits_where_it_was_asked_under_a_voice_that_fills_the_session():
    levels = solve_levels(inputs(bed=2 * VOICE, music_volume_db=-20.0))
    assert levels.music_volume_db == -20.0
    # its power is the voice's (both channels) 20 dB down
    assert levels.music_gain == pytest.approx(math.sqrt(10**-2 * 2 * VOICE / (2 * VOICE)))
    # and it adds its 1 % to the program, which the gain takes back
    alone = solve_levels(inputs())
    assert db(levels.gain) == pytest.approx(db(alone.gain) - 10 * math.log10(1.01), abs=1e-6)


def test_a_bed_that_would_push_a_sparse_voice_up_is_lowered_in_whole_db_then_by_the_margin():
    n = 6000  # a minute, with speech in its first three seconds only
    speech = np.zeros(n)
    speech[:300] = VOICE
    asked = solve_levels(inputs(n, voice=speech, bed=2 * VOICE, music_volume_db=-12.0, bed_peak=0.01))
    steps = -12.0 - GATE_MARGIN_DB - asked.music_volume_db
    assert steps >= 1 and steps == int(steps)
    assert voice_push(asked) <= MAX_VOICE_PUSH_LU + 0.01

    def at(volume_db: float) -> float:
        return solve_levels(inputs(n, voice=speech, bed=2 * VOICE, music_volume_db=volume_db)).music_volume_db

    stopped = asked.music_volume_db + GATE_MARGIN_DB
    assert at(stopped) == stopped  # where the lowering stopped, the voice leads: a bed asked there stays
    assert at(stopped + 1) < stopped + 1  # a dB louder it did not, and is lowered too
    assert asked.predicted_lufs == pytest.approx(TARGET_LUFS[2], abs=0.01)


def test_a_bed_as_loud_as_the_voice_is_left_where_it_is():
    n = 6000
    speech = np.zeros(n)
    speech[:300] = VOICE
    levels = solve_levels(inputs(n, voice=speech, bed=2 * VOICE, music_volume_db=0.0, bed_peak=0.01))
    assert levels.music_volume_db == 0.0  # it sets the loudness, but does not push the voice
    assert voice_push(levels) <= MAX_VOICE_PUSH_LU


def test_a_peaky_bed_is_held_to_its_headroom_under_the_ceiling():
    levels = solve_levels(inputs(bed=2 * VOICE, bed_peak=5.0, music_volume_db=-6.0))
    assert levels.music_gain * 5.0 * levels.gain == pytest.approx(BED_HEADROOM * CEILING, rel=1e-3)
    assert levels.music_gain * 5.0 * levels.gain <= BED_HEADROOM * CEILING * 1.0001
    assert levels.music_volume_db < -6.0
    assert levels.music_volume_db == pytest.approx(db(levels.music_gain / math.sqrt(2 * VOICE / (2 * VOICE))))


def test_the_clips_ceiling_leaves_room_for_the_ducked_bed():
    levels = solve_levels(inputs(bed=2 * VOICE, bed_peak=0.5))
    room = CEILING / levels.gain - DUCK * levels.music_gain * 0.5
    assert levels.voice_ceiling_db == pytest.approx(db(room) - 0.1)
    assert levels.voice_ceiling_db < CEILING_DBTP - db(levels.gain) - 0.1


# -- the chime -------------------------------------------------------------------------------------


def chime(peak: float, starts=(0, 5000)):
    powers = np.full(100, power_of(-10.0))  # a second at -10 LUFS, at unit peak
    return starts, powers, lufs(power_of(-10.0)), peak


def test_the_chime_is_set_below_the_voice():
    levels = solve_levels(inputs(chime=chime(peak=1.0)))
    assert db(levels.chime_gain) == pytest.approx(REFERENCE_LUFS + CHIME_LEVEL_DB - -10.0)


def test_a_chime_too_peaky_for_the_room_is_lowered_to_fit():
    levels = solve_levels(inputs(chime=chime(peak=20.0)))
    assert levels.chime_gain * 20.0 == pytest.approx(CEILING / levels.gain, rel=1e-3)
    assert db(levels.chime_gain) < REFERENCE_LUFS + CHIME_LEVEL_DB - -10.0


def test_a_peaky_chime_over_a_bed_gets_the_room_the_bed_leaves():
    levels = solve_levels(inputs(bed=2 * VOICE, bed_peak=2.0, chime=chime(peak=20.0)))
    room = CEILING / levels.gain - levels.music_gain * 2.0
    assert levels.music_gain * 2.0 > 0.05 * CEILING / levels.gain  # the bed takes a real share
    assert levels.chime_gain * 20.0 == pytest.approx(room, rel=1e-3)


def test_a_chime_counts_at_the_level_the_dips_leave_it():
    speech = np.zeros(1000)
    speech[:200] = VOICE
    alone = solve_levels(inputs(voice=speech))
    # a chime over the speech, as loud as it once set below the voice: the program doubles ...
    over = (np.array([0]), np.full(200, VOICE * 10 ** (-CHIME_LEVEL_DB / 10)), REFERENCE_LUFS, 0.01)
    heard = solve_levels(inputs(voice=speech, chime=over))
    assert db(heard.gain) == pytest.approx(db(alone.gain) - 10 * math.log10(2), abs=1e-6)
    # ... unless the envelope's dips silence it there
    silenced = solve_levels(inputs(voice=speech, chime=over, dip_power=np.zeros(1000)))
    assert silenced.gain == alone.gain
