"""Time of the read-only query check on pathological inputs (quadratic before issue 19), and of the size refusal."""

from __future__ import annotations

import sys
import time
from pathlib import Path

if __name__ == "__main__" and Path(sys.path[0]).name == "bench":
    sys.path[0] = str(Path(sys.path[0]).parent)  # run as a script: the repo first, not bench/storage.py

from storage import readonly  # noqa: E402

PATTERNS = ["/* ", "'", "E'\\'", "$a$", '"', "`", "[", "-- x\n", "(", "x "]


def main() -> None:
    print(f"limit: {readonly.MAX_QUERY_CHARS} characters")
    for pattern in PATTERNS:
        for size in (readonly.MAX_QUERY_CHARS, 200_000):
            sql = "SELECT " + pattern * ((size - 8) // len(pattern)) + "'"
            start = time.perf_counter()
            try:
                readonly.check_query(sql)
                outcome = "accepted"
            except readonly.QueryRefused as e:
                outcome = str(e)[:60]
            print(f"{pattern!r:10} {len(sql):>7} chars  {1000 * (time.perf_counter() - start):7.2f} ms  {outcome}")


if __name__ == "__main__":
    main()
