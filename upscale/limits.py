"""Limits that protect the user's machine, in a module light enough for the CLI to import.

An image's decoded size is known from its header; above ``DEFAULT_MAX_PIXELS`` input
pixels (200 MP, a ×4 result of 3.2 gigapixels) it is refused before any large allocation,
and ``--max-pixels`` raises the limit for a machine that has the memory.
"""

DEFAULT_MAX_PIXELS = 200_000_000
