"""The user's small text files (routines, settings), read without trusting what the path is.

A path can name a FIFO (reading waits forever), a device (/dev/zero never ends), a folder, or a
file far too large to be what it claims; each is refused before anything is read whole.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from voiceguide.errors import VoiceguideError


def read_small_file(path: str | Path, limit: int, error: Callable[..., VoiceguideError], what: str) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, else ``error(message, path=path)``.

    Opened without blocking and checked with fstat on the open file, so a FIFO, a device such as
    /dev/zero or a folder is refused without waiting or reading, and a file that grows (or a /proc
    file that says it is empty) is read only up to the limit.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise error("no such file", path=path) from None
    except IsADirectoryError:
        raise error(f"this is a folder, not a {what} file", path=path) from None
    except (OSError, ValueError) as e:  # ValueError: a NUL in the name
        raise error(f"cannot open it: {getattr(e, 'strerror', None) or e}", path=path) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise error(f"this is a folder, not a {what} file", path=path)
        if not stat.S_ISREG(info.st_mode):
            raise error(f"not a regular file (a device, pipe or socket), so not a {what} file", path=path)
        if info.st_size > limit:
            raise error(f"the file is over {limit // 1000} kB; is it really a {what} file?", path=path)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise error(f"the file is over {limit // 1000} kB; is it really a {what} file?", path=path)
        return b"".join(chunks)
    except OSError as e:
        raise error(f"cannot read it: {e.strerror or e}", path=path) from None
    finally:
        os.close(fd)
