"""Derived audio data kept between runs: processed clips, their loudness analysis, music loops.

Everything here can be recomputed from its inputs, and each entry is named by a digest of them
(a clip's by the digest of its samples, so what is derived always matches the clip it came
from). An entry is its payload (an .npz, raw float32 samples, JSON) followed by a 24-byte
trailer: a magic, the payload's length and its CRC-32. The CRC is checked the first time a
process reads the entry; one that fails (or is truncated, or is not a file at all) is taken out
of the way and made again, so nothing damaged is ever mixed. CRC-32 because the name, not the
check, says what an entry holds, and zlib's runs at 4.2 GB/s here (BLAKE2b: 0.9): checking the
built-in music loop (17 MB) costs 4 ms.

Entries are written to a temp file of ours in the same folder and linked into place; the first
whole entry for a name stays (two processes make identical ones anyway). A cache that is
read-only only costs speed; a full disk is an error (EnvironmentFault), reported at once.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voiceguide import cachedir, files

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

# numpy is imported where arrays are read or written, not here: the player reads its kept
# opening (voiceguide.player.prelude) through this module before numpy has loaded (~90 ms).

# Bump when the processing changes what an entry holds; old entries are then never read again.
# 2: entries carry a trailer with their CRC; clips' entries are named by the clip's digest.
VERSION = 2

_MAGIC = b"vgmix\x00\x02\x00"
_TRAILER = struct.Struct("<8sQI4x")
TRAILER_BYTES = _TRAILER.size
_OPEN = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_CHUNK = 1 << 20  # a check reads this much at a time, into one buffer (8 MB took longer: zeroing it)


def digest(*parts: Any) -> str:
    """A stable short name for a tuple of key parts."""
    return hashlib.sha256(repr((VERSION,) + parts).encode()).hexdigest()[:32]


class RawEntry:
    """A raw entry being written: ``write`` its payload (the CRC follows along), then ``publish``.

    ``file`` is the open temp file, readable too (a music loop is analysed from it)."""

    def __init__(self, cache: DerivedCache, target: Path, temp: Path, f):
        self.cache, self.target, self.temp, self.file = cache, target, temp, f
        self.crc = 0
        self.bytes = 0

    def write(self, data) -> None:
        self.file.write(data)
        self.crc = zlib.crc32(data, self.crc)
        self.bytes += len(memoryview(data).cast("B"))

    def publish(self) -> None:
        """Append the trailer and put the entry in place (the file stays open for the caller)."""
        try:
            self.file.seek(0, os.SEEK_END)
            self.file.write(_TRAILER.pack(_MAGIC, self.bytes, self.crc))
            self.file.flush()
            files.publish_first(self.temp, self.target)
        except OSError as e:
            self.cache._failed_write(e)
        finally:
            self.discard()

    def discard(self) -> None:
        _unlink(self.temp)


class DerivedCache:
    """A folder of derived data; every method tolerates a missing or damaged entry."""

    def __init__(self, root: Path):
        self.root = Path(root)
        # (dev, ino, size) of every entry this process has checked: read again, it is trusted
        self._sound: dict[Path, tuple[int, int, int]] = {}
        self._swept: set[str] = set()

    def path(self, kind: str, name: str) -> Path:
        return self.root / kind / name

    # -- reading ---------------------------------------------------------------------------

    def _open_checked(self, target: Path) -> tuple[Any, int] | None:
        """The entry opened, its CRC checked (once per process), and its payload's length."""
        try:
            fd = os.open(target, _OPEN)
        except FileNotFoundError:
            return None
        except OSError:
            files.set_aside(target)  # a symlink (O_NOFOLLOW) or something else that is no entry
            return None
        try:
            st = os.fstat(fd)
        except OSError:
            os.close(fd)
            return None
        if not stat.S_ISREG(st.st_mode):  # a folder where the entry should be
            os.close(fd)
            files.set_aside(target, st.st_ino)
            return None
        f = os.fdopen(fd, "rb", buffering=0)
        ino = st.st_ino
        try:
            n = st.st_size - TRAILER_BYTES
            if n < 0:
                raise _Damaged
            magic, length, crc = _TRAILER.unpack(os.pread(fd, TRAILER_BYTES, n))
            if magic != _MAGIC or length != n:
                raise _Damaged
            identity = (st.st_dev, st.st_ino, st.st_size)
            if self._sound.get(target) != identity:
                # one buffer, read into again and again: a fresh bytes object per chunk made
                # checking the 17 MB music loop take 13 ms of reads instead of about 4
                buf = memoryview(bytearray(min(_CHUNK, n) or 1))
                got, pos = 0, 0
                while pos < n:
                    read = os.preadv(fd, [buf[: min(_CHUNK, n - pos)]], pos)
                    if not read:
                        raise _Damaged
                    got = zlib.crc32(buf[:read], got)
                    pos += read
                if got != crc:
                    raise _Damaged
                self._sound[target] = identity
                _touch(fd)  # prune goes by last use
        except (_Damaged, OSError, struct.error):
            f.close()
            files.set_aside(target, ino)  # only the file judged, not one another run just put there
            return None
        return f, n

    def _payload(self, target: Path) -> memoryview | None:
        """The checked payload of an entry, in a writable buffer of its own."""
        opened = self._open_checked(target)
        if opened is None:
            return None
        f, n = opened
        with f:
            buf = bytearray(n)
            view, pos = memoryview(buf), 0
            try:
                while pos < n:
                    got = f.readinto(view[pos:])
                    if not got:
                        break
                    pos += got
            except OSError:
                return None
        return view if pos == n else None

    def _reject(self, target: Path) -> None:
        """A sound file whose payload is not what its name promises: made again."""
        self._sound.pop(target, None)
        files.set_aside(target, _ino(target))

    def load_arrays(self, kind: str, name: str) -> dict[str, np.ndarray] | None:
        import numpy as np

        target = self.path(kind, name + ".npz")
        payload = self._payload(target)
        if payload is None:
            return None
        try:
            with np.load(io.BytesIO(payload), allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, KeyError):
            self._reject(target)
            return None

    def load_raw(self, kind: str, name: str, dtype, count: int) -> np.ndarray | None:
        """The entry's samples if it holds exactly ``count`` of them."""
        import numpy as np

        target = self.path(kind, name)
        payload = self._payload(target)
        if payload is None:
            return None
        if len(payload) != count * np.dtype(dtype).itemsize:
            self._reject(target)
            return None
        return np.frombuffer(payload, dtype=dtype)

    def load_bytes(self, kind: str, name: str) -> memoryview | None:
        """A raw entry's checked payload, or None."""
        return self._payload(self.path(kind, name))

    def discard(self, kind: str, name: str) -> None:
        """Take an entry whose payload turned out stale out of the way, so a new one can be saved
        (the first whole entry for a name otherwise stays)."""
        self._reject(self.path(kind, name))

    def open_raw(self, kind: str, name: str, payload_bytes: int):
        """A raw entry opened for ``pread`` (an hour-long music loop is never read whole), checked
        first, or None; the payload starts at offset 0."""
        target = self.path(kind, name)
        opened = self._open_checked(target)
        if opened is None:
            return None
        f, n = opened
        if n != payload_bytes:
            f.close()
            self._reject(target)
            return None
        return f

    def load_json(self, kind: str, name: str) -> Any:
        target = self.path(kind, name + ".json")
        payload = self._payload(target)
        if payload is None:
            return None
        try:
            return json.loads(bytes(payload).decode("utf-8"))
        except ValueError:
            self._reject(target)
            return None

    # -- writing ---------------------------------------------------------------------------

    def _failed_write(self, e: OSError) -> None:
        """A full disk is reported; anything else (read-only, permissions) only costs speed."""
        if files.is_full(e):
            raise files.write_fault(e, f"the cache {self.root}") from None

    def scratch(self, kind: str) -> Path | None:
        """The entries' folder, made, for temp files that will be published (same file system);
        the first time in a process, our temps there whose writers are gone are removed."""
        folder = self.root / kind
        try:
            fresh = not self.root.exists()
            folder.mkdir(parents=True, exist_ok=True)
            if fresh:
                files.tag_cache_dir(self.root.parent)
        except OSError as e:
            self._failed_write(e)
            return None
        if kind not in self._swept:
            self._swept.add(kind)
            files.remove_leftovers(folder, lambda target: cachedir.DERIVED_NAME.fullmatch(target) is not None)
        return folder

    def raw_entry(self, kind: str, name: str) -> RawEntry | None:
        """A new entry to write, or None where the cache cannot take one."""
        folder = self.scratch(kind)
        if folder is None:
            return None
        temp = folder / files.temp_name(name)
        try:
            f = open(temp, "x+b")  # noqa: SIM115 - handed to the caller with the entry, closed by commit
        except OSError as e:
            self._failed_write(e)
            return None
        return RawEntry(self, folder / name, temp, f)

    def _write(self, kind: str, name: str, chunks: Iterable) -> None:
        entry = self.raw_entry(kind, name)
        if entry is None:
            return
        try:
            with entry.file:
                for chunk in chunks:
                    entry.write(chunk)
                entry.publish()
        except OSError as e:
            self._failed_write(e)
        finally:
            entry.discard()

    def save_arrays(self, kind: str, name: str, **arrays: np.ndarray) -> None:
        import numpy as np

        buf = io.BytesIO()
        np.savez(buf, **arrays)
        self._write(kind, name + ".npz", [buf.getbuffer()])

    def save_raw(self, kind: str, name: str, data: np.ndarray) -> None:
        import numpy as np

        self._write(kind, name, [memoryview(np.ascontiguousarray(data)).cast("B")])

    def save_bytes(self, kind: str, name: str, chunks: Iterable) -> None:
        self._write(kind, name, chunks)

    def save_json(self, kind: str, name: str, value: Any) -> None:
        self._write(kind, name + ".json", [json.dumps(value).encode()])


class _Damaged(Exception):
    pass


def _ino(path: Path) -> int | None:
    try:
        return os.lstat(path).st_ino
    except OSError:
        return None


def _touch(fd: int) -> None:
    if os.utime not in os.supports_fd:
        return
    try:
        os.utime(fd)
    except OSError:
        pass  # a read-only cache still serves its entries


def _unlink(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
