"""A session's first seconds, kept in the cache, so the next play of it is heard at once.

Before ``voiceguide play`` can make a sample it loads numpy, the routine, the clips and the
mixer: about 0.35 s on a warm cache on a 2-core machine (numpy alone 80-120 ms), on top of the
Python start and the command line's own ~90 ms. The opening of a session is the same samples
every time it is played with the same settings, so the player keeps them (``SECONDS`` of them,
as 16-bit PCM, the way the device is fed) and starts the device with them while the rest loads.

What finds a kept opening is the command's own words: the routine it names and every flag as
parsed (settings-file values included), in the same folder, and the files the opening was made
from, unchanged (the routine and music files by size and time, the clips by inode and size: a
clip is never rewritten in place, and reading it touches its time). Going by the flags rather
than by the session they make means nothing of the session is loaded first (the routine loader,
the compiler and the speech layer cost 40-70 ms); two spellings of one session (``--length 20m``
and ``--length 1200s``) only keep an opening each. What makes it safe is the output's check
when the mixer is ready: it makes the same frames and compares them byte for byte, and should
they differ (an engine upgraded, say) the mixer's sound takes over from the frame being heard
and the opening is kept anew.

This module imports nothing heavy: it runs before numpy has loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from voiceguide.audio.cache import DerivedCache
    from voiceguide.session import Session

#: How much is kept: it must last until the mixer is ready (0.3-0.5 s idle, about 1.5 s beside two
#: busy processes, measured), with room to spare; 6 s of 44.1 kHz stereo is 1 MB.
SECONDS = 6
KIND = "prelude"
# Bump when what a kept opening holds, or how it is found, changes.
_FORMAT = 2
_HEAD = struct.Struct("<I")  # the length of the JSON that describes the PCM after it
# A clip's seal: its last bytes, the digest of its samples (voiceguide.tts.wav.SEAL_BYTES, not
# imported: that loads the whole speech layer, 30 ms; a test checks the two agree).
_CLIP_SEAL_BYTES = 24


def _cache(cache_dir: Path) -> DerivedCache:
    from voiceguide import cachedir
    from voiceguide.audio.cache import DerivedCache

    return DerivedCache(Path(cache_dir) / cachedir.MIX)


def name_for(routine: str | None, flags: Mapping[str, Any]) -> str:
    """The kept opening's entry name: a digest of the routine as named and every flag's value
    (``render`` and ``play`` take the same session flags), and of the folder, in which a
    relative path means what it means."""
    from voiceguide import __version__

    material = repr((_FORMAT, __version__, os.getcwd(), routine, sorted(flags.items())))
    return hashlib.blake2b(material.encode(), digest_size=16).hexdigest() + ".pcm"


def _signature(path: Path, kind: str) -> list[Any] | None:
    """What must not have changed: a file's size and time, a clip's size and seal."""
    try:
        if kind != "clip":
            st = os.stat(path)
            return [st.st_size, st.st_mtime_ns]
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            return [size, os.pread(f.fileno(), _CLIP_SEAL_BYTES, max(0, size - _CLIP_SEAL_BYTES)).hex()]
    except OSError:
        return None


def _sources(session: Session) -> list[list[Any]]:
    """[path, kind, signature] for each file the opening was made from, as it is now."""
    from voiceguide.routine import routine_file

    out: list[list[Any]] = []
    routine = routine_file(session.routine_ref)
    if routine is not None:
        out.append([str(routine), "file"])
    music = session.mix.music
    if music not in ("builtin", "none"):
        out.append([str(Path(music).expanduser()), "file"])
    for clip in session.prepared.clips.values():
        out.append([str(clip.path), "clip"])
    for entry in out:
        entry.append(_signature(Path(entry[0]), entry[1]))
    return out


def find(cache_dir: Path, name: str, rate: int, channels: int) -> bytes | None:
    """The kept opening ``name`` as 16-bit PCM frames, or None: there is none, it was made at
    another rate or channel count, or a file it was made from has changed since."""
    cache = _cache(cache_dir)
    try:
        payload = cache.load_bytes(KIND, name)
    except OSError:
        return None
    if payload is None or len(payload) < _HEAD.size:
        return None
    (n,) = _HEAD.unpack_from(payload)
    try:
        head = json.loads(bytes(payload[_HEAD.size : _HEAD.size + n]))
        fits = head["rate"] == rate and head["channels"] == channels
        sources = [(Path(path), kind, sig) for path, kind, sig in head["sources"]]
    except (ValueError, KeyError, TypeError):
        cache.discard(KIND, name)
        return None
    pcm = payload[_HEAD.size + n :]
    if not fits or len(pcm) % (2 * channels):
        return None
    if any(_signature(path, kind) != sig for path, kind, sig in sources):
        return None
    return bytes(pcm)


def opening(mixer: Any) -> bytes:
    """The first ``SECONDS`` of ``mixer``'s session as the device is fed them."""
    from voiceguide.player.output import to_pcm16

    frames = min(int(mixer.total_frames), SECONDS * int(mixer.rate))
    return to_pcm16(mixer.render(0, frames)).tobytes()


def keep(name: str, session: Session, pcm: bytes, rate: int, channels: int) -> None:
    """Keep ``pcm`` (``opening(mixer)``) as the opening ``name``, replacing one that is stale.
    A cache that cannot take it only costs the next play its quick start (a full disk is
    reported, as every cache write reports it)."""
    cache = _cache(session.cache_dir)
    head = json.dumps({"rate": rate, "channels": channels, "sources": _sources(session)}).encode()
    cache.discard(KIND, name)
    chunks: Iterable[bytes] = (_HEAD.pack(len(head)), head, pcm)
    cache.save_bytes(KIND, name, chunks)
