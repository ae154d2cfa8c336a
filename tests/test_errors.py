"""Errors carry where they happened and how the CLI should exit."""

from voiceguide.errors import (
    AudioInputError,
    DeviceError,
    EngineError,
    EnvironmentFault,
    PacingError,
    RoutineError,
    VoiceguideError,
)


def test_message_names_file_and_line():
    assert str(RoutineError("bad", path="r.yaml", line=3)) == "r.yaml:3: bad"
    assert str(RoutineError("bad", path="r.yaml")) == "r.yaml: bad"
    assert str(PacingError("bad")) == "bad"


def test_exit_codes_split_bad_input_from_environment_faults():
    for kind in (RoutineError, PacingError, AudioInputError):
        assert issubclass(kind, VoiceguideError) and kind.exit_code == 2
    for kind in (EnvironmentFault, EngineError, DeviceError):
        assert kind.exit_code == 1
