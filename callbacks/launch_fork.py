"""The launch form in fork mode: /?fork=N&at=K (the Run page's "Fork from here") fills the form with run N's
settings; the knobs a fork may change (jobs.lineage.FORKABLE) stay editable, the model and data are shown
locked; Start queues the fork through the checks of `nnlab fork` (prepare_fork, in callbacks/launch.py).

The saved form (local storage) is a normal launch's: fork mode comes only from the URL and neither reads
nor writes it, so a reload keeps whichever mode the URL names, and leaving a fork never leaves its
settings behind in the normal form.
"""

from __future__ import annotations

from dashboard.components.launch_form import FIELD_NAMES, field_value
from engine.spec import family_of, parse_spec
from jobs.lineage import FORKABLE, Refused, other_engine

LOCKED = tuple(n for n in FIELD_NAMES if n not in FORKABLE)


def fork_target(db, run: str, at: str | None) -> dict:
    """{"run", "at", "spec", "engine"} for the query strings ?fork=N&at=K ("engine": the version that
    trained the run when it is not this one); Refused for a run that does not exist or an epoch that is
    not a number (prepare_fork judges the epoch at Start)."""
    from storage import reads

    from dashboard.pages import url_run_id

    run_id = url_run_id(run)
    parent = reads.get_run(db, run_id) if run_id is not None else None
    if parent is None:
        raise Refused(f"there is no run {run}")
    if not str(at).isdigit():
        raise Refused(f"no epoch to fork run #{parent.id} at: pick one on its curves")
    return {"run": parent.id, "at": int(at), "spec": parent.spec, "engine": other_engine(parent)}


def parent_form(spec: dict) -> tuple[str, dict]:
    """The form's family and field values for a parent's spec (the fork's name starts empty: prepare_fork
    names it after its parent)."""
    family = family_of(spec["model"])
    values = {}
    for name in FIELD_NAMES:
        value = spec.get(name, field_value(name, family))
        values[name] = ",".join(map(str, value)) if isinstance(value, list | tuple) else value
    return family, {**values, "name": ""}


def form_changes(spec_values: dict) -> dict:
    """What the fork form passes to prepare_fork: its knobs a fork may change (the locked ones only show
    the parent's)."""
    return {k: v for k, v in spec_values.items() if k in FORKABLE}


def changes_text(parent_spec: dict, changes: dict) -> str:
    """'Changed: lr 0.001 → 0.01; epochs 4 → 6', or a note that nothing is; SpecError for a refused value."""
    before = parse_spec(parent_spec).to_dict()
    after = parse_spec({**parent_spec, "name": "", **changes}).to_dict()
    diff = [f"{k} {before[k]} → {after[k]}" for k in FORKABLE if k != "name" and after[k] != before[k]]
    if not diff:
        return "Nothing changed yet: this fork would repeat the parent's later epochs exactly."
    return "Changed: " + "; ".join(diff)
