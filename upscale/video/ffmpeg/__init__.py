"""Everything that speaks ffmpeg: which binary, every command line, running it.

``binary`` chooses the ffmpeg and starts every command line (``ffmpeg_args``);
``commands`` builds each invocation of the video engine (header, packets,
decode, encode, mux); ``process`` runs them and turns failures into ffmpeg's
own words.
"""
