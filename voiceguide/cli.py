"""The command line: parse flags, call one library function, print. Errors become messages here.

Every command's help ends with examples; tests/test_cli.py fails when a command or option is
missing from the README.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import click

from voiceguide import __version__
from voiceguide.errors import VoiceguideError

if TYPE_CHECKING:  # pragma: no cover
    from voiceguide.audio import MixSettings
    from voiceguide.compiler import Pacing
    from voiceguide.tts import VoiceSettings

EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process the signal ended


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be: every cleanup that runs on Ctrl-C runs on it too
    (an export's temp files go, the player fades out, engines are stopped)."""


_terminated = False


def _on_sigterm(signum, frame):
    global _terminated
    if _terminated:
        return  # stopping already: let the cleanup finish
    _terminated = True
    raise Terminated()


# --- shared option groups ----------------------------------------------------------------------------


def _duration(flag: str, text: str | None, most_ms: int | None = None) -> int | None:
    from voiceguide.durations import CEILING_MS, parse_duration

    if text is None:
        return None
    try:
        return parse_duration(text, most_ms=most_ms or CEILING_MS)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint=flag) from None


def _option_group(*options):
    """One decorator for options that commands take together, listed in this order in their help."""

    def apply(f):
        for option in reversed(options):
            f = option(f)
        return f

    return apply


def _defaults(group) -> dict:
    """Each option of ``group`` by its parameter name, with its default: read from the
    declarations themselves, so a name or a default is written once."""
    probe = click.command()(group(lambda **kwargs: None))
    return dict(probe.make_context("defaults", []).params)  # what a command given no flags gets


def _duration_range(flag: str, text: str | None, most_ms: int) -> tuple[int | None, int | None]:
    """(least, most) for a flag that takes ``90s`` or ``60-90s``; most is None for one value."""
    from voiceguide.durations import parse_range

    if text is None:
        return None, None
    try:
        lo, hi = parse_range(str(text), most_ms=most_ms)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint=flag) from None
    return lo, (hi if hi != lo else None)


# --length, --pace, --rate, --steps, --lead-in, --countdown, --no-countdown, --checkin-every,
# --no-checkins, --no-tips: what Pacing holds
pacing_options = _option_group(
    click.option("--length", metavar="DURATION", help="Fit the whole session to this length, e.g. 15m."),
    click.option(
        "--pace",
        type=float,
        default=1.0,
        show_default=True,
        metavar="FACTOR",
        help="Stretch every step by this factor, e.g. 1.25.",
    ),
    click.option(
        "--rate", type=int, default=160, show_default=True, metavar="WPM", help="Speech rate in words per minute."
    ),
    click.option("--steps", metavar="LIST", help="Only these steps, by number or title: 1-3,7 or effleurage."),
    click.option(
        "--lead-in", default="3s", show_default=True, metavar="DURATION", help="Music before the first words."
    ),
    click.option(
        "--countdown",
        default="30s,10s",
        show_default=True,
        metavar="TIMES",
        help="Countdowns before each step ends.",
    ),
    click.option("--no-countdown", is_flag=True, help="No countdowns."),
    click.option(
        "--checkin-every",
        metavar="DURATION",
        help="How often to speak a check-in line, e.g. 90s or a range 60-90s (default: the routine's, else 90s).",
    ),
    click.option("--no-checkins", is_flag=True, help="No check-in lines."),
    click.option("--no-tips", is_flag=True, help="No tips (the steps' reminders); check-ins stay."),
)

#: The pacing flags by parameter name, with their defaults (a settings-file value is checked
#: against these, see _check_setting).
PACING_DEFAULTS = _defaults(pacing_options)


def make_pacing(flags: Mapping[str, Any]):
    """The pacing flags (by parameter name, as click passes them) as a Pacing."""
    from voiceguide.compiler import MAX_COUNTDOWN_MS, MAX_LEAD_IN_MS, MAX_SESSION_MS, Pacing

    every_ms, every_most_ms = _duration_range("--checkin-every", flags["checkin_every"], MAX_SESSION_MS)
    countdowns: tuple[int, ...] = ()
    if not flags["no_countdown"] and flags["countdown"]:
        countdowns = tuple(
            dict.fromkeys(
                _duration("--countdown", part.strip(), MAX_COUNTDOWN_MS)
                for part in str(flags["countdown"]).split(",")
                if part.strip()
            )
        )
    steps = flags["steps"]
    return Pacing(
        length_ms=_duration("--length", flags["length"], MAX_SESSION_MS),
        pace=flags["pace"],
        rate_wpm=flags["rate"],
        steps=str(steps) if steps is not None else None,
        lead_in_ms=_duration("--lead-in", flags["lead_in"], MAX_LEAD_IN_MS),
        countdowns_ms=countdowns,
        checkins=not flags["no_checkins"],
        checkin_every_ms=every_ms,
        checkin_every_most_ms=every_most_ms,
        tips=not flags["no_tips"],
    )


def _cache_dir_option(f):
    return click.option(
        "--cache-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Clip cache folder (default: $VOICEGUIDE_CACHE_DIR, else the user cache).",
    )(f)


# --engine, --voice, --volume, --cache-dir: what VoiceSettings holds, and where its clips are
voice_options = _option_group(
    click.option(
        "--engine",
        default="auto",
        show_default=True,
        metavar="NAME",
        help="Speech engine: auto, pyttsx3, espeak-ng or piper.",
    ),
    click.option("--voice", metavar="NAME", help="Voice name (see `voiceguide voices`)."),
    click.option(
        "--volume",
        type=click.FloatRange(0.0, 1.0, min_open=True),
        default=1.0,
        show_default=True,
        help="Speech engine volume, above 0 and at most 1.",
    ),
    _cache_dir_option,
)

# --music, --music-volume, --chime, --sample-rate, --mono: what MixSettings holds
mix_options = _option_group(
    click.option(
        "--music",
        default="builtin",
        show_default=True,
        metavar="builtin|none|PATH",
        help="Background music: the built-in ambient bed, none, or a file or folder.",
    ),
    click.option("--music-volume", type=float, metavar="DB", help="Music level relative to speech, in dB (e.g. -18)."),
    click.option(
        "--chime",
        type=click.Choice(["soft", "bell", "none"]),
        default="soft",
        show_default=True,
        help="The sound between steps.",
    ),
    click.option(
        "--sample-rate",
        type=click.IntRange(8000, 192000),
        default=44100,
        show_default=True,
        help="Output sample rate in Hz.",
    ),
    click.option("--mono", is_flag=True, help="One channel (smaller files)."),
)

_MIX_KEYS = tuple(_defaults(mix_options))


def session_options(*, mix: bool):
    """Every option group a command that builds a session takes: the pacing and the voice, and
    the mix too for the commands that make sound (export, play) or keep it (render)."""
    return _option_group(pacing_options, voice_options, *([mix_options] if mix else []))


class SessionSettings(NamedTuple):
    """The session flags as the library's settings objects (what Session.from_settings takes)."""

    pacing: Pacing
    voice: VoiceSettings
    mix: MixSettings | None  # None for a command without the mix options (show)
    cache_dir: Path


def session_settings(kwargs: dict) -> SessionSettings:
    """Pop the session flags from a command's ``kwargs`` and turn them into the library's
    settings objects in one step; each object checks its own values (the speech-rate rule is
    compiler.check_rate, asked by Pacing and VoiceSettings alike)."""
    from voiceguide.tts import VoiceSettings, default_cache_dir

    pacing = make_pacing({k: kwargs.pop(k) for k in PACING_DEFAULTS})
    voice = VoiceSettings(
        engine=kwargs.pop("engine"), voice=kwargs.pop("voice"), rate_wpm=pacing.rate_wpm, volume=kwargs.pop("volume")
    )
    cache_dir = default_cache_dir(kwargs.pop("cache_dir"))
    mix = None
    if all(k in kwargs for k in _MIX_KEYS):
        from voiceguide.audio import MixSettings

        music_volume = kwargs.pop("music_volume")
        extra = {} if music_volume is None else {"music_volume_db": music_volume}
        mix = MixSettings(
            sample_rate=kwargs.pop("sample_rate"),
            channels=1 if kwargs.pop("mono") else 2,
            music=str(kwargs.pop("music")),
            chime=kwargs.pop("chime"),
            cache_dir=cache_dir,
            **extra,
        )
    return SessionSettings(pacing, voice, mix, cache_dir)


# --- output helpers ------------------------------------------------------------------------------------


def _err(message: str) -> None:
    click.echo(message, err=True)


def _count(n: int, noun: str) -> str:
    """``1 step``, ``7 steps``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


class _Bar:
    """A progress bar on stderr when it is a terminal; silent otherwise (CI logs stay readable)."""

    def __init__(self, label: str):
        self.label, self.bar = label, None

    def __call__(self, done: int, total: int) -> None:
        if not sys.stderr.isatty() or total <= 0:
            return
        if self.bar is None and done >= total:
            return  # everything was ready (all cached): a bar that opens at 100% says nothing
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.bar.pos)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _with_bar(label: str, fn, *args, **kwargs):
    bar = _Bar(label)
    try:
        return fn(*args, progress=bar, **kwargs)
    finally:
        bar.close()


def _print_notes(prepared) -> None:
    for note in prepared.notes:
        _err(f"voiceguide: {note}")


# --- the commands ----------------------------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="voiceguide")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Narrated, hands-free sessions from a written routine.

    \b
    Examples:
      voiceguide play                      play the bundled back massage
      voiceguide show --length 15m         see what will be said and when
      voiceguide export -o massage.mp3     an MP3 with a chapter per step

    Personal defaults for any flag go in ~/.config/voiceguide/config.toml (or $VOICEGUIDE_CONFIG).
    """
    from voiceguide.config import config_path, default_map, load_settings
    from voiceguide.errors import shown_path

    path = config_path()
    settings = load_settings(path)
    if settings:
        commands = {
            name: {p.name for p in cmd.params} | ({"keymap"} if name == "play" else set())
            for name, cmd in cli.commands.items()
            if isinstance(cmd, click.Command)
        }
        ctx.default_map = default_map(settings, commands, path, _setting_value)
        for (table, key), line in settings.lines.items():
            if table in (None, ctx.invoked_subcommand) and key not in commands and key != "keys":
                _SETTINGS_ORIGIN[f"--{key.replace('_', '-')}"] = f"{shown_path(path)}:{line}"


#: flag -> "file:line" of the settings that gave it a value, for errors found later (a --length
#: that does not fit the routine) that would otherwise name a flag the user never typed.
_SETTINGS_ORIGIN: dict[str, str] = {}


def _with_origin(error: VoiceguideError, argv: list[str]) -> str:
    import re

    from voiceguide.errors import VoiceError

    text = str(error)
    if error.path is not None:
        return text
    flag = "--voice" if isinstance(error, VoiceError) else "--engine" if "speech engine" in text else None
    found = re.match(r"(--[a-z-]+)", error.message)
    flag = flag or (found.group(1) if found else None)
    typed = any(a == flag or a.startswith(f"{flag}=") for a in argv)
    if flag in _SETTINGS_ORIGIN and not typed:
        return f"{text} (set as {flag[2:]} in {_SETTINGS_ORIGIN[flag]})"
    return text


def _setting_value(command: str, name: str, value):
    """A settings-file value for ``command``'s parameter ``name``, held to the flag's own rules.

    Stricter than click, which would turn 150.5 into 150 and fail on inf with OverflowError: a
    whole number must be one, a number finite, a switch true or false. ValueError says why not;
    config.default_map adds the file, key and line.
    """
    import math

    param = next((p for p in cli.commands[command].params if p.name == name), None)
    if param is None:
        return value
    kind = param.type
    if isinstance(value, str) and any(not c.isprintable() for c in value):
        raise ValueError("contains a control character")
    if getattr(param, "is_flag", False):
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if isinstance(kind, click.types.IntParamType):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be a whole number (without quotes), like {param.default}")
    elif isinstance(kind, click.types.FloatParamType):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"must be a number (without quotes), like {param.default or -20:g}")
    elif isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError("must be text in quotes")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be text in quotes")
    elif not isinstance(value, str):
        value = str(value)  # length = 900, steps = 3: what the flag would have been given
    try:
        value = kind.convert(value, param, None)
    except click.BadParameter as e:
        raise ValueError(e.message) from None
    _check_setting(name, value)
    return value


def _check_setting(name: str, value) -> None:
    """The rules the commands apply later, applied now, so the message can name the setting."""
    import re

    from voiceguide.errors import VoiceguideError

    try:
        if name in PACING_DEFAULTS and name != "steps":
            make_pacing({**PACING_DEFAULTS, name: value})
        elif name == "engine" and value != "auto":
            from voiceguide.tts import get_engine

            get_engine(value)
        elif name == "music_volume":
            from voiceguide.audio.settings import MixSettings

            MixSettings(music_volume_db=value)
    except click.BadParameter as e:
        raise ValueError(e.message) from None
    except VoiceguideError as e:
        # "--rate 500 is out of range; ..." -> "out of range; ...": the file, not a flag, was written
        raise ValueError(re.sub(r"^--[a-z-]+(?: \S+ is)? ?", "", e.message)) from None


@cli.command()
@click.argument("routine", required=False)
@session_options(mix=False)
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as JSON (the contract other tools read).")
@click.option(
    "--svg",
    "svg_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Also draw the session as an SVG picture in FILE.",
)
def show(routine, as_json, svg_path, **kwargs):
    """Print the session's timeline: every cue, when, and what it says.

    ROUTINE is a bundled routine name (default: back-massage) or a YAML file. Cue lengths come from
    the clip cache where the clips exist, else from an estimate (marked ~); nothing is rendered.

    \b
    Examples:
      voiceguide show
      voiceguide show --length 15m --steps 1-3,7
      voiceguide show my-routine.yaml --json > timeline.json
      voiceguide show --length 15m --svg session.svg
    """
    from voiceguide.session import prepare
    from voiceguide.timeline import CueKind

    pacing, voice, _, cache_dir = session_settings(kwargs)
    prepared = prepare(routine, pacing, voice, cache_dir, render=False)
    tl = prepared.timeline
    if svg_path is not None:
        from voiceguide.picture import write_svg  # only here: play never imports the picture

        write_svg(tl, svg_path)
        _err(f"voiceguide: drew {svg_path}")
    if as_json:
        click.echo(json.dumps(tl.to_json(), indent=2, ensure_ascii=False))
        return
    from voiceguide.durations import format_clock

    est = " (~ marks estimated speech lengths; `voiceguide render` makes them exact)" if tl.estimated else ""
    from voiceguide.durations import format_ms

    click.echo(f"{tl.title}: {_count(len(tl.steps), 'step')}, {format_clock(tl.total_ms)}{est}")
    click.echo(f"{'time':>8}  {'step':<4}  {'kind':<11}  text")
    waits = {w.start_ms: w.waited_ms for w in tl.checkin_waits}
    for cue in tl.cues:
        mark = "~" if cue.estimated else " "
        text = cue.text or "(chime)"
        if cue.kind is CueKind.CHECKIN and cue.start_ms in waits:
            text += f"  (waited {format_ms(max(1, round(waits[cue.start_ms] / 1000)) * 1000)} for room)"
        step = str(cue.step) if cue.step is not None else "-"
        click.echo(f"{format_clock(cue.start_ms):>7}{mark}  {step:<4}  {cue.kind.value:<11}  {text}")
    click.echo(f"{format_clock(tl.total_ms):>7}   end")


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(files):
    """Check routine files; one line per problem, exit 2 if any.

    \b
    Examples:
      voiceguide validate my-routine.yaml
      voiceguide validate routines/*.yaml
    """
    from voiceguide.compiler import compile_timeline
    from voiceguide.errors import RoutineError, shown_path
    from voiceguide.routine import parse_routine, read_routine_text

    failed = 0
    for path in files:
        try:
            routine = parse_routine(read_routine_text(path), source=str(path))
            compile_timeline(routine)  # what show, render and export would refuse, refused here first
        except RoutineError as e:
            problems = e.problems
        except VoiceguideError as e:
            problems = (RoutineError(e.message, path=path, line=e.line),)
        else:
            click.echo(f"{shown_path(path)}: ok ({_count(len(routine.steps), 'step')})")
            continue
        failed += 1
        for problem in problems:
            _err(f"{problem}")
    if failed:
        sys.exit(2)


@cli.command("import")
@click.argument("article", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    "out",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Write the routine here (default: print it).",
)
@click.option("--length", metavar="DURATION", help="Choose step ranges so the session can last this long, e.g. 20m.")
@click.option("--force", is_flag=True, help="Replace FILE if it already exists.")
def import_(article, out, length, force):
    """Draft a routine from a how-to article: plain text, Markdown or a saved web page.

    Finds the title, set-up, steps in order with their times, tips, safety lines and closing, and
    writes them in the routine format with a comment beside every line naming where in the article
    it came from. Offline and deterministic. An existing FILE is replaced only with --force.

    \b
    Examples:
      voiceguide import back-massage.txt -o back.yaml
      voiceguide import saved-page.html --length 20m -o foot.yaml
      voiceguide import notes.md | less
    """
    from voiceguide.importer import draft_text, import_article, write_draft

    draft = import_article(article, length_ms=_duration("--length", length))
    text = draft_text(draft)
    if out is None:
        click.echo(text, nl=False)
        return
    write_draft(out, text, force=force, article=article)
    defaulted = f"; {draft.defaulted} without a time in the article, marked" if draft.defaulted else ""
    _err(
        f"voiceguide: wrote {out} ({_count(len(draft.steps), 'step')}{defaulted}; "
        f"{_count(len(draft.safety), 'safety line')}, {_count(len(draft.checkins), 'check-in')}). "
        f"Check it with: voiceguide show {out}"
    )


@cli.command()
def routines():
    """List the bundled routines with their default lengths.

    \b
    Example:
      voiceguide routines
    """
    from voiceguide.compiler import compile_timeline
    from voiceguide.durations import format_clock
    from voiceguide.routine import bundled_routines, load_routine

    for name in bundled_routines():
        r = load_routine(name)
        tl = compile_timeline(r)
        click.echo(f"{name:<20} {format_clock(tl.total_ms):>6}  {_count(len(r.steps), 'step'):<8}  {r.title}")


@cli.command()
@click.argument("routine", required=False)
@session_options(mix=True)
def render(routine, **kwargs):
    """Render every clip a session needs into the cache, so play and export start at once.

    It also keeps the session's first seconds, mixed, so `play` with the same settings is heard
    at once, while the rest loads.

    \b
    Examples:
      voiceguide render
      voiceguide render --engine espeak-ng --voice en-us --rate 150
      voiceguide render my-routine.yaml --cache-dir ./audio_cache
    """
    from voiceguide.player import prelude

    name = prelude.name_for(routine, kwargs)
    session = _session(routine, kwargs)
    prepared = _with_bar("Rendering", session.render)
    try:
        mixer = session.mixer()
    finally:
        _print_notes(prepared)
    prelude.keep(name, session, prelude.opening(mixer), mixer.rate, mixer.channels)
    total = len(prepared.clips)
    _err(
        f"voiceguide: {total} clips ready ({prepared.rendered} rendered, {total - prepared.rendered} cached) "
        f"with {prepared.engine} in {session.cache_dir}"
    )


@cli.command()
@click.option("--engine", metavar="NAME", help="Only this engine's voices.")
def voices(engine):
    """List the voices each installed speech engine offers.

    The VOICE column is what --voice takes; * marks the voice an engine uses when none is given.
    Under --engine auto the first engine listed speaks.

    \b
    Examples:
      voiceguide voices
      voiceguide voices --engine piper
      voiceguide render --engine espeak-ng --voice en-gb
    """
    from voiceguide.tts import list_voices

    rows = [("ENGINE", "VOICE (--voice)", "LANGUAGE", "DESCRIPTION")]
    rows += [
        (v.engine, v.name + (" *" if v.default else ""), v.language or "-", v.description or "")
        for v in list_voices(engine)
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[3])
    click.echo("* the engine's default voice")


@cli.group()
def cache():
    """Show and manage the clip cache.

    \b
    Examples:
      voiceguide cache info
      voiceguide cache prune --older-than 30d
      voiceguide cache clear
    """


@cache.command("info")
@_cache_dir_option
def cache_info(cache_dir):
    """Where the cache is, how many clips, how big.

    \b
    Example:
      voiceguide cache info
    """
    from voiceguide.tts import ClipCache, default_cache_dir

    c = ClipCache(default_cache_dir(cache_dir))
    info = c.info()
    click.echo(f"folder: {c.root}")
    for key, value in info.describe().items():
        click.echo(f"{key}: {value}")


@cache.command("clear")
@_cache_dir_option
def cache_clear(cache_dir):
    """Remove every cached clip and what the mixer derived from them.

    Only files voiceguide made are removed; anything else in the folder stays. A folder that is
    not a voiceguide cache is refused (exit status 2).

    \b
    Example:
      voiceguide cache clear
    """
    from voiceguide.tts import ClipCache, default_cache_dir

    removal = ClipCache(default_cache_dir(cache_dir)).clear()
    click.echo(removal.describe())


@cache.command("prune")
@_cache_dir_option
@click.option(
    "--older-than",
    default="30d",
    show_default=True,
    metavar="AGE",
    help="Remove clips not used for this long: 30d, 12h, 90m.",
)
def cache_prune(cache_dir, older_than):
    """Remove clips not used recently, and temp files that interrupted runs left.

    Only files voiceguide made are removed; a folder that is not a voiceguide cache is refused.

    \b
    Example:
      voiceguide cache prune --older-than 30d
    """
    from voiceguide.tts import ClipCache, default_cache_dir

    age_s = _age_seconds(older_than)
    removal = ClipCache(default_cache_dir(cache_dir)).prune(age_s)
    click.echo(f"{removal.describe()}: unused for {older_than}, or left by interrupted runs")


def _age_seconds(text: str) -> float:
    from voiceguide.durations import parse_age

    try:
        return parse_age(text)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--older-than") from None


@cli.command()
@click.argument("routine", required=False)
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to write: .mp3 or .wav.",
)
@click.option("--bitrate", default="128k", show_default=True, help="MP3 bitrate.")
@click.option(
    "--chapters",
    "chapter_formats",
    default="",
    metavar="vtt,json",
    help="Also write FILE.chapters.vtt and/or FILE.chapters.json.",
)
@session_options(mix=True)
def export(routine, out, bitrate, chapter_formats, **kwargs):
    """Write the session to an MP3 (or WAV) with one chapter per step.

    \b
    Examples:
      voiceguide export -o massage.mp3
      voiceguide export -o massage.mp3 --length 15m --music ~/Music/calm --chapters vtt,json
      voiceguide export my-routine.yaml -o session.wav --mono
    """
    from voiceguide.audio.encode.chapters import chapter_formats as parse_formats

    try:
        formats = parse_formats(chapter_formats)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--chapters") from None
    session, _ = _session_mixer(routine, kwargs)
    result = _with_bar("Exporting", session.export, out, bitrate=bitrate, chapters=formats)
    for note in result.notes:
        _err(f"voiceguide: {note}")
    _err(f"voiceguide: wrote {out} ({_describe_result(result)})")


def _session(routine, kwargs):
    """Flags -> a voiceguide.Session (nothing loaded or rendered yet)."""
    from voiceguide.session import Session

    return Session.from_settings(routine, *session_settings(kwargs), _command_background())


def _mixer(session):
    """The session rendered and exactly timed -> its mixer."""
    prepared = _with_bar("Rendering", session.render)
    try:
        return session.mixer()
    finally:
        _print_notes(prepared)  # with any damaged clip that building found and rendered again


def _session_mixer(routine, kwargs):
    """Everything play and export share: flags -> a voiceguide.Session -> its mixer."""
    session = _session(routine, kwargs)
    return session, _mixer(session)


def _command_background():
    """The running command's threads (voiceguide.background): click closes it with the
    command's context, however the command ends, so no thread outlives the command."""
    from voiceguide.background import Background

    return click.get_current_context().with_resource(Background())


def _describe_result(result) -> str:
    from voiceguide.durations import format_clock

    extra = "".join(f", {p}" for p in result.sidecars)
    return f"{format_clock(result.duration_ms)}, {len(result.chapters)} chapters{extra}"


@cli.command()
@click.argument("routine", required=False)
@click.option(
    "--output",
    "output_kind",
    type=click.Choice(["auto", "stream", "simpleaudio"]),
    default="auto",
    show_default=True,
    help="How to reach the sound card.",
)
@click.option("--device", metavar="NAME", help="Audio device name (an unknown name lists the ones available).")
@click.option("--quiet", is_flag=True, help="No live display: one plain line per cue.")
@session_options(mix=True)
@click.pass_context
def play(ctx, routine, output_kind, device, quiet, **kwargs):
    """Play the session aloud, hands-free, with single-key controls.

    \b
    Keys: space pause/resume, n next step, p restart or previous step, r repeat the last cue,
    + / - make this step 30s longer or shorter, s repeat the safety lines, q quit.
    A USB foot pedal that types keys works too; remap keys in the settings file under [keys].

    \b
    Examples:
      voiceguide play
      voiceguide play --length 20m --music ~/Music/calm.mp3
      voiceguide play my-routine.yaml --steps 2-4 --pace 1.5
    """
    # nothing heavy: the device opens (and plays a kept opening) before numpy and the session load
    from voiceguide import userdirs
    from voiceguide.player import prelude
    from voiceguide.player.live import LivePlay

    live = LivePlay(
        output_kind,
        rate=kwargs["sample_rate"],
        channels=1 if kwargs["mono"] else 2,
        cache_dir=userdirs.cache_dir(kwargs["cache_dir"]),
        opening_name=prelude.name_for(routine, kwargs),
        device=device,
    )
    with live:
        session = _session(routine, kwargs)
        _mixer(session)  # rendered and built with the command's progress bar and notes
        from voiceguide.player import PlainDisplay, TerminalDisplay, TerminalKeys

        interactive = sys.stdin.isatty() and sys.stdout.isatty() and not quiet
        display = TerminalDisplay(sys.stdout) if interactive else PlainDisplay(sys.stdout)

        def report(result) -> None:
            if os.environ.get("VOICEGUIDE_DEBUG"):
                _err(
                    f"voiceguide: debug: played with {result.output}, {result.underruns} underruns, "
                    f"device requests up to {result.worst_late_ms:.0f} ms late, "
                    f"{len(result.events)} controls, heard to {result.position_ms / 1000:.1f} s, {live.opening}"
                )

        with TerminalKeys() if sys.stdin.isatty() else contextlib.nullcontext() as keys:
            keymap = (ctx.default_map or {}).get("keymap")
            live.play(session, display=display, keys=keys, keymap=keymap, on_end=report)


# --- the one place errors become messages ------------------------------------------------------------------


def _tune_allocator() -> None:
    """Pin glibc's mmap threshold at 2 MB, for the whole process (hence here, not in a library).

    glibc raises the threshold to the size of every large block it frees (up to 32 MB), so after
    the bed's 17 MB transforms every clip's few-MB buffers would come from heaps that are never
    given back, and each thread has its own: about 35 MB of peak memory for nothing. With the
    threshold pinned, buffers of 2 MB and more are mapped and unmapped, and memory stays flat.
    (Not 1 MB: a clip at 44.1 kHz in float64 is just over it, and faulting in fresh pages for each
    of its buffers cost a third of a second of system time on first use.)
    Pinning it also pins the trim threshold at its 128 kB default, so every free at the top of a
    heap would hand its pages back and the next buffer would fault them in again: that doubled the
    time clips take to process. So the heaps may keep 8 MB free at their top before trimming,
    and there are at most two of them (one per core), whatever the number of threads.
    Not glibc (macOS, musl, Windows): nothing to do. (ctypes is imported by numpy anyway.)
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 2 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 8 << 20)  # M_TRIM_THRESHOLD
        libc.mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI; turn every error into one line and an exit status."""
    import signal

    global _terminated
    _tune_allocator()
    _terminated = False
    debug = bool(os.environ.get("VOICEGUIDE_DEBUG"))
    _SETTINGS_ORIGIN.clear()
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (an embedding program): its own handling stands
        previous = None
    try:
        _run(argv, debug)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run(argv: list[str] | None, debug: bool) -> None:
    try:
        cli.main(args=argv, prog_name="voiceguide", standalone_mode=False)
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 - every way out ends as one line and a status
        if _terminated:
            # click turns the signal's exception into Abort; a cleanup it cut short may raise
            # something else: either way the run was stopped from outside
            _err("\nvoiceguide: stopped (terminated)")
            sys.exit(EXIT_TERMINATED)
        _report(e, debug, list(sys.argv[1:] if argv is None else argv))
    sys.exit(0)


def _report(e: BaseException, debug: bool, args: list[str]) -> None:
    if isinstance(e, VoiceguideError):
        for problem in e.problems:  # a routine with several problems: each on its own line
            _err(f"voiceguide: error: {_with_origin(problem, args)}")
        sys.exit(e.exit_code)
    if isinstance(e, click.exceptions.Abort):
        _err("voiceguide: stopped")
        sys.exit(EXIT_INTERRUPTED)
    if isinstance(e, click.ClickException):
        if len(e.message) > 160:  # click repeats the value it refused: a 5,000-digit --rate, say
            e.message = e.message[:120] + "…"
        e.show()
        sys.exit(e.exit_code)
    if isinstance(e, KeyboardInterrupt):
        _err("\nvoiceguide: stopped")
        sys.exit(EXIT_INTERRUPTED)
    if isinstance(e, BrokenPipeError):
        # the reader went away (`voiceguide show | head`): not an error worth a message
        sys.stderr.close()
        sys.exit(0)
    if not isinstance(e, Exception) or debug:
        raise e
    # the last line of defence against a traceback
    _err(f"voiceguide: internal error: {type(e).__name__}: {e} (set VOICEGUIDE_DEBUG=1 for details)")
    sys.exit(3)
