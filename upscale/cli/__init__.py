"""The ``upscale`` command: a thin typer layer over the library (``upscale INPUT`` runs
``run``), printing a user's error as one line; ``--debug`` anywhere shows tracebacks."""

from __future__ import annotations

import contextlib
import sys
import traceback

import typer
from typer.core import TyperGroup

from ..errors import Interrupted, UpscaleError
from .blend import blend_command
from .console import notes_shown, print_error
from .eval import eval_command
from .models import models_command
from .run import run_command

EXIT_USER_ERROR = 2
DEBUG_HELP = ("--debug, anywhere on the line: show the traceback of an error instead of its "
              "one line (the exit code stays the same).")
EXIT_INTERRUPTED = 130

# click's ClickException as this typer raises it (click's own before typer 0.29, typer's
# bundled copy after), found through typer's public names.
CLICK_EXCEPTION = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class DefaultToRun(TyperGroup):
    """A group whose first word, when not a subcommand, is an input for ``run``."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=DefaultToRun, add_completion=False, pretty_exceptions_enable=False,
    rich_markup_mode=None, epilog=DEBUG_HELP, no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Make images and videos larger and sharper with ESRGAN-family networks.\n\n"
    "upscale photo.jpg -s 4 writes photo_x4.png; a folder in gives a folder out; "
    "a video in gives a video out.")
app.command("run", help="Upscale an image, a folder or a video (the default command).",
            epilog=DEBUG_HELP)(run_command)
app.command("models", help="List the known models and where they come from.")(models_command)
app.command("blend", help="Blend a PSNR and a GAN network (--alpha, saved).",
            epilog=DEBUG_HELP)(blend_command)
app.command("eval", help="Measure PSNR/SSIM on HR images, as SR papers do.",
            epilog=DEBUG_HELP)(eval_command)


def invoke(args: list[str]) -> object:
    """Parse and run one command line, letting every exception reach :func:`main` (typer's
    and click's own ``main`` would turn Ctrl-C into an exit code, losing its message)."""
    command = typer.main.get_command(app)
    with command.make_context("upscale", args) as ctx:
        return command.invoke(ctx)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app and turn known failures into one line."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    quiet = "-q" in args or "--quiet" in args
    if not args:  # the help, as a usage error (click < 8.2 would exit 0 here, later 2)
        with contextlib.suppress(typer.Exit):
            invoke(["--help"])
        sys.exit(EXIT_USER_ERROR)
    try:
        with notes_shown(quiet):
            result = invoke(args)
    except UpscaleError as exc:
        if debug:  # the traceback instead of the one line; still a user's error
            traceback.print_exc()
        else:
            print_error(str(exc))
        sys.exit(EXIT_USER_ERROR)
    except CLICK_EXCEPTION as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort) as exc:
        kept = isinstance(exc, Interrupted) and str(exc)  # what the stopped command kept
        print_error(kept or "interrupted: nothing was left under a final name; run the same "
                    "command to start again")
        sys.exit(EXIT_INTERRUPTED)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug: one line, the traceback only on request
        if debug:
            raise
        print_error(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)")
        sys.exit(1)
    if isinstance(result, int) and result:
        sys.exit(result)
