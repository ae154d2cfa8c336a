"""Keys: escape sequences, and a real pseudo-terminal in cbreak mode (the keymap: test_keynames.py)."""

from __future__ import annotations

import io
import os
import termios
import time

import pytest

from voiceguide.player.keys import TerminalKeys, decode_keys


def test_decode_keys_reads_plain_keys_and_escape_sequences():
    assert decode_keys("n p") == (["n", " ", "p"], "")
    assert decode_keys("\x1b[A\x1b[6~\x1bOPq") == (["up", "pagedown", "f1", "q"], "")
    assert decode_keys("\r\t\x7f") == (["enter", "tab", "backspace"], "")
    assert decode_keys("n\x1b[") == (["n"], "\x1b[")  # the rest is still on its way
    assert decode_keys("\x1b[5") == ([], "\x1b[5")
    assert decode_keys("\x1b[99;5Xn") == (["n"], "")  # unknown sequences are skipped whole
    assert decode_keys("\x1bx") == (["esc", "x"], "")


@pytest.fixture
def pty():
    master, slave = os.openpty()
    tty = os.fdopen(slave, "r", closefd=True)
    yield master, tty
    tty.close()
    os.close(master)


def test_terminal_keys_reads_single_keys_without_enter_and_restores_the_terminal(pty):
    master, tty = pty
    before = termios.tcgetattr(tty.fileno())
    with TerminalKeys(tty) as keys:
        mode = termios.tcgetattr(tty.fileno())
        assert not mode[3] & termios.ICANON and not mode[3] & termios.ECHO
        assert mode[3] & termios.ISIG  # Ctrl-C still interrupts
        os.write(master, b"n")
        assert keys.read_key(1.0) == "n"
        os.write(master, b"\x1b[6~ +")
        assert [keys.read_key(1.0) for _ in range(3)] == ["pagedown", " ", "+"]
        os.write(master, b"\x1b")  # Esc alone: known as Esc once nothing follows
        assert keys.read_key(1.0) == "esc"
        t = time.monotonic()
        assert keys.read_key(0.1) is None
        assert 0.09 < time.monotonic() - t < 0.5
    assert termios.tcgetattr(tty.fileno()) == before


def test_the_terminal_is_restored_when_the_session_fails(pty):
    _, tty = pty
    before = termios.tcgetattr(tty.fileno())
    with pytest.raises(KeyboardInterrupt), TerminalKeys(tty):
        raise KeyboardInterrupt
    assert termios.tcgetattr(tty.fileno()) == before


def test_without_a_terminal_no_key_comes_and_nothing_breaks():
    with TerminalKeys(io.StringIO()) as keys:
        t = time.monotonic()
        assert keys.read_key(0.05) is None
        assert time.monotonic() - t >= 0.04
    assert not TerminalKeys.available(io.StringIO())


def test_a_terminal_that_goes_away_ends_the_keys_not_the_session(pty):
    master, tty = pty
    with TerminalKeys(tty) as keys:
        os.close(master)
        assert keys.read_key(0.2) is None
        assert keys.read_key(0.01) is None
    os.dup2(os.open(os.devnull, os.O_RDONLY), master)  # so the fixture's close has something to close
