"""Everything that speaks ffmpeg: which binary, every command line, and running them."""
