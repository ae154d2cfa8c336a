"""The Timeline contract: the JSON other stages read, and the helpers on it."""

import json

from voiceguide.timeline import Cue, CueKind, Step, Timeline


def _timeline():
    steps = (Step(1, 2, "Neck", 1000, 6000), Step(2, 3, "Back", 6000, 11000))
    cues = (
        Cue(0, 900, CueKind.SETUP, "Sit down.", None, True),
        Cue(1000, 1500, CueKind.TRANSITION, "", 1),
        Cue(1500, 2500, CueKind.ANNOUNCE, "Step 1 of 2: Neck.", 1),
        Cue(6000, 6500, CueKind.TRANSITION, "", 2),
        Cue(6500, 7000, CueKind.ANNOUNCE, "Sit down.", 2),
    )
    return Timeline("T", "t", 12000, steps, cues, {"pace": 1.0})


def test_json_contract_round_trips_through_text():
    data = json.loads(json.dumps(_timeline().to_json()))
    assert data["title"] == "T" and data["total_s"] == 12.0 and data["estimated"] is True
    assert data["steps"][0] == {"index": 1, "number": 2, "title": "Neck", "start_s": 1.0, "end_s": 6.0}
    assert data["cues"][1] == {
        "start_s": 1.0,
        "end_s": 1.5,
        "kind": "transition",
        "text": "",
        "step": 1,
        "estimated": False,
    }


def test_helpers():
    tl = _timeline()
    assert tl.spoken_texts() == ["Sit down.", "Step 1 of 2: Neck."]  # distinct, chimes left out
    assert tl.intro_end_ms == 1000 and tl.outro_start_ms == 11000
    assert tl.step_at(999) is None and tl.step_at(1000).title == "Neck" and tl.step_at(6000).title == "Back"
    assert tl.step_at(11000) is None
    assert not tl.cues[1].spoken and tl.cues[2].spoken and tl.cues[2].duration_ms == 1000
