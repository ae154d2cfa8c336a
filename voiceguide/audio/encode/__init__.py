"""From the mixer's blocks to files: MP3/WAV export through ffmpeg, the encoder's level calibration,
parallel MP3 pieces joined frame by frame, ID3 tags, chapters and their sidecars."""
