"""How the sources become one signal: the bed's ducking envelope, the levels solved before the first
block, and the mixer that makes every sample play and export read."""
