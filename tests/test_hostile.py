"""The hostile corpus (tests/hostile/corpus.py): every case exit 2, a clear message, within 5 s.

Run in process here (a few seconds for the lot); ``tests/hostile/run.py`` runs the same cases as
separate processes and prints the counts by exit status.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "hostile"))

from corpus import all_cases
from run import base_env, run_case, run_subprocess, warm

CASES = all_cases()


def test_the_corpus_is_large_and_broad():
    kinds = {}
    for c in CASES:
        kinds.setdefault(c.kind, set()).add(c.name.split(":")[-1])
    assert len(kinds["routine"]) >= 150, "routine files"
    assert len(kinds["flag"]) >= 40 and len(kinds["settings"]) >= 40 and len(kinds["music"]) >= 15
    assert kinds["env"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    env = base_env(root)
    if any(c.kind in ("music", "flag") and "export" in c.args for c in CASES):
        warm(env)
    return env


@pytest.mark.parametrize("case", CASES, ids=[c.name[:70] for c in CASES])
def test_hostile_input_gets_exit_2_and_a_clear_message(case, env, tmp_path):
    code, out, err, seconds, wrong = run_case(case, tmp_path, env)
    assert not wrong, f"{case.name}: {wrong}\n{err[-600:]}"


@pytest.mark.parametrize(
    "name",
    [
        "validate:duration-0",
        "show:instruction-9",
        "show:deep-flow",
        "settings-2",
        "env-config-dev-zero",
        "music-two-samples",
    ],
)
def test_a_sample_end_to_end_as_a_process(name, env, tmp_path):
    case = next(c for c in CASES if c.name == name)
    code, out, err, seconds, wrong = run_case(case, tmp_path, env, run_subprocess)
    assert not wrong, f"{case.name}: {wrong}\n{err[-600:]}"
