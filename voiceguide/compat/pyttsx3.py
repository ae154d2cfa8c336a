"""pyttsx3's espeak driver sleeps 10 ms between turns of its loop; here it sleeps at most 1 ms.

The driver synthesises synchronously, then sleeps 10 ms (``time.sleep(0.01)`` in
``EspeakDriver.startLoop``) before it notices it is done: that sleep was most of a clip's time
(ten short clips in one worker: 0.05 s with a 1 ms poll, 0.13 s with the driver's own, 2 cores
under load). A shorter poll changes nothing else. It relies on ``pyttsx3.drivers.espeak``
holding the ``time`` module as a global and sleeping through it (pyttsx3 2.99);
tests/test_compat.py fails when a release changes that. Runs only in the engine's worker
processes, after ``pyttsx3.init()``.
"""

from __future__ import annotations

import sys
import time
from typing import Any

#: The driver module whose ``time`` global is swapped.
ESPEAK_DRIVER = "pyttsx3.drivers.espeak"
#: The longest sleep the driver's loop gets.
POLL_S = 0.001


class QuickPoll:
    """Stands in for ``time`` in the driver: every name is the ``time`` module's, but ``sleep``."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(min(seconds, POLL_S))


def shorten_espeak_poll() -> bool:
    """Make the loaded espeak driver poll every 1 ms; whether it does now (False: that driver is
    not loaded, as on macOS and Windows, or it no longer sleeps through a ``time`` global)."""
    driver = sys.modules.get(ESPEAK_DRIVER)
    if driver is None:
        return False
    if getattr(driver, "time", None) is time:
        driver.time = QuickPoll()  # type: ignore[attr-defined]
    return isinstance(getattr(driver, "time", None), QuickPoll)
