"""One line, exit 2, for every bad input; a traceback only with NNLAB_DEBUG=1.

`OneLineParser` makes argparse refuse with one line instead of its usage block, and `one_line_errors`
wraps `main`: a refused spec, an unusable database or an unwritable file becomes
`nnlab <command>: error: <what and what is allowed>` and exit 2; anything unexpected one line and exit 1.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import traceback

EXIT_USAGE = 2
EXIT_FAILED = 1


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block), exit 2."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def debug() -> bool:
    """NNLAB_DEBUG=1: show tracebacks."""
    return os.environ.get("NNLAB_DEBUG", "") not in ("", "0")


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def _db_words(argv: list[str]) -> str:
    """'the database <masked URL>' for the --db the command was given (or $NNLAB_DB, or the default)."""
    from storage.db import mask_url, resolve_db_url

    value = None
    for i, arg in enumerate(argv):
        if arg == "--db" and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--db="):
            value = arg[len("--db="):]
    try:
        return f"the database {mask_url(resolve_db_url(value))}"
    except Exception:
        return "the database"


def describe(exc: BaseException, argv: list[str]) -> tuple[int, str]:
    """(exit code, one line) for an exception that reached main."""
    from engine.spec import SpecError
    from storage.db import BadDatabaseURL, SchemaTooNew, mask_url

    if isinstance(exc, SpecError):
        return EXIT_USAGE, str(exc)
    if isinstance(exc, BadDatabaseURL):
        return EXIT_USAGE, f"--db: {exc}"
    if isinstance(exc, SchemaTooNew):
        return EXIT_USAGE, f"--db: {exc}"
    try:
        from sqlalchemy.exc import SQLAlchemyError
    except ImportError:  # pragma: no cover - SQLAlchemy is a requirement
        SQLAlchemyError = ()  # noqa: N806
    if isinstance(exc, SQLAlchemyError):
        return EXIT_USAGE, (f"--db: cannot use {_db_words(argv)}: {mask_url(_first_line(exc))} "
                            f"(a SQLite file NN Lab can read and write, or a reachable PostgreSQL server)")
    if isinstance(exc, UnicodeError):
        return EXIT_USAGE, f"text that is not valid UTF-8: {_first_line(exc)}"
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        return EXIT_USAGE, f"{where}{exc.strerror or _first_line(exc)}"
    if isinstance(exc, MemoryError):
        return EXIT_FAILED, f"out of memory: {_first_line(exc)}"
    return EXIT_FAILED, f"{type(exc).__name__}: {mask_url(_first_line(exc))} (NNLAB_DEBUG=1 shows the traceback)"


def one_line_errors(main):
    """Wrap `main(argv) -> int` so no exception leaves it as a traceback (unless NNLAB_DEBUG=1)."""

    @functools.wraps(main)
    def wrapper(argv: list[str] | None = None) -> int:
        args = list(sys.argv[1:] if argv is None else argv)
        try:
            return main(argv)
        except KeyboardInterrupt:
            print("nnlab: interrupted", file=sys.stderr)
            return 130
        except Exception as exc:
            if debug():
                traceback.print_exc()
            command = next((a for a in args if not a.startswith("-")), "")
            code, line = describe(exc, args)
            print(f"nnlab{' ' + command if command else ''}: error: {line}", file=sys.stderr)
            return code

    return wrapper
