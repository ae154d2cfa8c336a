"""Workarounds that reach into a dependency's private parts, one small module per dependency.

Each module names exactly what it relies on upstream; tests/test_compat.py checks those names
and their behaviour against the installed versions, so an upgrade that moves them fails there,
in one place, rather than as a slow clip or a device error in the field.
"""
