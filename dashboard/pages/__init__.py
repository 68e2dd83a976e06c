"""Pages: each module's `layout(**query)` builds the page fresh on every visit."""

MAX_RUN_ID = 2**53 - 1  # the largest whole number the browser's JSON keeps exactly (SQL's is 2**63 - 1)


def url_run_id(text) -> int | None:
    """The run id a URL names ('/run/12', '?fork=12'), or None for anything no run can have."""
    text = str(text).strip()
    return int(text) if text.isdigit() and int(text) <= MAX_RUN_ID else None
