"""The cache folder as a whole: its layout, which names in it are voiceguide's, and the
inventory commands (``cache info``, ``clear``, ``prune``).

    ROOT/CACHEDIR.TAG                     marks the folder (backup tools skip it)
    ROOT/clips/ab/<64 hex>.wav            clips (voiceguide.tts.cache)
    ROOT/mix/<kind>/<32 hex>.npz|.f32|.json   what the mixer derives (voiceguide.audio.cache)
    ROOT/mix/prelude/<32 hex>.pcm         a session's first seconds (voiceguide.player.prelude)

A cache folder may be shared with other things (``--cache-dir ~/audio``), so ``clear`` and
``prune`` go by exact names: a file is removed only when voiceguide's own naming could have
made it (a clip name in the folder its key names, a derived entry under a known kind, or a temp
file of ours whose writer is gone). Everything else stays, and is counted. A folder with no tag
and nothing voiceguide made in it is not a cache, and nothing in it is touched.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from voiceguide import files
from voiceguide.errors import CacheDirError, EnvironmentFault

CLIPS = "clips"
MIX = "mix"
#: What the mixer keeps under mix/, one folder each; prelude/ holds the player's kept openings.
MIX_KINDS = frozenset({"speech", "music", "codec", "chime", "prelude"})
#: Where the piper engine remembers its voice files' digests (piper_engine.content_digest).
VOICES = "voices"
VOICE_MEMO_NAME = re.compile(r"[0-9a-f]{32}\.json")

CLIP_NAME = re.compile(r"[0-9a-f]{64}\.wav")
DERIVED_NAME = re.compile(r"[0-9a-f]{32}\.(?:npz|f32|json|pcm)")
# Temps written before temp names carried their writer: only their age tells they are left over.
_LEGACY_CLIP_TEMP = re.compile(r"[0-9a-f]{64}\.\d+-[0-9a-f]{8}\.tmp(?:\.\d{1,2}\.tmp)?")
_LEGACY_DERIVED_TEMP = re.compile(r"\.[0-9a-f]{32}(?:\.(?:npz|f32|json))?\.[a-z0-9_]{8}\.tmp")
LEGACY_STALE_S = 3600.0
#: The probe a render writes to learn whether the clip folder is writable.
PROBE = "probe"


@dataclass(frozen=True)
class Entry:
    path: Path
    size: int
    mtime: float
    kind: str  # "clip", "derived", "temp" (ours, writer gone or alive), "legacy-temp"
    live: bool = False  # a temp whose writer is still running


@dataclass(frozen=True)
class CacheInfo:
    root: Path
    count: int  # clips
    bytes: int  # their total size
    oldest: float | None  # last use (epoch seconds) of the least recently used clip
    newest: float | None  # last use of the most recently used clip
    temp_files: int = 0  # temp files of ours (being written, or left by a run that died)
    derived_files: int = 0  # the mixer's derived audio (processed clips, music loops)
    derived_bytes: int = 0
    foreign_files: int = 0  # files and folders in clips/ and mix/ that voiceguide did not make

    def describe(self) -> dict[str, str]:
        """The figures as labelled text, for ``voiceguide cache info``."""

        def when(t: float | None) -> str:
            return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t is not None else "-"

        out = {
            "clips": str(self.count),
            "size": human_bytes(self.bytes),
            "least recently used": when(self.oldest),
            "most recently used": when(self.newest),
        }
        if self.temp_files:
            out["unfinished temp files"] = str(self.temp_files)
        if self.derived_files:
            out["mix data"] = f"{self.derived_files} files, {human_bytes(self.derived_bytes)}"
        if self.foreign_files:
            out["not voiceguide's (left alone)"] = f"{self.foreign_files} files or folders"
        return out


@dataclass(frozen=True)
class Removal:
    """What ``clear`` or ``prune`` did."""

    files: int  # removed
    bytes: int
    kept_foreign: int  # files and folders voiceguide did not make, left where they are
    kept_live: int = 0  # temp files another run is writing now

    def describe(self) -> str:
        text = f"removed {self.files} files ({human_bytes(self.bytes)})"
        if self.kept_foreign:
            text += f"; left {self.kept_foreign} files or folders that voiceguide did not make"
        if self.kept_live:
            text += f"; left {self.kept_live} files another run is writing"
        return text


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def _is_clip_temp(folder: str, name: str) -> bool:
    target = files.temp_target(name)
    if target is not None:
        return CLIP_NAME.fullmatch(target) is not None and target[:2] == folder
    return _LEGACY_CLIP_TEMP.fullmatch(name) is not None and name[:2] == folder


def _is_derived_temp(name: str) -> bool:
    target = files.temp_target(name)
    if target is not None:
        return DERIVED_NAME.fullmatch(target) is not None
    return _LEGACY_DERIVED_TEMP.fullmatch(name) is not None


class CacheDir:
    """One cache folder's inventory; reading and writing entries is ClipCache's and DerivedCache's."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    # -- what is ours ----------------------------------------------------------------------

    def _files(self, folder: Path) -> Iterator[os.DirEntry]:
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as e:
            raise EnvironmentFault(f"cannot read the cache folder {folder}: {e.strerror or e}") from None
        yield from entries

    def scan(self) -> tuple[list[Entry], int]:
        """Every file voiceguide made here, and how many other files the cache's folders hold."""
        ours: list[Entry] = []
        foreign = 0

        def add(entry: os.DirEntry, kind: str) -> None:
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                return
            live = kind == "temp" and files.writer_alive(entry.name, st.st_mtime)
            ours.append(Entry(Path(entry.path), st.st_size, st.st_mtime, kind, live))

        for sub in self._files(self.root / CLIPS):
            if not (sub.is_dir(follow_symlinks=False) and re.fullmatch(r"[0-9a-f]{2}", sub.name)):
                if (
                    sub.name.startswith(".")
                    and files.temp_target(sub.name) == PROBE
                    and sub.is_file(follow_symlinks=False)
                ):
                    add(sub, "temp")
                else:
                    foreign += 1
                continue
            for entry in self._files(Path(sub.path)):
                if not entry.is_file(follow_symlinks=False):
                    foreign += 1
                elif CLIP_NAME.fullmatch(entry.name) and entry.name[:2] == sub.name:
                    add(entry, "clip")
                elif _is_clip_temp(sub.name, entry.name):
                    add(entry, "temp" if files.temp_target(entry.name) else "legacy-temp")
                else:
                    foreign += 1
        for sub in self._files(self.root / MIX):
            if not (sub.is_dir(follow_symlinks=False) and sub.name in MIX_KINDS):
                foreign += 1
                continue
            for entry in self._files(Path(sub.path)):
                if not entry.is_file(follow_symlinks=False):
                    foreign += 1
                elif DERIVED_NAME.fullmatch(entry.name):
                    add(entry, "derived")
                elif _is_derived_temp(entry.name):
                    add(entry, "temp" if files.temp_target(entry.name) else "legacy-temp")
                else:
                    foreign += 1
        for entry in self._files(self.root / VOICES):
            if not entry.is_file(follow_symlinks=False):
                foreign += 1
            elif VOICE_MEMO_NAME.fullmatch(entry.name):
                add(entry, "derived")
            elif VOICE_MEMO_NAME.fullmatch(files.temp_target(entry.name) or ""):
                add(entry, "temp")
            else:
                foreign += 1
        return ours, foreign

    def is_cache(self) -> bool:
        """Tagged, or holding something voiceguide made (a cache from before the tag)."""
        if files.has_cache_tag(self.root):
            return True
        ours, _ = self.scan()
        return any(e.kind in ("clip", "derived") for e in ours)

    def _require_cache(self) -> bool:
        """False when there is no folder at all (nothing to do); raises when it is not a cache."""
        if not self.root.exists():
            return False
        if not self.root.is_dir():
            raise CacheDirError("this is not a folder, so not a voiceguide cache; nothing was removed", path=self.root)
        if not self.is_cache():
            raise CacheDirError(
                "this folder is not a voiceguide cache (no CACHEDIR.TAG and nothing voiceguide "
                "made in it); nothing was removed",
                path=self.root,
            )
        return True

    # -- the commands ----------------------------------------------------------------------

    def info(self) -> CacheInfo:
        ours, foreign = self.scan()
        clips = [e for e in ours if e.kind == "clip"]
        derived = [e for e in ours if e.kind == "derived"]
        temps = sum(1 for e in ours if e.kind in ("temp", "legacy-temp"))
        return CacheInfo(
            self.root,
            len(clips),
            sum(e.size for e in clips),
            min((e.mtime for e in clips), default=None),
            max((e.mtime for e in clips), default=None),
            temps,
            len(derived),
            sum(e.size for e in derived),
            foreign,
        )

    def clear(self) -> Removal:
        """Remove every file voiceguide made here (but the tag, and temps a live run is writing)."""
        if not self._require_cache():
            return Removal(0, 0, 0)
        ours, foreign = self.scan()
        return self._remove([e for e in ours if not e.live], foreign, sum(1 for e in ours if e.live))

    def prune(self, older_than_s: float) -> Removal:
        """Remove clips and derived data not used for ``older_than_s`` seconds, and every temp
        whose writer is gone (whatever its age)."""
        if older_than_s < 0:
            raise ValueError("older_than_s must not be negative")
        if not self._require_cache():
            return Removal(0, 0, 0)
        now = time.time()
        ours, foreign = self.scan()

        def goes(e: Entry) -> bool:
            if e.kind == "temp":
                return not e.live
            if e.kind == "legacy-temp":
                return now - e.mtime > min(older_than_s, LEGACY_STALE_S)
            return now - e.mtime > older_than_s

        return self._remove([e for e in ours if goes(e)], foreign, sum(1 for e in ours if e.live))

    def _remove(self, entries: list[Entry], foreign: int, live: int) -> Removal:
        removed = size = 0
        for e in entries:
            try:
                os.unlink(e.path)
            except FileNotFoundError:
                continue
            except OSError as err:
                raise files.write_fault(err, f"the cache {self.root}") from None
            removed += 1
            size += e.size
        self._drop_empty_folders()
        return Removal(removed, size, foreign, live)

    def _drop_empty_folders(self) -> None:
        for top, names in ((CLIPS, None), (MIX, MIX_KINDS)):
            for sub in self._files(self.root / top):
                if sub.is_dir(follow_symlinks=False) and (names is None or sub.name in names):
                    _rmdir(sub.path)  # only when empty
            _rmdir(self.root / top)
        _rmdir(self.root / VOICES)


def _rmdir(path) -> None:
    try:
        os.rmdir(path)
    except OSError:
        pass  # not empty (or gone): either way it stays as it is
