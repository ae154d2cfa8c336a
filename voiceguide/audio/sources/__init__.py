"""What makes sound to be mixed: the spoken clips made ready for the mix, clips held in memory, the
music bed (the user's files or the built-in ambient loop) and the transition chime."""
