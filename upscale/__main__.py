"""``python -m upscale`` is the same as the ``upscale`` command."""

from .cli import main

if __name__ == "__main__":
    main()
