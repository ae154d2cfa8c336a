"""Choosing an output, naming devices, and samples the way the export writes them."""

from __future__ import annotations

import numpy as np
import pytest

from voiceguide.errors import ConfigError, DeviceChoiceError, DeviceError
from voiceguide.player import opening, output


def test_samples_are_converted_exactly_as_the_wav_export_writes_them():
    from voiceguide.audio.encode.export import _pcm16

    rng = np.random.default_rng(3)
    block = np.concatenate([rng.uniform(-1.2, 1.2, (5000, 2)), [[1.0, -1.0], [0.5 / 32767, -0.5 / 32767]]])
    block = block.astype(np.float32)
    assert output.to_pcm16(block).tobytes() == _pcm16(block, 2)
    assert output.to_pcm16(np.array([[2.0, -2.0]], np.float32)).tolist() == [[32767, -32768]]


def test_an_unknown_output_is_a_usage_error():
    with pytest.raises(ConfigError) as e:
        opening.open_output("bluetooth", 44100, 2)
    assert "auto, stream, simpleaudio" in str(e.value) and e.value.exit_code == 2


def test_the_null_backend_is_never_a_choice():
    from voiceguide.player import miniaudio_device as ma

    backends = output.preferred_backends()
    assert backends and ma.NULL not in backends
    assert backends[0] == ma.PULSEAUDIO and ma.backend_name(backends[0]) == "PulseAudio"


def test_alsa_chatter_is_silenced_once():
    output.quiet_alsa()
    first = output._alsa_handler
    output.quiet_alsa()
    assert output._alsa_handler is first


def test_devices_are_found_by_name_by_system_name_or_by_a_unique_part(pulse_env):
    devices = output.playback_devices()
    assert [(d["name"], d["ident"]) for d in devices] == [("Null Output", "vg")]
    assert output.list_devices() == ["Null Output"]
    for name in ("Null Output", "vg", "null"):
        assert output.find_device(name) is not None
    with pytest.raises(DeviceChoiceError) as e:
        output.find_device("Kitchen")
    assert str(e.value) == "--device 'Kitchen' is not an audio device here. Available: 'Null Output' or 'vg'"
    assert e.value.exit_code == 2


def test_with_no_sound_server_a_device_name_is_still_one_clear_line(tmp_path, monkeypatch):
    conf = tmp_path / "asound.conf"
    conf.write_text("pcm.!default { type pulse }\nctl.!default { type pulse }\n")
    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path}/none")
    monkeypatch.setenv("ALSA_CONFIG_PATH", f"/usr/share/alsa/alsa.conf:{conf}")
    # miniaudio falls back to ALSA, whose list holds only its plugins here ("Discard all samples"...)
    names = output.list_devices()
    assert "Null Output" not in names
    with pytest.raises((DeviceError, DeviceChoiceError)) as e:
        output.find_device("Kitchen speakers")
    assert "\n" not in str(e.value)
    assert ("voiceguide export" in str(e.value)) if not names else ("Available: " in str(e.value))
