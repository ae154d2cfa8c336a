"""voiceguide: turn a written routine into a narrated, hands-free audio session."""

__version__ = "0.1.0"
