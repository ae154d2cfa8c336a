"""File systems that fail the way real ones do, for the tests: a small tmpfs that fills up, a
read-only bind mount, and a run that honours file permissions (chmod stops no one running as root).

Mounting needs root (or CAP_SYS_ADMIN); where it is not allowed the tests that need it are
skipped with the reason, never faked.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True)


@contextlib.contextmanager
def tmpfs(size: str = "2m"):
    """A fresh tmpfs of ``size`` mounted on a new folder; unmounted (and removed) after."""
    where = Path(tempfile.mkdtemp(prefix="voiceguide-tmpfs-"))
    p = _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where))
    if p.returncode:
        where.rmdir()
        pytest.skip(f"cannot mount a tmpfs here ({p.stderr.strip() or 'mount failed'})")
    try:
        yield where
    finally:
        _run("umount", "-l", str(where))
        shutil.rmtree(where, ignore_errors=True)


@contextlib.contextmanager
def read_only_view(folder: Path):
    """``folder`` seen through a read-only bind mount: writes fail with EROFS, even for root."""
    where = Path(tempfile.mkdtemp(prefix="voiceguide-ro-"))
    p = _run("mount", "--bind", str(folder), str(where))
    if p.returncode == 0:
        p = _run("mount", "-o", "remount,ro,bind", str(where))
        if p.returncode:
            _run("umount", str(where))
    if p.returncode:
        where.rmdir()
        pytest.skip(f"cannot make a read-only bind mount here ({p.stderr.strip() or 'mount failed'})")
    try:
        yield where
    finally:
        _run("umount", "-l", str(where))
        where.rmdir()


def fill(folder: Path, leave_bytes: int = 0) -> None:
    """Fill the file system holding ``folder`` until at most ``leave_bytes`` are free."""
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    with open(folder / "filler", "wb") as f:
        try:
            f.write(b"\0" * max(0, free - leave_bytes))
            f.flush()
            os.fsync(f.fileno())
        except OSError:
            pass  # full already: that was the point


def honouring_permissions() -> list[str]:
    """A command prefix under which file permissions apply: as root, the capabilities that
    override them are dropped (setpriv); as anyone else, nothing is needed."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: chmod cannot make a folder unwritable")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]
