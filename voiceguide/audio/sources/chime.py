"""The transition chime, synthesised (no sample files): a soft bowl or a brighter bell.

Each is a handful of inharmonic partials, each a detuned pair so it shimmers slowly as real
metal does, struck with a short rounded attack and left to ring out; upper partials die first,
as they do in a struck bowl. The tail fades to exact silence, so a chime never ends in a click.
"""

from __future__ import annotations

import numpy as np

# (frequency ratio, amplitude, decay time constant in s)
_SOFT = (
    (1.0, 1.0, 1.3),
    (2.76, 0.32, 0.7),
    (5.40, 0.10, 0.35),
    (8.93, 0.03, 0.2),
)
_BELL = (
    (0.5, 0.35, 1.8),  # hum
    (1.0, 1.0, 1.2),  # prime
    (1.19, 0.4, 1.0),  # minor third: what makes a bell sound like a bell
    (1.5, 0.25, 0.8),
    (2.0, 0.35, 0.7),  # nominal
    (2.5, 0.12, 0.45),
    (3.0, 0.08, 0.35),
)
_STYLES = {
    # style: (fundamental Hz, partials, attack ms, length ms)
    "soft": (528.0, _SOFT, 12.0, 3000),
    "bell": (660.0, _BELL, 3.0, 3200),
}
_FADE_MS = 400


def ring_ms(style: str) -> int:
    """How long a chime of ``style`` rings ("none": 0).

    Not its slot in the session: the timeline gives a transition compiler.CHIME_MS (1.5 s), the
    one rule for that, and the announcement after it starts while the chime decays beneath it.
    """
    return _STYLES[style][3] if style in _STYLES else 0


def synthesize_chime(style: str, rate: int) -> np.ndarray:
    """The chime as mono float64 at ``rate``, peak 1.0 (an empty array for "none")."""
    if style not in _STYLES:
        return np.zeros(0)
    f0, partials, attack_ms, length_ms = _STYLES[style]
    n = length_ms * rate // 1000
    t = np.arange(n) / rate
    x = np.zeros(n)
    for ratio, amp, decay in partials:
        f = f0 * ratio
        if f > 0.45 * rate:
            continue
        ring = np.exp(-t / decay)
        x += amp * ring * (np.sin(2 * np.pi * f * t) + 0.6 * np.sin(2 * np.pi * (f + 0.9) * t + 1.0))
    attack = max(1, int(rate * attack_ms / 1000))
    x[:attack] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(attack) / attack)
    fade = min(n, rate * _FADE_MS // 1000)
    x[n - fade :] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(fade) / fade)
    return x / np.abs(x).max()
