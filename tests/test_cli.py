"""The command line as a user meets it: help with examples, documented flags, clear errors."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from cli_support import run

from voiceguide.cli import cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


pytestmark = pytest.mark.usefixtures("isolated_settings")


def _commands():
    out = []
    for name, cmd in cli.commands.items():
        if isinstance(cmd, click.Group):
            out += [(f"{name} {sub}", c) for sub, c in cmd.commands.items()]
        out.append((name, cmd))
    return out


@pytest.mark.parametrize("name, cmd", _commands(), ids=[n for n, _ in _commands()])
def test_every_command_has_an_example_and_is_in_the_readme(name, cmd):
    assert "Example" in (cmd.help or ""), f"`voiceguide {name} --help` shows no example"
    first = name.split()[0]
    assert f"voiceguide {first}" in README, f"README does not document `voiceguide {first}`"
    for param in cmd.params:
        for opt in getattr(param, "opts", []):
            if opt.startswith("--") and opt != "--help":
                assert re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", README), (
                    f"README does not document {opt} of {name}"
                )


def test_help_runs(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "Examples" in out
    for name, _ in _commands():
        code, out, _ = run(capsys, *name.split(), "--help")
        assert code == 0 and "Example" in out


def test_show_json_is_the_contract(capsys):
    code, out, err = run(capsys, "show", "--json")
    assert code == 0, err
    tl = json.loads(out)
    assert [s["title"] for s in tl["steps"]] == [
        "Warm-up strokes",
        "Effleurage",
        "Petrissage",
        "Circular motions",
        "Tapotement",
        "Friction",
        "Lower back",
    ]
    for s in tl["steps"]:
        assert {"index", "title", "start_s", "end_s"} <= set(s)
    for c in tl["cues"]:
        assert {"start_s", "end_s", "kind", "text", "step"} <= set(c)
    assert tl["estimated"] is True  # nothing rendered into this empty cache


def test_show_length_fits(capsys):
    code, out, _ = run(capsys, "show", "--length", "15m", "--json")
    assert code == 0 and abs(json.loads(out)["total_s"] - 900) <= 1


def test_show_table(capsys):
    code, out, _ = run(capsys, "show", "--steps", "1")
    assert code == 0
    assert "Step 1 of 1: Warm-up strokes." in out and "(chime)" in out and "~" in out


@pytest.mark.parametrize(
    "args, needle",
    [
        (["show", "--length", "2m"], "can last from"),
        (["show", "--length", "soon"], "not a duration"),
        (["show", "--steps", "9"], "outside 1-7"),
        (["show", "--pace", "0"], "--pace"),
        (["show", "no-such-routine"], "no bundled routine or file"),
        (["show", "--countdown", "x"], "--countdown"),
        (["export"], "Missing option '-o'"),
    ],
)
def test_bad_input_is_one_line_exit_2(capsys, args, needle):
    code, out, err = run(capsys, *args)
    assert code == 2, (out, err)
    assert needle in err and "Traceback" not in err + out


def test_validate(capsys, tmp_path):
    good = ROOT / "tests" / "routines" / "stretch.yaml"
    broken = tmp_path / "broken.yaml"
    broken.write_text("title: Broken\nsteps:\n  - title: One\n    duration: [oops\n")
    typo = tmp_path / "typo.yaml"
    typo.write_text("title: T\nsteps:\n  - title: A\n    duratoin: 1m\n    instruction: Go.\n")
    code, out, err = run(capsys, "validate", good)
    assert code == 0 and "ok (3 steps)" in out
    code, out, err = run(capsys, "validate", good, broken, typo)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{broken}:4: ") and lines[1].startswith(f"{typo}:4: ")
    assert "did you mean 'duration'" in lines[1]


def test_routines_lists_the_bundled_one(capsys):
    code, out, _ = run(capsys, "routines")
    assert code == 0 and re.search(r"back-massage\s+\d\d:\d\d\s+7 steps", out)


def test_settings_file_feeds_flags_and_the_command_line_wins(capsys, tmp_path, monkeypatch):
    cfg = tmp_path / "config.toml"
    cfg.write_text('rate = 120\ncountdown = "20s"\n[show]\nsteps = "1-2"\n')
    monkeypatch.setenv("VOICEGUIDE_CONFIG", str(cfg))
    code, out, err = run(capsys, "show", "--json")
    assert code == 0, err
    tl = json.loads(out)
    assert tl["pacing"]["rate_wpm"] == 120 and tl["pacing"]["countdown_s"] == [20.0] and len(tl["steps"]) == 2
    code, out, _ = run(capsys, "show", "--json", "--rate", "170", "--steps", "1")
    tl = json.loads(out)
    assert tl["pacing"]["rate_wpm"] == 170 and len(tl["steps"]) == 1
    cfg.write_text("rat = 120\n")
    code, out, err = run(capsys, "show")
    assert code == 2 and "did you mean 'rate'" in err and str(cfg) in err


def test_console_script_and_module_entry_points(tmp_path):
    env = dict(os.environ, VOICEGUIDE_CACHE_DIR=str(tmp_path), VOICEGUIDE_CONFIG=str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    exe = Path(sys.executable).with_name("voiceguide")
    for cmd in ([str(exe), "--version"], [sys.executable, "-m", "voiceguide", "--version"]):
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
        assert p.returncode == 0 and "voiceguide" in p.stdout
    p = subprocess.run([str(exe), "show", "--length", "2m"], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 2 and "can last from" in p.stderr and "Traceback" not in p.stderr


# --- a newcomer's rough edges (issue 13): each would come back without these ----------------------


def test_one_step_is_singular_in_show_validate_and_routines(capsys, tmp_path):
    code, out, _ = run(capsys, "show", "--steps", "1")
    assert code == 0 and ": 1 step, " in out and "1 steps" not in out
    one = tmp_path / "one.yaml"
    one.write_text("title: One\nsteps:\n  - title: A\n    duration: 1m\n    instruction: Go.\n")
    code, out, _ = run(capsys, "validate", one)
    assert code == 0 and out.strip().endswith("ok (1 step)")


def test_show_finds_name_yaml_in_the_current_folder(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "neck-and-shoulders.yaml").write_text(
        "title: Neck and shoulders\nsteps:\n  - title: Neck\n    duration: 1m\n    instruction: Tilt.\n"
    )
    for ref in ("neck-and-shoulders", "neck-and-shoulders.yaml", tmp_path / "neck-and-shoulders"):
        code, out, err = run(capsys, "show", ref)
        assert code == 0 and out.startswith("Neck and shoulders: 1 step"), (ref, err)


def test_checkin_every_takes_a_range_and_show_says_when_one_waited(capsys):
    code, out, err = run(capsys, "show", "--checkin-every", "60-90s", "--json")
    assert code == 0, err
    tl = json.loads(out)
    assert tl["pacing"]["checkin_every_s"] == 60 and tl["pacing"]["checkin_every_most_s"] == 90
    waited = {w["start_s"] for w in tl["checkin_waits"]}
    assert waited
    code, out, _ = run(capsys, "show", "--checkin-every", "60-90s")
    lines = [l for l in out.splitlines() if " checkin " in l]
    assert len([l for l in lines if "(waited " in l and "for room)" in l]) == len(waited)
    code, _, err = run(capsys, "show", "--checkin-every", "90-60s")
    assert code == 2 and "--checkin-every" in err and "shortest" in err


def test_no_tips_beside_no_checkins(capsys):
    code, out, _ = run(capsys, "show", "--no-tips", "--json")
    kinds = {c["kind"] for c in json.loads(out)["cues"]}
    assert code == 0 and "tip" not in kinds and "checkin" in kinds
    code, out, _ = run(capsys, "show", "--no-checkins", "--json")
    kinds = {c["kind"] for c in json.loads(out)["cues"]}
    assert "tip" in kinds and "checkin" not in kinds


def test_prune_older_than_suggests_ages_like_its_help(capsys):
    code, _, err = run(capsys, "cache", "prune", "--older-than", "banana")
    assert code == 2 and "30d" in err and "12h" in err and "90s" not in err
    assert "30d, 12h" in cli.commands["cache"].commands["prune"].params[1].help


class _Terminal:
    def __init__(self):
        import io

        self.out = io.StringIO()

    def isatty(self):
        return True

    def write(self, text):
        return self.out.write(text)

    def flush(self):
        pass


def test_no_progress_bar_when_everything_is_cached(monkeypatch):
    from voiceguide.cli import _Bar

    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    bar = _Bar("Rendering")
    bar(12, 12)  # all found in the cache: the first report is already the last
    bar.close()
    assert term.out.getvalue() == ""
    bar = _Bar("Rendering")
    bar(4, 12)
    bar(12, 12)
    bar.close()
    assert "Rendering" in term.out.getvalue()


def test_version(capsys):
    from voiceguide import __version__

    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"voiceguide, version {__version__}"


def test_shell_completion_works_as_the_readme_says(tmp_path):
    assert "_VOICEGUIDE_COMPLETE=bash_source" in README and "_VOICEGUIDE_COMPLETE=zsh_source" in README
    exe = Path(sys.executable).with_name("voiceguide")
    env = dict(os.environ, _VOICEGUIDE_COMPLETE="bash_source")
    p = subprocess.run([str(exe)], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0 and "complete -o nosort -F _voiceguide_completion voiceguide" in p.stdout
    env = dict(os.environ, _VOICEGUIDE_COMPLETE="bash_complete", COMP_WORDS="voiceguide sh", COMP_CWORD="1")
    p = subprocess.run([str(exe)], capture_output=True, text=True, env=env, timeout=60)
    assert "show" in p.stdout


def test_voices_has_a_header_even_columns_and_marks_the_default(capsys):
    code, out, err = run(capsys, "voices", "--engine", "espeak-ng")
    assert code == 0, err
    lines = out.rstrip("\n").splitlines()
    assert lines[0].split()[:3] == ["ENGINE", "VOICE", "(--voice)"] and lines[-1].startswith("* ")
    rows = lines[1:-1]
    assert rows and all(r.startswith("espeak-ng") for r in rows)
    language_at = lines[0].index("LANGUAGE")
    assert all(r[language_at - 2 : language_at] == "  " and r[language_at] != " " for r in rows)  # one column
    assert sum(" * " in r[:language_at] for r in rows) == 1  # one default


def test_flags_become_the_librarys_settings_in_one_step(tmp_path):
    """What a command given no flags builds is the library's own defaults, and the session
    commands that make sound (export, play) get a MixSettings too; show and render do not."""
    import dataclasses

    from voiceguide.audio import MixSettings
    from voiceguide.cli import session_settings
    from voiceguide.compiler import Pacing
    from voiceguide.tts import VoiceSettings

    def given(command, *args):
        ctx = cli.commands[command].make_context(command, ["--cache-dir", str(tmp_path), *args])
        kwargs = dict(ctx.params)
        kwargs.pop("routine")
        settings = session_settings(kwargs)
        return settings, kwargs  # what the command itself still has to read

    (pacing, voice, mix, cache_dir), rest = given("export", "-o", "x.mp3")
    assert (pacing, voice, cache_dir) == (Pacing(), VoiceSettings(), tmp_path)
    assert mix == dataclasses.replace(MixSettings(), cache_dir=tmp_path)
    assert set(rest) == {"out", "bitrate", "chapter_formats"}
    (pacing, voice, mix, _), rest = given("show", "--rate", "120", "--no-tips")
    assert mix is None and set(rest) == {"as_json", "svg_path"}
    assert pacing.rate_wpm == voice.rate_wpm == 120 and not pacing.tips
    (_, _, mix, _), _ = given("play", "--mono", "--music-volume", "-12", "--chime", "bell")
    assert (mix.channels, mix.music_volume_db, mix.chime) == (1, -12.0, "bell")


def test_one_speech_rate_rule_for_the_flag_the_settings_file_and_the_library(capsys, isolated_settings):
    """compiler.check_rate is the rule; every way a rate comes in says the same range."""
    import voiceguide
    from voiceguide.compiler import MAX_RATE_WPM, MIN_RATE_WPM

    rule = f"use {MIN_RATE_WPM} to {MAX_RATE_WPM} words per minute"
    code, _, err = run(capsys, "show", "--rate", str(MAX_RATE_WPM + 1))
    assert code == 2 and rule in err and "--rate" in err
    isolated_settings.write_text(f"rate = {MIN_RATE_WPM - 1}\n")
    code, _, err = run(capsys, "show")
    assert code == 2 and rule in err and "settings.toml:1" in err
    with pytest.raises(voiceguide.PacingError, match=rule):
        voiceguide.Session(rate=MAX_RATE_WPM + 1)
