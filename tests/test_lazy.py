"""voiceguide.lazy: a package's names loaded when first read, once, and nothing before."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from voiceguide.lazy import loader


def test_a_name_is_loaded_from_its_module_when_first_read_and_then_kept(monkeypatch):
    package = types.ModuleType("lazypkg")
    monkeypatch.setitem(sys.modules, "lazypkg", package)
    loads = []
    getattr_ = loader("lazypkg", {"dumps": "json", "nothing": "json"})
    real = __import__("importlib").import_module
    monkeypatch.setattr("importlib.import_module", lambda name: loads.append(name) or real(name))

    import json

    assert getattr_("dumps") is json.dumps
    assert package.dumps is json.dumps  # kept in the package: the next read never reaches the loader
    assert loads == ["json"]
    with pytest.raises(AttributeError, match="module 'lazypkg' has no attribute 'missing'"):
        getattr_("missing")
    with pytest.raises(AttributeError, match="nothing"):  # listed, but its module has no such name
        getattr_("nothing")


def test_the_packages_load_nothing_heavy_until_a_name_is_read():
    code = (
        "import sys, voiceguide, voiceguide.audio, voiceguide.player\n"
        "before = {m for m in ('numpy', 'voiceguide.session', 'voiceguide.audio.mix.mixer') if m in sys.modules}\n"
        "voiceguide.audio.MixSettings, voiceguide.Session\n"
        "print(sorted(before), 'voiceguide.session' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[]", "True"]


def test_import_voiceguide_loads_nothing_but_itself():
    """The console script imports it before every command: not even typing (20 ms) comes with it."""
    code = (
        "import sys, voiceguide\n"
        "print(sorted(m for m in ('typing', 'numpy', 'voiceguide.session') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
