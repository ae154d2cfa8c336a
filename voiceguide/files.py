"""Files voiceguide writes: temp names that say who writes them, first-wins publishing, the
cache folder's tag, and what a failed write means.

Every temp file is made beside its final name, so publishing it is one atomic rename or link.
Its name carries its writer (``.TARGET.PID-START-HOST.RANDOM.tmp``, ``.part`` beside an export):
the process id, the process's start time (clock ticks since boot, so a recycled pid is told
apart) and a short hash of the boot and pid namespace. A run that finds a temp whose writer is
gone removes it, and a live writer's temp is never touched, however old. Where the writer cannot
be checked (written under another boot, on another host sharing the folder, in another pid
namespace) the temp counts as left over once it is ``FOREIGN_STALE_S`` old.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from voiceguide.errors import EnvironmentFault

#: A temp written where its writer cannot be checked is left over once this old: no engine takes
#: an hour over a clip, and no export spends an hour before renaming its file into place.
FOREIGN_STALE_S = 3600.0

#: Less free space than this is a full disk: a few clips' worth (a 6 s clip at 22 kHz is 260 kB).
LOW_SPACE_BYTES = 1 << 20

# The Cache Directory Tagging Specification (https://bford.info/cachedir/): backup tools that
# honour it skip the folder. The first line is the spec's exact signature.
CACHEDIR_TAG = "CACHEDIR.TAG"
CACHEDIR_TAG_TEXT = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by voiceguide.\n"
    "# For information about cache directory tags, see: https://bford.info/cachedir/\n"
)
_SIGNATURE = CACHEDIR_TAG_TEXT.splitlines()[0].encode()

_TEMP = re.compile(
    r"\.(?P<target>.+)\.(?P<pid>\d+)-(?P<start>\d+)-(?P<host>[0-9a-f]{8})\.[0-9a-f]{8}\.(?:tmp|part)"
    r"(?:\.\d{1,2}\.tmp)?"  # an engine's retry beside our temp (pyttsx3 writes NAME.1.tmp)
)

# link() failing with these means the file system has no hard links (FAT, some network shares)
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}
_FULL = {errno.ENOSPC, errno.EDQUOT}
_READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}

_self: tuple[int, str] | None = None  # (pid, writer tag) of this process, made once per pid
_host: str | None = None


# --- who writes --------------------------------------------------------------------------------------


def _start_ticks(pid: int | str) -> int | None:
    """The process's start time in clock ticks since boot (Linux /proc), None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # field 22; the command name (field 2) may hold spaces and parentheses, so count from its end
    try:
        return int(stat[stat.rindex(b")") + 2 :].split()[19])
    except (ValueError, IndexError):
        return None


def _host_id() -> str:
    """8 hex digits naming this boot and pid namespace: pids are only comparable within both."""
    global _host
    if _host is None:
        parts = []
        try:
            with open("/proc/sys/kernel/random/boot_id") as f:
                parts.append(f.read().strip())
            parts.append(str(os.stat("/proc/self/ns/pid").st_ino))
        except OSError:
            parts = [os.uname().nodename if hasattr(os, "uname") else "", "no-proc"]
        _host = hashlib.blake2b("/".join(parts).encode(), digest_size=4).hexdigest()
    return _host


def writer_tag() -> str:
    """PID-START-HOST of this process, as written into its temp names."""
    global _self
    pid = os.getpid()
    if _self is None or _self[0] != pid:
        _self = (pid, f"{pid}-{_start_ticks('self') or 0}-{_host_id()}")
    return _self[1]


def temp_name(target_name: str, suffix: str = ".tmp") -> str:
    """A fresh hidden name for a temp file that will become ``target_name``."""
    return f".{target_name}.{writer_tag()}.{secrets.token_hex(4)}{suffix}"


def temp_target(name: str) -> str | None:
    """The final name a temp of ours was written for; None when ``name`` is not our temp."""
    m = _TEMP.fullmatch(name)
    return m.group("target") if m else None


def writer_alive(name: str, mtime: float | None = None) -> bool:
    """Whether the process that named this temp may still be writing it."""
    m = _TEMP.fullmatch(name)
    if m is None:
        return False
    pid, start = int(m.group("pid")), int(m.group("start"))
    young = mtime is None or time.time() - mtime < FOREIGN_STALE_S
    if m.group("host") != _host_id():
        return young  # another boot, host or pid namespace: its pids mean nothing here
    if start == 0:  # no /proc on this system: the pid is all there is to go by
        return young and _pid_exists(pid)
    ticks = _start_ticks(pid)
    if ticks is not None:
        return ticks == start
    # /proc shows no such process, or hides it (mounted with hidepid): ask the kernel itself
    return young and _pid_exists(pid)


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process: it exists
    return True


def remove_leftovers(folder: Path, wanted: Callable[[str], bool] = lambda target: True) -> tuple[int, int]:
    """Remove the temps in ``folder`` that we named, whose writer is gone and whose target
    ``wanted`` accepts; (files, bytes) removed. Only regular files are touched."""
    removed = size = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0, 0
    for entry in entries:
        target = temp_target(entry.name)
        if target is None or not wanted(target):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            st = entry.stat(follow_symlinks=False)
            if writer_alive(entry.name, st.st_mtime):
                continue
            os.unlink(entry.path)
        except OSError:
            continue  # gone already, or not ours to remove after all: either way, not an error
        removed += 1
        size += st.st_size
    return removed, size


# --- publishing -----------------------------------------------------------------------------------------


def publish_first(temp: Path, final: Path) -> bool:
    """Link ``temp`` in as ``final`` unless the name is taken; True when ours went in.

    The temp stays where it is (the caller removes it). On a file system without hard links the
    last writer wins instead (a rename), which is still atomic for readers.
    """
    try:
        os.link(temp, final)
        return True
    except FileExistsError:
        return False
    except OSError as e:
        if e.errno not in _NO_LINKS:
            raise
    os.replace(temp, final)
    return True


def set_aside(path: Path, ino: int | None = None) -> None:
    """Take a damaged entry out of the way so it can be made again: a file or a symlink (never
    its target) is removed, a folder is renamed beside it and left alone (what is inside may
    not be ours). ``ino``: only if the name still holds that inode (another run may have put a
    good entry there meanwhile). Where it cannot be moved (a read-only cache) it stays, and
    the write that would replace it reports why."""
    import stat

    try:
        st = os.lstat(path)
        if ino is not None and st.st_ino != ino:
            return
        if stat.S_ISDIR(st.st_mode):
            os.rename(path, path.with_name(f".{path.name}.{writer_tag()}.{secrets.token_hex(4)}.damaged"))
        else:
            os.unlink(path)
    except OSError:
        pass


# --- failures ---------------------------------------------------------------------------------------------


def free_bytes(path: Path) -> int | None:
    """Free space on the file system holding ``path`` (what this user may write), None if unknown."""
    try:
        st = os.statvfs(path)
    except (OSError, AttributeError):
        return None
    blocks = st.f_bfree if hasattr(os, "geteuid") and os.geteuid() == 0 else st.f_bavail
    return blocks * st.f_frsize


def disk_is_full(path: Path) -> bool:
    free = free_bytes(path)
    return free is not None and free < LOW_SPACE_BYTES


def is_full(e: OSError) -> bool:
    return e.errno in _FULL


def is_read_only(e: OSError) -> bool:
    return e.errno in _READ_ONLY


def write_fault(e: OSError, what: str, path: Path | str | None = None) -> EnvironmentFault:
    """One line for a failed write to ``what`` (e.g. "the clip cache /x"): a full disk says so."""
    if is_full(e):
        return EnvironmentFault(f"the disk is full: cannot write to {what}", path=path)
    if e.errno == errno.EROFS:
        return EnvironmentFault(f"cannot write to {what}: it is on a read-only file system", path=path)
    if e.errno in (errno.EACCES, errno.EPERM):
        return EnvironmentFault(f"cannot write to {what}: permission denied", path=path)
    return EnvironmentFault(f"cannot write to {what}: {e.strerror or e}", path=path)


def full_disk_fault(what: str, path: Path | str | None = None) -> EnvironmentFault:
    free = free_bytes(Path(path)) if path is not None else None
    left = f" ({free // 1024} kB free)" if free is not None else ""
    return EnvironmentFault(f"the disk is full{left}: cannot write to {what}", path=path)


# --- the cache folder's tag -------------------------------------------------------------------------------


def has_cache_tag(root: Path) -> bool:
    try:
        with open(root / CACHEDIR_TAG, "rb") as f:
            return f.read(len(_SIGNATURE)) == _SIGNATURE
    except OSError:
        return False


def tag_cache_dir(root: Path) -> None:
    """Write CACHEDIR.TAG at ``root`` unless it is there (atomically, so a reader never sees half)."""
    if has_cache_tag(root):
        return
    tmp = root / temp_name(CACHEDIR_TAG)
    try:
        tmp.write_text(CACHEDIR_TAG_TEXT, encoding="ascii")
        os.replace(tmp, root / CACHEDIR_TAG)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        # a tag is a courtesy to backup tools; the writes that matter report their own failures
