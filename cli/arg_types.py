"""argparse `type=` functions: each refuses a bad option value with one line naming what is allowed."""

from __future__ import annotations

import argparse
import math
import os
import unicodedata

ArgumentTypeError = argparse.ArgumentTypeError


def db_url(value: str) -> str:
    """--db / --query-db: a SQLite file or a PostgreSQL URL (not empty, not in memory, not a folder)."""
    from storage.db import BadDatabaseURL, check_db_url

    try:
        return check_db_url(value)
    except BadDatabaseURL as e:
        raise ArgumentTypeError(str(e)) from None


def int_range(lo: int, hi: int):
    """A type accepting whole numbers from lo to hi."""

    def whole_number(value: str) -> int:
        try:
            n = int(value.strip())
        except ValueError:
            raise ArgumentTypeError(f"{value!r} is not a whole number; give one from {lo} to {hi}") from None
        if not lo <= n <= hi:
            raise ArgumentTypeError(f"{n} is out of range; give a whole number from {lo} to {hi}")
        return n

    return whole_number


def seconds(hi: float):
    """A type accepting a finite number of seconds > 0 and <= hi."""

    def positive_seconds(value: str) -> float:
        try:
            x = float(value)
        except ValueError:
            raise ArgumentTypeError(f"{value!r} is not a number of seconds") from None
        if not (math.isfinite(x) and 0 < x <= hi):
            raise ArgumentTypeError(f"{value!r} is out of range; give seconds > 0 and <= {hi:g}")
        return x

    return positive_seconds


def text(limit: int):
    """A type accepting printable UTF-8 text of at most `limit` characters."""

    def printable_text(value: str) -> str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ArgumentTypeError(f"{value!r} is not valid UTF-8 text") from None
        if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
            raise ArgumentTypeError(f"{value!r} contains control characters; use printable text")
        if len(value) > limit:
            raise ArgumentTypeError(f"is {len(value)} characters long; at most {limit} are allowed")
        return value

    return printable_text


def sort_key(value: str) -> str:
    """runs --sort: a runs column, 'experiment', 'metric:<key>:best|last' or 'param:<name>'."""
    from storage.reads import SORTABLE_COLUMNS

    value = text(200)(value)
    if value in SORTABLE_COLUMNS or (value.startswith("param:") and len(value) > len("param:")):
        return value
    parts = value.split(":")
    if len(parts) == 3 and parts[0] == "metric" and parts[1] and parts[2] in ("best", "last"):
        return value
    raise ArgumentTypeError(f"cannot sort by {value!r}; use one of {', '.join(sorted(SORTABLE_COLUMNS))}, "
                            f"metric:<key>:best|last or param:<name>")


def output_file(value: str) -> str:
    """export --out: a file whose folder exists and that is not itself a folder."""
    value = text(4096)(value)
    folder = os.path.dirname(os.path.abspath(value))
    if not value.strip():
        raise ArgumentTypeError("is empty; give a file name")
    if os.path.isdir(value):
        raise ArgumentTypeError(f"{value!r} is a folder; give a file name")
    if not os.path.isdir(folder):
        raise ArgumentTypeError(f"cannot write {value!r}: the folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK) or (os.path.exists(value) and not os.access(value, os.W_OK)):
        raise ArgumentTypeError(f"cannot write {value!r}: permission denied")
    return value


def output_folder(value: str) -> str:
    """export --snapshots: a folder that exists or can be made (its parent exists), not a file."""
    value = text(4096)(value)
    if not value.strip():
        raise ArgumentTypeError("is empty; give a folder")
    if os.path.exists(value) and not os.path.isdir(value):
        raise ArgumentTypeError(f"{value!r} is a file; give a folder")
    parent = os.path.dirname(os.path.abspath(value))
    if not os.path.isdir(value) and not os.path.isdir(parent):
        raise ArgumentTypeError(f"cannot make {value!r}: the folder {parent!r} does not exist")
    return value
