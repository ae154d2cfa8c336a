"""Texts -> cached clips: the cache key, the lookup, and the parallel, failure-proof render.

The key covers everything that changes the sound (engine, its version, voice, rate, volume,
sample rate, the text, and our own clip format), so a clip is shared by every routine that
speaks the same sentence with the same voice. A render first takes every whole clip from the
cache (a header read each), then renders the rest on up to ``jobs`` of the caller's Background's
threads (one at a time without one), longest first, each
checking and trimming its clip before linking it into the cache, where the first whole clip for a
key stays (piper's renderings differ a little every time, so every run after the first reuses
that one). A clip that hangs, crashes or comes out wrong is tried once more; a second failure
stops the render with one line, or under ``auto`` hands the whole render to the next installed
engine (one voice per session) and says so in ``notes``.

A cache that cannot take clips is no engine's fault, so it never costs a retry or a fallback:
before any engine starts, the clip folder is probed (read-only, no permission and a full disk
fail at once, in one line), and a clip that fails while the disk is full is reported as a full
disk, not as a bad clip.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from voiceguide import files
from voiceguide.background import default_workers
from voiceguide.errors import EngineError, PacingError, RoutineError, VoiceError
from voiceguide.tts import engine as engines
from voiceguide.tts.cache import Clip, ClipCache
from voiceguide.tts.interface import EngineFailure, Synth, VoiceSettings
from voiceguide.tts.wav import WavProblem, check_speech

if TYPE_CHECKING:  # pragma: no cover
    from voiceguide.background import Background

#: Bump when the stored clip changes meaning (layout, checks), so old clips are not reused.
#: 2: leading and trailing silence trimmed to the margins every engine shares (wav.py).
#: 3: sealed with a digest of the clip's bytes in a chunk after the samples (wav.py).
CLIP_FORMAT = 3

Progress = Callable[[int, int], None]


@dataclass
class RenderResult:
    clips: dict[str, Clip]  # text -> clip, for every text asked
    engine: str  # the engine actually used (another one after an auto fallback)
    notes: list[str] = field(default_factory=list)  # one-line messages for the user
    rendered: int = 0  # clips rendered now (the rest came from the cache)


def spoken_form(text: str) -> str:
    """The text as it is keyed and spoken: whitespace runs do not change the sound."""
    if not isinstance(text, str):
        raise TypeError(f"a text to speak must be a str, not {type(text).__name__}")
    spoken = " ".join(text.split())
    if not spoken:
        raise RoutineError("a spoken cue has no text (every cue that is spoken needs words)")
    from voiceguide.routine import text_problem  # the loader's rule: NUL, control characters, nothing to speak

    problem = text_problem(spoken)
    if problem:
        raise RoutineError(f"a spoken cue {problem}: {_quote(spoken)}")
    return spoken


def clip_key(engine: str, version: str, voice: str, rate_wpm: int, volume: float, sample_rate: int, text: str) -> str:
    blob = json.dumps(
        [CLIP_FORMAT, engine, version, voice, int(rate_wpm), round(float(volume), 4), int(sample_rate), text],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _keys(name: str, settings: VoiceSettings, spoken: Iterable[str], cache: ClipCache) -> dict[str, str]:
    engine = engines.get_engine(name)
    version = engine.version()
    voice = engine.voice_key(settings.voice, cache.root)
    rate = engine.sample_rate(settings.voice)
    return {t: clip_key(name, version, voice, settings.rate_wpm, settings.volume, rate, t) for t in spoken}


def _distinct(texts: Iterable[str]) -> tuple[list[str], dict[str, str]]:
    asked = list(texts)
    spoken_of = {t: spoken_form(t) for t in asked}
    return asked, spoken_of


def lookup_clips(texts: Iterable[str], settings: VoiceSettings, cache: ClipCache) -> dict[str, Clip]:
    """Clips already in the cache for ``texts`` (text -> clip); renders nothing, starts no engine.

    Texts without a whole cached clip are simply absent. So is everything when the engine is
    not installed: a caller that only shows timings can go on with estimates.
    """
    asked, spoken_of = _distinct(texts)
    try:
        name = engines.resolve_engine(settings)
        keys = _keys(name, settings, set(spoken_of.values()), cache)
    except (EngineError, PacingError, VoiceError):
        return {}
    found: dict[str, Clip] = {}
    for t in asked:
        clip = cache.get(keys[spoken_of[t]])
        if clip is not None:
            found[t] = clip
    return found


def render_clips(
    texts: Iterable[str],
    settings: VoiceSettings,
    cache: ClipCache,
    *,
    progress: Progress | None = None,
    jobs: int | None = None,
    timeout_s: float = 30.0,
    background: Background | None = None,
) -> RenderResult:
    """A clip for every text, from the cache or rendered now.

    Clips are rendered ``jobs`` at a time (default: one per core) on ``background``'s threads,
    at most as many as it has; without a background, one at a time in this thread.
    ``progress(done, total)`` is called from this thread as clips become ready (first with
    the count found in the cache); ``total`` counts distinct texts. Raises RoutineError for an
    empty text, EngineError when the engine is missing or failed twice on one clip, VoiceError
    for an unknown voice. Under ``auto`` a failing engine hands the whole render to the next
    installed one in ``AUTO_ORDER`` (one voice per session), and ``notes`` says so.
    """
    asked, spoken_of = _distinct(texts)
    distinct = list(dict.fromkeys(spoken_of.values()))
    name = engines.resolve_engine(settings)
    notes = _auto_notes(settings, name)
    reporter = _Monotonic(progress)
    current = settings
    while True:
        try:
            result = _render(name, current, distinct, cache, reporter, jobs, timeout_s, background)
            break
        except EngineFailure as failure:
            step = _fall_back(settings, name) if settings.engine == "auto" else None
            if step is None:
                raise
            name, current, why = step
            notes.append(f"{failure}; fell back to {name}{why}")
    result.notes[:0] = notes
    by_spoken = result.clips
    result.clips = {t: by_spoken[spoken_of[t]] for t in asked}
    return result


def _auto_notes(settings: VoiceSettings, name: str) -> list[str]:
    """One line when ``auto`` could not use its first choice because it is not installed."""
    best = engines.AUTO_ORDER[0]
    if settings.engine != "auto" or settings.voice is not None or name == best:
        return []
    return [
        f"the neural voice ({best}) is not installed, so {name} speaks; scripts/bootstrap --neural-voice installs it"
    ]


def _fall_back(settings: VoiceSettings, failed: str) -> tuple[str, VoiceSettings, str] | None:
    """The next installed engine after ``failed`` in AUTO_ORDER, its settings, and a note's tail."""
    order = engines.installed_auto_engines()
    later = order[order.index(failed) + 1 :] if failed in order else []
    if not later:
        return None
    name = later[0]
    if settings.voice is not None and not engines.get_engine(name).knows_voice(settings.voice):
        return (
            name,
            replace(settings, engine=name, voice=None),
            f" with its default voice ({settings.voice!r} is not one of its voices)",
        )
    return name, replace(settings, engine=name), ""


class _Monotonic:
    """Passes progress on, never backwards (a fallback starts its count again)."""

    def __init__(self, progress: Progress | None):
        self.progress = progress
        self.best = -1

    def __call__(self, done: int, total: int) -> None:
        if self.progress is not None and done > self.best:
            self.best = done
            self.progress(done, total)


def _render(
    name: str,
    settings: VoiceSettings,
    distinct: list[str],
    cache: ClipCache,
    progress: Callable[[int, int], None],
    jobs: int | None,
    timeout_s: float,
    background: Background | None,
) -> RenderResult:
    from voiceguide.background import Background

    tasks = background if background is not None else Background(0)
    engine = engines.get_engine(name)
    engine.require()
    keys = _keys(name, settings, distinct, cache)
    clips: dict[str, Clip] = {}
    missing: list[str] = []
    for t in distinct:
        clip = cache.get(keys[t])
        if clip is not None:
            clips[t] = clip
        else:
            missing.append(t)
    total = len(distinct)
    progress(len(clips), total)
    # Longest first: the workers then finish together instead of one waiting on a long last clip.
    missing.sort(key=len, reverse=True)
    if missing:
        cache.prepare_write()
        n = max(1, min(jobs or default_workers(), len(missing), tasks.workers if tasks.threaded else 1))
        synth = _open(engine, settings, n, timeout_s)
        try:
            _render_missing(synth, name, settings, missing, keys, cache, clips, n, timeout_s, progress, total, tasks)
        finally:
            synth.close()
    return RenderResult(clips=clips, engine=name, notes=[], rendered=len(missing))


def _open(engine: engines.Engine, settings: VoiceSettings, jobs: int, timeout_s: float) -> Synth:
    try:
        return engine.open(settings, jobs, timeout_s)
    except EngineFailure:
        pass  # a hang or crash while starting gets a second chance, like a clip does
    try:
        return engine.open(settings, jobs, timeout_s)
    except EngineFailure as e:
        raise EngineFailure(f"{e} (tried twice)", what=e.what) from None


def _render_missing(
    synth: Synth,
    name: str,
    settings: VoiceSettings,
    missing: list[str],
    keys: dict[str, str],
    cache: ClipCache,
    clips: dict[str, Clip],
    jobs: int,
    timeout_s: float,
    progress: Callable[[int, int], None],
    total: int,
    background: Background,
) -> None:
    def render(text: str) -> Clip:
        return _render_one(synth, name, settings, text, keys[text], cache, timeout_s)

    batch = background.batch(render, missing, limit=jobs)
    try:
        for text, clip in batch:
            clips[text] = clip
            progress(len(clips), total)
    except BaseException:
        # Stop at once (a failed clip, Ctrl-C): start no more clips, stop the engine so the
        # running ones end now rather than at their timeout.
        batch.cancel()
        synth.close()
        raise
    finally:
        batch.wait()


def _render_one(
    synth: Synth, name: str, settings: VoiceSettings, text: str, key: str, cache: ClipCache, timeout_s: float
) -> Clip:
    failure: EngineFailure | None = None
    what = f"the clip cache {cache.root}"
    for _attempt in range(2):
        temp = cache.temp_path(key)
        try:
            synth.render(text, temp, timeout_s)
            info = check_speech(temp, text, settings.rate_wpm)
            return cache.commit(temp, key, info)
        except EngineFailure as e:
            failure = e
        except FileNotFoundError:
            failure = EngineFailure(f"{name} wrote no clip for {_quote(text)}", what="wrote no clip")
        except WavProblem as e:
            failure = EngineFailure(f"{name} wrote a bad clip for {_quote(text)}: {e}", what="wrote a bad clip")
        except OSError as e:  # our own reading or rewriting of the clip (trimming it)
            raise files.write_fault(e, what) from None
        finally:
            _remove(temp)
        # an engine writing into a full disk leaves a short clip or an error: say what it is
        if files.disk_is_full(temp.parent):
            raise files.full_disk_fault(what, temp.parent)
    assert failure is not None
    raise EngineFailure(f"{failure} (tried twice)", what=failure.what)


def _quote(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _remove(temp: Path) -> None:
    """The temp clip, and any file an engine made beside it from its name (pyttsx3's retries)."""
    try:
        os.unlink(temp)
    except OSError:
        pass  # never made, or gone: a leftover of ours is removed by the next run that finds it
    stem = temp.name + "."
    try:
        with os.scandir(temp.parent) as entries:
            extra = [e.path for e in entries if e.name.startswith(stem)]
    except OSError:
        return
    for path in extra:
        try:
            os.unlink(path)
        except OSError:
            pass
