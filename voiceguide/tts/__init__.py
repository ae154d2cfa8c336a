"""Speech: engines behind one registry, and a content-addressed cache of rendered clips.

Importing this package is cheap: engines start (and heavy modules load) only when a clip must
be rendered or a voice list is asked for.
"""

from voiceguide.tts.cache import CacheInfo, Clip, ClipCache, default_cache_dir
from voiceguide.tts.engine import (
    Engine,
    EngineFailure,
    Synth,
    Voice,
    VoiceSettings,
    check_voice,
    engine_names,
    get_engine,
    list_voices,
    register_engine,
    resolve_engine,
    unregister_engine,
)
from voiceguide.tts.render import RenderResult, lookup_clips, render_clips

__all__ = [
    "CacheInfo",
    "Clip",
    "ClipCache",
    "Engine",
    "EngineFailure",
    "RenderResult",
    "Synth",
    "Voice",
    "VoiceSettings",
    "check_voice",
    "default_cache_dir",
    "engine_names",
    "get_engine",
    "list_voices",
    "lookup_clips",
    "register_engine",
    "render_clips",
    "resolve_engine",
    "unregister_engine",
]
