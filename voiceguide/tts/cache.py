"""The content-addressed clip cache: one WAV per key, at ``root/clips/ab/abcdef....wav``.

Every write lands in a temp file beside its final name (named after its writer, see
voiceguide/files.py) and is linked into place, so a reader sees either no clip or a whole one.
The first whole clip for a key stays: a second process that rendered the same text finds the
link taken and uses the clip already there, so every run speaks the same recording even where
an engine's output varies from run to run (piper's does). A published clip never changes.

Each clip is sealed with a digest of its bytes (voiceguide/tts/wav.py). Looking a clip up reads
only its header, as before: a warm render of 59 clips takes 2 ms and must stay there. The
digest is read when the mixer first asks for it (it names what the mixer derives from the
clip) and checked whenever the samples are read; a clip that fails is taken out of the cache
and the session renders it again (voiceguide/session.py). A clip that is not a sealed clip at
all (truncated, another format, a folder or a symlink where the file should be) reads as
missing, and rendering it again moves it aside. Looking up also touches the file: ``prune``
goes by last use.
"""

from __future__ import annotations

import functools
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from voiceguide import cachedir, files, userdirs
from voiceguide.cachedir import CacheDir, CacheInfo, Removal
from voiceguide.errors import DamagedClip, EnvironmentFault
from voiceguide.tts.wav import (
    HEAD_BYTES,
    SEAL_BYTES,
    WavInfo,
    WavProblem,
    clip_digest,
    parse_header,
    seal,
    sealed,
    sealed_digest,
)

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["CacheInfo", "Clip", "ClipCache", "Removal", "default_cache_dir"]

CLIP_SUFFIX = ".wav"
TEMP_SUFFIX = ".tmp"
ENV_VAR = userdirs.CACHE_ENV

_OPEN = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_TOUCH_FD = os.utime in os.supports_fd


def default_cache_dir(explicit: str | os.PathLike | None = None) -> Path:
    """explicit (--cache-dir), else $VOICEGUIDE_CACHE_DIR, else the user cache directory."""
    return userdirs.cache_dir(explicit)


@dataclass(frozen=True)
class Clip:
    key: str  # the hash of what was spoken and how: the cache key (hex)
    path: Path  # a sealed 16-bit PCM mono WAV in the cache
    sample_rate: int
    frames: int
    ino: int = 0  # the file this clip was found as: a clip read later must be that one
    size: int = 0

    @property
    def duration_ms(self) -> int:
        # Rounded up, so a cue slot of this length always holds the whole clip.
        return -(-self.frames * 1000 // self.sample_rate)

    @functools.cached_property
    def digest(self) -> str:
        """The digest of the clip's bytes as sealed (read from the file, not computed)."""
        fd, size = self._open()
        try:
            tail = os.pread(fd, SEAL_BYTES, max(0, size - SEAL_BYTES))
        except OSError as e:
            raise self._changed(f"it cannot be read: {e.strerror or e}") from None
        finally:
            os.close(fd)
        digest = sealed_digest(tail)
        if digest is None:
            raise self._damaged("its digest is missing")
        return digest

    def read(self) -> np.ndarray:
        """The samples as float32 mono in [-1, 1], shape (frames,), checked against the digest."""
        import numpy as np

        fd, size = self._open()
        try:
            data, got = _read_all(fd, size)
        except OSError as e:
            raise self._changed(f"it cannot be read: {e.strerror or e}") from None
        finally:
            os.close(fd)
        view = memoryview(data)
        stored = sealed_digest(bytes(view[-SEAL_BYTES:])) if got == size >= 44 + SEAL_BYTES else None
        if stored is None or clip_digest(view[:-SEAL_BYTES]) != stored:
            raise self._damaged("its samples do not match its digest")
        if "digest" in self.__dict__ and self.__dict__["digest"] != stored:
            raise self._changed("it is not the recording this session was timed with")
        self.__dict__["digest"] = stored
        samples = np.frombuffer(view[:-SEAL_BYTES], dtype="<i2", offset=44)[: self.frames]
        return samples.astype(np.float32) * np.float32(1 / 32768)

    def _open(self) -> tuple[int, int]:
        """The clip's file, opened, and its size; it must be the file the clip was found as
        (a clip made by hand, without ``ino``, takes whatever file is at its path)."""
        try:
            fd = os.open(self.path, _OPEN)
        except OSError as e:
            raise self._changed(f"it cannot be opened: {e.strerror or e}") from None
        st = os.fstat(fd)
        if self.ino and (st.st_ino, st.st_size) != (self.ino, self.size):
            os.close(fd)
            raise self._changed("another clip took its place")
        return fd, st.st_size

    def _damaged(self, why: str) -> DamagedClip:
        files.set_aside(self.path, self.ino)
        return DamagedClip(
            f"the cached clip was damaged ({why}); it was removed, run again to render it",
            keys=(self.key,),
            path=self.path,
            reason=f"a cached clip was damaged ({why})",
        )

    def _changed(self, why: str) -> DamagedClip:
        return DamagedClip(
            f"the cached clip changed while this session used it ({why}); run again",
            keys=(self.key,),
            path=self.path,
            reason=f"a cached clip changed while this session used it ({why})",
        )


def _read_all(fd: int, size: int) -> tuple[bytearray, int]:
    """Up to ``size`` bytes of ``fd`` into one buffer (no copies); (buffer, bytes read)."""
    buf = bytearray(size)
    view, pos = memoryview(buf), 0
    with open(fd, "rb", buffering=0, closefd=False) as f:
        while pos < size:
            n = f.readinto(view[pos:])
            if not n:
                break
            pos += n
    return buf, pos


def _known(clip: Clip, digest: str) -> Clip:
    clip.__dict__["digest"] = digest  # what cached_property stores: the digest just written
    return clip


class ClipCache:
    def __init__(self, root: str | os.PathLike | None = None):
        self.root = default_cache_dir(None) if root is None else Path(root)
        self.clips_dir = self.root / cachedir.CLIPS
        # The mixer keeps derived audio here (voiceguide.audio); it can always be made again, so
        # clear and prune manage it with the clips.
        self.derived_dir = self.root / cachedir.MIX
        self._swept: set[str] = set()  # clip folders this process has cleared of leftovers

    def __repr__(self) -> str:
        return f"ClipCache({str(self.root)!r})"

    def path_for(self, key: str) -> Path:
        return self.clips_dir / key[:2] / (key + CLIP_SUFFIX)

    def get(self, key: str, *, touch: bool = True) -> Clip | None:
        """The clip stored under ``key`` if it is a whole sealed clip, else None.

        Reads only the header: one open, fstat and read (O_NOFOLLOW: a symlink is never ours)."""
        path = self.path_for(key)
        try:
            fd = os.open(path, _OPEN)
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return None
            head = os.read(fd, HEAD_BYTES)
            if touch:
                try:
                    os.utime(fd if _TOUCH_FD else path)
                except OSError:
                    pass  # a read-only cache still serves its clips
        except OSError:
            return None
        finally:
            os.close(fd)
        try:
            info = parse_header(head, st.st_size)
        except WavProblem:
            return None
        if not sealed(info):
            return None
        return Clip(key, path, info.sample_rate, info.frames, st.st_ino, st.st_size)

    # -- writing ---------------------------------------------------------------------------

    def prepare_write(self) -> None:
        """Fail now, in one line, when clips cannot be written here (read-only, no permission, a
        full disk), rather than after an engine has started and every clip has failed."""
        what = f"the clip cache {self.root}"
        try:
            self.clips_dir.mkdir(parents=True, exist_ok=True)
            files.tag_cache_dir(self.root)
            _probe(self.clips_dir)
        except OSError as e:
            raise files.write_fault(e, what) from None
        if files.disk_is_full(self.clips_dir):
            raise files.full_disk_fault(what, self.clips_dir)

    def temp_path(self, key: str) -> Path:
        """A fresh name beside the clip's final place (same folder, so linking it in is atomic).

        The first time this process writes into a folder, the temps there whose writers are gone
        (a killed render) are removed."""
        folder = self.clips_dir / key[:2]
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise files.write_fault(e, f"the clip cache {self.root}") from None
        if folder.name not in self._swept:
            if not self._swept:
                files.tag_cache_dir(self.root)
            self._swept.add(folder.name)
            files.remove_leftovers(
                folder, lambda target: target[:2] == folder.name and cachedir.CLIP_NAME.fullmatch(target) is not None
            )
        return folder / files.temp_name(key + CLIP_SUFFIX, TEMP_SUFFIX)

    def commit(self, temp: Path, key: str, info: WavInfo) -> Clip:
        """Seal a checked temp clip and publish it under ``key`` (the temp is used up either
        way), unless a whole clip is there already: then that one is returned."""
        final = self.path_for(key)
        try:
            digest = seal(temp, info)
            st = os.stat(temp)
            for _ in range(3):
                if files.publish_first(temp, final):
                    return _known(Clip(key, final, info.sample_rate, info.frames, st.st_ino, st.st_size), digest)
                existing = self.get(key)
                if existing is not None:
                    return existing
                # what holds the name is no clip (damaged, a folder, a symlink): ours takes its place
                try:
                    files.set_aside(final, os.lstat(final).st_ino)
                except FileNotFoundError:
                    pass
        except OSError as e:
            raise files.write_fault(e, f"the clip cache {self.root}") from None
        finally:
            _unlink(temp)
        raise EnvironmentFault(
            f"cannot put a clip in place of {final}: something there cannot be moved aside", path=final
        )

    def discard(self, clip: Clip) -> None:
        """Take a clip that failed a check out of the cache (only that file, if it is still there)."""
        files.set_aside(clip.path, clip.ino or None)

    # -- the folder as a whole -------------------------------------------------------------

    def info(self) -> CacheInfo:
        return CacheDir(self.root).info()

    def clear(self) -> Removal:
        """Remove every clip and derived file voiceguide made (never anything else)."""
        return CacheDir(self.root).clear()

    def prune(self, older_than_s: float) -> Removal:
        """Remove clips and derived data not used for ``older_than_s`` seconds, and leftovers."""
        return CacheDir(self.root).prune(older_than_s)


def _probe(folder: Path) -> None:
    """Make (and drop) a file in ``folder``: raises OSError where nothing can be written.

    An unnamed O_TMPFILE leaves nothing behind even if we are killed; elsewhere a named temp
    of ours (prune removes it if we die before unlinking it)."""
    flag = getattr(os, "O_TMPFILE", 0)
    if flag:
        try:
            os.close(os.open(folder, flag | os.O_WRONLY, 0o600))
            return
        except OSError as e:
            if files.is_full(e) or files.is_read_only(e):
                raise
            # this file system has no unnamed temp files: a named one instead
    probe = folder / files.temp_name(cachedir.PROBE)
    os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    os.unlink(probe)


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass  # gone already (a rename took it), or a leftover the next run removes
