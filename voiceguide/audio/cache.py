"""Derived audio data kept between runs: processed clips, their loudness analysis, music loops.

Everything here can be recomputed from its inputs, so a damaged or missing entry is simply made
again. Entries are written to a temp file in the same folder and renamed into place, so a reader
never sees half a file and two processes writing one entry both succeed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

# Bump when the processing changes what an entry holds; old entries are then never read again.
VERSION = 1


def digest(*parts: Any) -> str:
    """A stable short name for a tuple of key parts."""
    return hashlib.sha256(repr((VERSION,) + parts).encode()).hexdigest()[:32]


class DerivedCache:
    """A folder of derived data; every method tolerates a missing or corrupt entry."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, kind: str, name: str) -> Path:
        return self.root / kind / name

    def _write(self, target: Path, write) -> None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        except OSError:
            return  # a read-only or full cache only costs speed
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.replace(tmp, target)
        except BaseException as exc:
            _unlink(tmp)
            if not isinstance(exc, OSError):
                raise

    def save_arrays(self, kind: str, name: str, **arrays: np.ndarray) -> None:
        self._write(self.path(kind, name + ".npz"), lambda f: np.savez(f, **arrays))

    def load_arrays(self, kind: str, name: str) -> dict[str, np.ndarray] | None:
        try:
            with np.load(self.path(kind, name + ".npz"), allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, KeyError):
            return None

    def save_raw(self, kind: str, name: str, data: np.ndarray) -> None:
        self._write(self.path(kind, name), lambda f: np.ascontiguousarray(data).tofile(f))

    def load_raw(self, kind: str, name: str, dtype, count: int) -> np.ndarray | None:
        """The entry's samples if it holds exactly ``count`` of them (a truncated one is ignored)."""
        try:
            data = np.fromfile(self.path(kind, name), dtype=dtype)
        except (OSError, ValueError):
            return None
        return data if len(data) == count else None

    def save_json(self, kind: str, name: str, value: Any) -> None:
        self._write(self.path(kind, name + ".json"), lambda f: f.write(json.dumps(value).encode()))

    def load_json(self, kind: str, name: str) -> Any:
        try:
            return json.loads(self.path(kind, name + ".json").read_text())
        except (OSError, ValueError):
            return None

    def adopt(self, kind: str, name: str, src: Path) -> Path | None:
        """Move a finished file (written in this cache's folder) into place under ``name``."""
        target = self.path(kind, name)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, target)
            return target
        except OSError:
            return None

    def scratch(self, kind: str) -> Path | None:
        """A folder for temp files that will be adopted (same file system as the entries)."""
        folder = self.root / kind
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            return None
        return folder


def _unlink(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
