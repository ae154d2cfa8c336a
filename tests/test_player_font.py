"""The block-letter font."""

from __future__ import annotations

import string

from voiceguide.player import font


def test_every_glyph_is_five_rows_of_one_width():
    for ch, glyph in font._GLYPHS.items():
        rows = glyph.split()
        assert len(rows) == font.ROWS, ch
        assert len({len(r) for r in rows}) == 1, ch
        assert set("".join(rows)) <= {"#", "."}, ch


def test_letters_digits_and_common_punctuation_are_drawable():
    assert font.rows(string.ascii_letters + string.digits + " -.,'!?&/():") is not None
    assert font.rows("Pétrissage") == font.rows("Petrissage")  # accents fall back to the letter
    assert font.rows("Step 3 \u2014 Friction") is not None
    assert font.rows("\u2603 snow") is None


def test_rows_and_half_block_lines():
    rows = font.rows("HI")
    assert rows == ["#   # ###", "#   #  # ", "#####  # ", "#   #  # ", "#   # ###"]
    assert font.width("HI") == 9
    assert font.lines("HI", unicode=False) == rows
    lines = font.lines("HI")
    assert len(lines) == 3 and all(len(ln) == 9 for ln in lines)
    # each line packs two rows: the first line of H is full on both rows at the edges
    assert lines[0][0] == "\u2588" and lines[1][0] == "\u2588" and lines[2][0] == "\u2580"


def test_wrap_splits_at_spaces_to_fit():
    assert font.wrap("Circular motions", 60) == ["Circular", "motions"]
    assert font.wrap("Circular motions", 200) == ["Circular motions"]
    assert font.wrap("Effleurage", 20) is None  # one word wider than the screen
