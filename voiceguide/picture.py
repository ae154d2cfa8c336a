"""A picture of a session: the timeline drawn as a hand-written SVG (``voiceguide show --svg``).

One bar per step with its title and times, every cue as a mark coloured by its kind (its words on
hover, an SVG ``<title>``), the chimes, and the music's level with its dips under speech. The level
comes from the mixer's own envelope (``voiceguide.audio.mix.envelope.MusicEnvelope``) over the same
spoken spans the mixer ducks under, at the default music volume, so the picture shows what the
player does rather than a drawing of it.

Written by hand because an SVG of a few hundred shapes is a page of text: a plotting library
(matplotlib is 40 MB and a second to import) would buy nothing here, and only ``show --svg``
imports this module, so ``play`` never pays for it. Each shape carries its times as
``data-start-ms``/``data-end-ms``, which the tests read back.
"""

from __future__ import annotations

import os
from pathlib import Path
from xml.sax.saxutils import escape

from voiceguide.durations import format_clock
from voiceguide.errors import OutputError
from voiceguide.timeline import CueKind, Timeline

WIDTH = 1200
LEFT, RIGHT = 90, 20  # room for the row labels, and a little after the end
STEP_Y, STEP_H = 60, 46
CUE_Y, CUE_H = 126, 22
CHIME_Y = 170
MUSIC_Y, MUSIC_H = 196, 90  # the level's band: top is the loudest shown
MUSIC_TOP_DB, MUSIC_BOTTOM_DB = -15.0, -40.0
HEIGHT = 350
LEVEL_POINTS = 1200  # the level is sampled at about one point per pixel

#: One colour per kind of cue; spoken reminders in greens, the step's own words in blues.
KIND_COLOURS = {
    CueKind.SETUP: "#7f7f7f",
    CueKind.SAFETY: "#d62728",
    CueKind.ANNOUNCE: "#1f3f99",
    CueKind.INSTRUCTION: "#1f77b4",
    CueKind.CUE: "#17becf",
    CueKind.TIP: "#2ca02c",
    CueKind.CHECKIN: "#8fbc3f",
    CueKind.HALFWAY: "#9467bd",
    CueKind.SWITCH: "#9467bd",
    CueKind.PREVIEW: "#e377c2",
    CueKind.COUNTDOWN: "#ff7f0e",
    CueKind.CLOSING: "#8c564b",
    CueKind.TRANSITION: "#bcbd22",
}
STEP_FILLS = ("#dfe9f5", "#c9daee")


def _x(ms: float, total_ms: int) -> float:
    return LEFT + (WIDTH - LEFT - RIGHT) * ms / max(total_ms, 1)


def music_levels(
    timeline: Timeline, music_volume_db: float | None = None, duck_db: float | None = None, points: int = LEVEL_POINTS
) -> list[tuple[int, float]]:
    """(ms, dB relative to the voice) of the music bed at ``points`` times across the session.

    The mixer's envelope, on a 1 kHz grid (a frame is a millisecond), ducked under the same
    spoken spans the mixer ducks under (the timeline's cue slots: the clips' real lengths once
    rendered, else their estimates), with its fades.
    """
    import math

    import numpy as np

    from voiceguide.audio.mix.envelope import MusicEnvelope
    from voiceguide.audio.settings import DEFAULT_MUSIC_VOLUME_DB, MixSettings

    volume = DEFAULT_MUSIC_VOLUME_DB if music_volume_db is None else music_volume_db
    duck = MixSettings().duck_db if duck_db is None else duck_db
    spans = [(c.start_ms, c.end_ms) for c in timeline.cues if c.spoken and c.text]
    envelope = MusicEnvelope(1000, timeline.total_ms, spans, duck)
    times = [round(timeline.total_ms * k / (points - 1)) for k in range(points)]
    gains = envelope.at(np.array([min(t, timeline.total_ms - 1) for t in times]))
    return [(t, volume + 20 * math.log10(g) if g > 1e-5 else -100.0) for t, g in zip(times, gains)]


def session_svg(timeline: Timeline, *, music_volume_db: float | None = None) -> str:
    """The SVG text of a session's picture."""
    total = timeline.total_ms
    x = lambda ms: _x(ms, total)
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(timeline.title)}: the session, {format_clock(total)}</title>",
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{LEFT}" y="24" font-size="16" font-weight="bold">{escape(timeline.title)}</text>',
        f'<text x="{LEFT}" y="42" fill="#555">{len(timeline.steps)} step{"" if len(timeline.steps) == 1 else "s"}, '
        f"{format_clock(total)}; hover over a mark for its words</text>",
    ]
    for label, y in (
        ("steps", STEP_Y + STEP_H / 2),
        ("cues", CUE_Y + CUE_H / 2),
        ("chimes", CHIME_Y + 4),
        ("music", MUSIC_Y + MUSIC_H / 2),
    ):
        out.append(f'<text x="8" y="{y + 4:.1f}" fill="#333">{label}</text>')

    out.append('<g class="steps">')
    for i, s in enumerate(timeline.steps):
        x0, x1 = x(s.start_ms), x(s.end_ms)
        times = f"{format_clock(s.start_ms)}-{format_clock(s.end_ms)}"
        out.append(
            f'<g class="step" data-step="{s.index}" data-start-ms="{s.start_ms}" data-end-ms="{s.end_ms}">'
            f"<title>{s.index}. {escape(s.title)} ({times})</title>"
            f'<rect x="{x0:.2f}" y="{STEP_Y}" width="{x1 - x0:.2f}" height="{STEP_H}" '
            f'fill="{STEP_FILLS[i % 2]}" stroke="#6a8bb5" stroke-width="0.5"/>'
            f'<text x="{x0 + 3:.2f}" y="{STEP_Y + 17}" font-weight="bold">'
            f"{s.index}. {escape(_fit(s.title, x1 - x0))}</text>"
            f'<text x="{x0 + 3:.2f}" y="{STEP_Y + 34}" fill="#444">{escape(_fit(times, x1 - x0))}</text></g>'
        )
    out.append("</g>")

    out.append('<g class="cues">')
    for c in timeline.cues:
        when = f"{format_clock(c.start_ms)} {c.kind.value}"
        if c.kind is CueKind.TRANSITION:
            cx = x(c.start_ms)
            out.append(
                f'<g class="chime" data-start-ms="{c.start_ms}" data-end-ms="{c.end_ms}"><title>{when}: chime</title>'
                f'<path d="M{cx:.2f},{CHIME_Y - 6} l6,6 l-6,6 l-6,-6 z" fill="{KIND_COLOURS[c.kind]}"/></g>'
            )
            continue
        x0, x1 = x(c.start_ms), x(c.end_ms)
        out.append(
            f'<rect class="cue" data-kind="{c.kind.value}" data-start-ms="{c.start_ms}" data-end-ms="{c.end_ms}" '
            f'x="{x0:.2f}" y="{CUE_Y}" width="{max(x1 - x0, 1.5):.2f}" height="{CUE_H}" '
            f'fill="{KIND_COLOURS[c.kind]}"><title>{escape(when)}: {escape(c.text)}</title></rect>'
        )
    out.append("</g>")

    out.extend(_music(timeline, x, music_volume_db))
    out.extend(_axis(total, x))
    out.extend(_legend(timeline))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _music(timeline: Timeline, x, music_volume_db: float | None) -> list[str]:
    levels = music_levels(timeline, music_volume_db)

    def y(level_db: float) -> float:
        clipped = min(MUSIC_TOP_DB, max(MUSIC_BOTTOM_DB, level_db))
        return MUSIC_Y + MUSIC_H * (MUSIC_TOP_DB - clipped) / (MUSIC_TOP_DB - MUSIC_BOTTOM_DB)

    points = " ".join(f"{x(t):.1f},{y(level):.1f}" for t, level in levels)
    out = [f'<rect x="{LEFT}" y="{MUSIC_Y}" width="{WIDTH - LEFT - RIGHT}" height="{MUSIC_H}" fill="#f6f6f6"/>']
    for level in (-20, -30, -40):
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(level):.1f}" y2="{y(level):.1f}" '
            f'stroke="#ddd"/><text x="{LEFT - 4}" y="{y(level) + 4:.1f}" text-anchor="end" '
            f'fill="#777">{level} dB</text>'
        )
    out.append(
        f'<polyline class="music" fill="none" stroke="#555" stroke-width="1" points="{points}">'
        f"<title>music level relative to the voice (about {max(level for _, level in levels):.0f} dB "
        f"between cues, dipping under speech)</title></polyline>"
        if levels
        else ""
    )
    return out


def _axis(total_ms: int, x) -> list[str]:
    """Ticks every minute (every 5 past 20 minutes, every 15 past an hour)."""
    minutes = total_ms / 60_000
    every = 1 if minutes <= 20 else 5 if minutes <= 60 else 15
    y = HEIGHT - 52
    out = [f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}" stroke="#999"/>']
    for m in range(0, int(minutes) + 1, every):
        tx = x(m * 60_000)
        out.append(
            f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{y}" y2="{y + 5}" stroke="#999"/>'
            f'<text x="{tx:.1f}" y="{y + 17}" text-anchor="middle" fill="#555">{m}m</text>'
        )
    return out


def _legend(timeline: Timeline) -> list[str]:
    used = [k for k in CueKind if any(c.kind is k for c in timeline.cues)]
    out, lx = [], LEFT
    for k in used:
        out.append(
            f'<rect x="{lx}" y="{HEIGHT - 18}" width="10" height="10" fill="{KIND_COLOURS[k]}"/>'
            f'<text x="{lx + 14}" y="{HEIGHT - 9}">{"chime" if k is CueKind.TRANSITION else k.value}</text>'
        )
        lx += 22 + 7 * len(k.value)
    return out


def _fit(text: str, width_px: float) -> str:
    """``text`` cut to what fits in ``width_px`` at about 7.5 px a (bold) character (the full text hovers)."""
    room = int(width_px / 7.5)
    if len(text) <= room:
        return text
    return text[: max(room - 1, 0)] + "…" if room > 1 else ""


def write_svg(timeline: Timeline, path: str | Path, *, music_volume_db: float | None = None) -> Path:
    """Write the picture to ``path`` whole or not at all: a temp file beside it, renamed over it."""
    from voiceguide.files import temp_name, write_fault

    path = Path(path)
    if path.is_dir():
        raise OutputError("is a folder; give a file name such as session.svg", path=path)
    if not path.parent.is_dir():
        raise OutputError(f"no such folder: {path.parent}", path=path)
    text = session_svg(timeline, music_volume_db=music_volume_db)
    tmp = path.parent / temp_name(path.name)
    try:
        with open(tmp, "x", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise write_fault(e, str(path), path=None) from None
        raise
    return path
