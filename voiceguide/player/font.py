"""A block-letter font, so the current step reads from across the room.

Glyphs are 5 rows high; on a UTF-8 terminal two rows share one line through half blocks, so a
title takes 3 lines. Letters with accents fall back to their base letter; a title with anything
else is left to the caller to print plainly.
"""

from __future__ import annotations

import unicodedata

_GLYPHS: dict[str, str] = {
    "A": ".###. #...# ##### #...# #...#",
    "B": "####. #...# ####. #...# ####.",
    "C": ".#### #.... #.... #.... .####",
    "D": "####. #...# #...# #...# ####.",
    "E": "##### #.... ####. #.... #####",
    "F": "##### #.... ####. #.... #....",
    "G": ".#### #.... #..## #...# .###.",
    "H": "#...# #...# ##### #...# #...#",
    "I": "### .#. .#. .#. ###",
    "J": "..### ...#. ...#. #..#. .##..",
    "K": "#...# #..#. ###.. #..#. #...#",
    "L": "#.... #.... #.... #.... #####",
    "M": "#...# ##.## #.#.# #...# #...#",
    "N": "#...# ##..# #.#.# #..## #...#",
    "O": ".###. #...# #...# #...# .###.",
    "P": "####. #...# ####. #.... #....",
    "Q": ".###. #...# #.#.# #..#. .##.#",
    "R": "####. #...# ####. #..#. #...#",
    "S": ".#### #.... .###. ....# ####.",
    "T": "##### ..#.. ..#.. ..#.. ..#..",
    "U": "#...# #...# #...# #...# .###.",
    "V": "#...# #...# #...# .#.#. ..#..",
    "W": "#...# #...# #.#.# ##.## #...#",
    "X": "#...# .#.#. ..#.. .#.#. #...#",
    "Y": "#...# .#.#. ..#.. ..#.. ..#..",
    "Z": "##### ...#. ..#.. .#... #####",
    "0": ".###. #..## #.#.# ##..# .###.",
    "1": ".#. ##. .#. .#. ###",
    "2": "####. ....# .###. #.... #####",
    "3": "####. ....# .###. ....# ####.",
    "4": "#..#. #..#. ##### ...#. ...#.",
    "5": "##### #.... ####. ....# ####.",
    "6": ".###. #.... ####. #...# .###.",
    "7": "##### ....# ...#. ..#.. ..#..",
    "8": ".###. #...# .###. #...# .###.",
    "9": ".###. #...# .#### ....# .###.",
    " ": "... ... ... ... ...",
    "-": "... ... ### ... ...",
    ".": ". . . . #",
    ",": ".. .. .. .# #.",
    "'": "# # . . .",
    ":": ". # . # .",
    "!": "# # # . #",
    "?": "###. ...# .##. .... .#..",
    "&": ".##.. #..#. .##.# #..#. .##.#",
    "/": "....# ...#. ..#.. .#... #....",
    "(": ".# #. #. #. .#",
    ")": "#. .# .# .# #.",
}
ROWS = 5
_ALIASES = {"\u2019": "'", "\u2018": "'", "\u2013": "-", "\u2014": "-", "+": "&"}


def _glyph(ch: str) -> list[str] | None:
    ch = _ALIASES.get(ch, ch).upper()
    if ch not in _GLYPHS:
        base = unicodedata.normalize("NFKD", ch)[:1].upper()
        ch = base if base in _GLYPHS else ch
    g = _GLYPHS.get(ch)
    return g.split() if g else None


def width(text: str) -> int | None:
    """Columns ``text`` takes in block letters (one column between letters), None if not drawable."""
    total = 0
    for ch in text:
        g = _glyph(ch)
        if g is None:
            return None
        total += len(g[0]) + 1
    return max(0, total - 1)


def rows(text: str) -> list[str] | None:
    """The 5 rows of ``text`` in '#' and ' ', or None when a character has no glyph."""
    glyphs = [_glyph(ch) for ch in text]
    if any(g is None for g in glyphs):
        return None
    return [" ".join(g[r] for g in glyphs).replace(".", " ") for r in range(ROWS)]  # type: ignore[index]


def lines(text: str, *, unicode: bool = True) -> list[str] | None:
    """``text`` drawn for a terminal: 3 lines of half blocks, or 5 lines of '#' without Unicode."""
    r = rows(text)
    if r is None:
        return None
    if not unicode:
        return r
    r = r + [" " * len(r[0])]
    half = {("#", "#"): "\u2588", ("#", " "): "\u2580", (" ", "#"): "\u2584", (" ", " "): " "}
    return ["".join(half[a, b] for a, b in zip(r[i], r[i + 1])) for i in range(0, ROWS, 2)]


def wrap(text: str, columns: int) -> list[str] | None:
    """``text`` split at spaces into pieces that each fit ``columns`` in block letters."""
    out: list[str] = []
    for word in text.split():
        w = width(word)
        if w is None or w > columns:
            return None
        if out and width(out[-1] + " " + word) <= columns:  # type: ignore[operator]
            out[-1] += " " + word
        else:
            out.append(word)
    return out
