"""The content-addressed clip cache: one WAV per key, at ``root/clips/ab/abcdef....wav``.

Every write lands in a temp file beside its final name and is linked into place, so a reader
sees either no clip or a whole one. The first whole clip for a key stays: a second process that
rendered the same text finds the link taken and uses the clip already there, so every run
speaks the same recording even where an engine's output varies from run to run (piper's does). Reading a clip checks its
header against the file size, so a truncated or corrupt clip reads as missing and is
rendered again. Reading also touches the file: ``prune`` goes by last use.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from voiceguide.errors import EnvironmentFault
from voiceguide.tts.wav import WavInfo, WavProblem, read_info, read_pcm16

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

CLIP_SUFFIX = ".wav"
TEMP_SUFFIX = ".tmp"

#: A temp file this old belongs to a render that died; prune removes it whatever its age limit.
STALE_TEMP_S = 3600.0

ENV_VAR = "VOICEGUIDE_CACHE_DIR"

# link() failing with these means the file system has no hard links (FAT, some network shares)
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}


def default_cache_dir(explicit: str | os.PathLike | None = None) -> Path:
    """explicit (--cache-dir), else $VOICEGUIDE_CACHE_DIR, else the user cache directory."""
    if explicit is not None and str(explicit) != "":
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_VAR, "")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("voiceguide", appauthor=False))


@dataclass(frozen=True)
class Clip:
    key: str            # the content hash used as cache key (hex)
    path: Path          # a valid 16-bit PCM mono WAV in the cache
    sample_rate: int
    frames: int

    @property
    def duration_ms(self) -> int:
        # Rounded up, so a cue slot of this length always holds the whole clip.
        return -(-self.frames * 1000 // self.sample_rate)

    def read(self) -> "np.ndarray":
        """The samples as float32 mono in [-1, 1], shape (frames,)."""
        import numpy as np

        try:
            raw = read_pcm16(self.path)
        except (OSError, WavProblem) as e:
            raise EnvironmentFault(f"the cached clip {self.path} cannot be read ({e}); render it again") from None
        samples = np.frombuffer(raw, dtype="<i2")[: self.frames]
        return samples.astype(np.float32) * np.float32(1 / 32768)


@dataclass(frozen=True)
class CacheInfo:
    root: Path
    count: int                 # clips
    bytes: int                 # their total size
    oldest: float | None       # last use (epoch seconds) of the least recently used clip
    newest: float | None       # last use of the most recently used clip
    temp_files: int = 0        # leftovers of interrupted renders
    derived_files: int = 0     # the mixer's derived audio (processed clips, music loops)
    derived_bytes: int = 0

    def describe(self) -> dict[str, str]:
        """The figures as labelled text, for ``voiceguide cache info``."""
        def when(t: float | None) -> str:
            return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t is not None else "-"

        out = {
            "clips": str(self.count),
            "size": _human_bytes(self.bytes),
            "least recently used": when(self.oldest),
            "most recently used": when(self.newest),
        }
        if self.temp_files:
            out["unfinished temp files"] = str(self.temp_files)
        if self.derived_files:
            out["mix data"] = f"{self.derived_files} files, {_human_bytes(self.derived_bytes)}"
        return out


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass   # a leftover temp file is harmless; prune removes it later


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


class ClipCache:
    def __init__(self, root: str | os.PathLike | None = None):
        self.root = default_cache_dir(None) if root is None else Path(root)
        self.clips_dir = self.root / "clips"
        # The mixer keeps derived audio here (voiceguide.audio); it can always be made again, so
        # clear and prune manage it with the clips.
        self.derived_dir = self.root / "mix"

    def __repr__(self) -> str:
        return f"ClipCache({str(self.root)!r})"

    def path_for(self, key: str) -> Path:
        return self.clips_dir / key[:2] / (key + CLIP_SUFFIX)

    def get(self, key: str, *, touch: bool = True) -> Clip | None:
        """The clip stored under ``key`` if it is whole, else None. Reads only the header."""
        path = self.path_for(key)
        try:
            info = read_info(path)
        except (OSError, WavProblem):
            return None
        if info.channels != 1 or info.bits != 16:
            return None
        if touch:
            try:
                os.utime(path)
            except OSError:
                pass  # a read-only cache still serves its clips
        return Clip(key, path, info.sample_rate, info.frames)

    def temp_path(self, key: str) -> Path:
        """A fresh name beside the clip's final place (same folder, so the rename is atomic)."""
        folder = self.clips_dir / key[:2]
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise EnvironmentFault(f"cannot write to the clip cache {self.root}: {e.strerror or e}") from None
        return folder / f"{key}.{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}"

    def commit(self, temp: Path, key: str, info: WavInfo) -> Clip:
        """Publish a checked temp clip under ``key`` (the temp file is used up either way),
        unless a whole clip is there already: then that one is returned."""
        final = self.path_for(key)
        try:
            os.link(temp, final)   # atomic, and fails when the name is taken
        except FileExistsError:
            existing = self.get(key)
            if existing is not None:
                _unlink(temp)
                return existing
            self._replace(temp, final)   # what is there is damaged: ours takes its place
        except OSError as e:
            if e.errno not in _NO_LINKS:
                raise self._write_fault(e) from None
            # a file system without hard links: the last whole clip wins instead
            self._replace(temp, final)
        else:
            _unlink(temp)
        return Clip(key, final, info.sample_rate, info.frames)

    def _replace(self, temp: Path, final: Path) -> None:
        try:
            os.replace(temp, final)
        except OSError as e:
            raise self._write_fault(e) from None

    def _write_fault(self, e: OSError) -> EnvironmentFault:
        return EnvironmentFault(f"cannot write to the clip cache {self.root}: {e.strerror or e}")

    def _entries(self):
        """(path, stat, is_temp) of every file in the clip folders."""
        try:
            folders = list(os.scandir(self.clips_dir))
        except FileNotFoundError:
            return
        for folder in folders:
            if not folder.is_dir(follow_symlinks=False):
                continue
            try:
                entries = list(os.scandir(folder.path))
            except FileNotFoundError:
                continue
            for entry in entries:
                try:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                yield Path(entry.path), st, entry.name.endswith(TEMP_SUFFIX)

    def info(self) -> CacheInfo:
        count = size = temps = 0
        oldest = newest = None
        for _, st, is_temp in self._entries():
            if is_temp:
                temps += 1
                continue
            count += 1
            size += st.st_size
            oldest = st.st_mtime if oldest is None else min(oldest, st.st_mtime)
            newest = st.st_mtime if newest is None else max(newest, st.st_mtime)
        derived = [st.st_size for _, st in self._derived_entries()]
        return CacheInfo(self.root, count, size, oldest, newest, temps, len(derived), sum(derived))

    def clear(self) -> int:
        """Remove every clip (and leftover temp file); returns how many files went."""
        removed = sum(1 for _ in self._entries()) + sum(1 for _ in self._derived_entries())
        for folder in (self.clips_dir, self.derived_dir):
            try:
                shutil.rmtree(folder)
            except FileNotFoundError:
                pass
            except OSError as e:
                raise EnvironmentFault(f"cannot clear the clip cache {self.root}: {e.strerror or e}") from None
        return removed

    def prune(self, older_than_s: float) -> int:
        """Remove clips not used for ``older_than_s`` seconds; returns how many files went."""
        if older_than_s < 0:
            raise ValueError("older_than_s must not be negative")
        now = time.time()
        removed = 0
        entries = list(self._entries()) + [(path, st, False) for path, st in self._derived_entries()]
        for path, st, is_temp in entries:
            limit = min(older_than_s, STALE_TEMP_S) if is_temp else older_than_s
            if now - st.st_mtime <= limit:
                continue
            try:
                path.unlink()
                removed += 1
            except FileNotFoundError:
                pass
            except OSError as e:
                raise EnvironmentFault(f"cannot prune the clip cache {self.root}: {e.strerror or e}") from None
        self._drop_empty_folders()
        return removed

    def _derived_entries(self):
        """(path, stat) of every file the mixer keeps under the cache."""
        for folder, _, names in os.walk(self.derived_dir):
            for name in names:
                try:
                    path = Path(folder) / name
                    yield path, path.stat()
                except FileNotFoundError:
                    continue

    def _drop_empty_folders(self) -> None:
        try:
            folders = list(os.scandir(self.clips_dir))
        except FileNotFoundError:
            return
        for folder in folders:
            try:
                os.rmdir(folder.path)  # fails (harmlessly) unless empty
            except OSError:
                pass
