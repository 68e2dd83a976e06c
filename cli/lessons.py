"""`nnlab lesson list|run|show` and `nnlab ablate`: claims of the series checked across seeds."""

from __future__ import annotations

import sys

from engine.spec import SpecError

from . import arg_types as T
from .format import to_json

EXIT_USAGE = 2
MAX_SEEDS = 50


def _default_launch():
    """The launch function the CLI uses (lessons/launch.py): the job path's warm workers."""
    from lessons.launch import launch_on_workers

    return launch_on_workers


def _db_url(args, *, existing: bool = False) -> str:
    from storage.db import check_db_url, resolve_db_url

    return check_db_url(resolve_db_url(args.db), existing=existing)


class RunsBar:
    """One line on stderr: runs finished and epochs done across the plan's runs."""

    def __init__(self, stream=None, width: int = 30) -> None:
        self.stream, self.width = stream or sys.stderr, width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = None

    def update(self, done: int, total: int, epochs: int, planned: int) -> None:
        line = f"runs {done}/{total}  epochs {epochs}/{planned}"
        if line == self._last:
            return
        self._last = line
        filled = int(self.width * epochs / max(planned, 1))
        if self.tty:
            self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {line}")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._last:
            self.stream.write("\n")
            self.stream.flush()


def _limit_threads() -> None:
    from jobs.threads import default_max_running, limit_threads, threads_per_job

    limit_threads(threads_per_job(default_max_running()))


def _run_plan(plan, args, launch=None):
    """Launch (reusing what exists), wait with a progress bar, evaluate; returns (launched, outcomes)."""
    ((launched, outcomes),) = _run_plans([plan], args, launch)
    return launched, outcomes


def _run_plans(plans, args, launch=None):
    """`_run_plan` for several plans at once: every plan's runs are queued before the wait, so the workers
    go from one lesson's runs to the next without a pause; returns [(launched, outcomes)] in plan order."""
    from lessons.runner import evaluate_all, launch_plan, wait_for_runs

    from jobs.threads import default_max_running

    db_url = _db_url(args)
    _limit_threads()
    launched = [launch_plan(plan, db_url, launch or _default_launch()) for plan in plans]
    run_ids = [rid for one in launched for rid in one.run_ids]
    reused = sum(one.reused for one in launched)
    bar = None if args.json or args.quiet else RunsBar()
    if bar and reused:
        print(f"reusing {reused} of {len(run_ids)} runs", file=sys.stderr)
    try:
        wait_for_runs(db_url, run_ids, on_progress=bar.update if bar else None, workers=default_max_running())
    except KeyboardInterrupt:
        if bar:
            bar.close()
        names = ", ".join(plan.experiment for plan in plans)
        print(f"interrupted: the runs of {names} go on training on the workers (a later run of this command "
              f"reuses them); `nnlab cancel --experiment NAME` stops them", file=sys.stderr)
        raise SystemExit(130) from None
    if bar:
        bar.close()
    from storage.db import open_db
    from storage.events import backfill_events

    backfill_events(open_db(db_url), run_ids)
    metric = getattr(args, "parsed_metric", None)
    return [(one, evaluate_all(db_url, plan, one.run_ids, metric=metric)) for plan, one in zip(plans, launched)]


def cmd_lesson_list(args) -> int:
    """Every lesson: name, post and claim."""
    from lessons.definitions import LESSONS

    rows = [{"name": x.name, "post": x.post, "claim": x.claim} for x in LESSONS]
    if args.json:
        print(to_json(rows, indent=2))
    else:
        for r in rows:
            print(f"{r['name']:<22} {r['post']:<24} {r['claim']}")
    return 0


def _lesson(args):
    from lessons.definitions import get_lesson

    try:
        return get_lesson(args.name)
    except KeyError as e:
        print(f"nnlab lesson: error: {e.args[0]}", file=sys.stderr)
        return None


def cmd_lesson_run(args) -> int:
    """Run a lesson (its two arms x K seeds, reusing finished runs) and print the verdict; `all` runs every
    lesson, their runs queued together, and prints one verdict line per lesson (JSON: a list)."""
    from lessons.definitions import LESSONS
    from lessons.report import verdict_sentence
    from lessons.runner import lesson_plan

    lessons = list(LESSONS) if args.name == "all" else [_lesson(args)]
    if lessons[0] is None:
        return EXIT_USAGE
    plans = [lesson_plan(lesson, args.seeds) for lesson in lessons]
    results = [(_lesson_json(lesson, plan, launched, outcomes),
                [verdict_sentence(plan, o, o.comparison.metric) for o in outcomes])
               for lesson, plan, (launched, outcomes) in zip(lessons, plans, _run_plans(plans, args))]
    if args.json:
        objects = [r for r, _ in results]
        print(to_json(objects if args.name == "all" else objects[0]))
    elif args.name == "all":
        for r, sentences in results:
            print(f"{r['lesson']:<22} {r['verdict']:<13} {sentences[0]}")
    else:
        (r, sentences), = results
        print(f"{r['lesson']}: {r['claim']}")
        print("\n".join(("also: " if i else "") + line for i, line in enumerate(sentences)))
        print(f"experiment {r['experiment']}: runs {', '.join(map(str, r['run_ids']))} ({r['reused']} reused)")
    return 0


def _lesson_json(lesson, plan, launched, outcomes) -> dict:
    """What `lesson run --json` reports of one lesson."""
    from lessons.report import comparison_json

    comparisons = [comparison_json(o) for o in outcomes]
    return {"lesson": lesson.name, "claim": lesson.claim, "experiment": plan.experiment,
            "run_ids": launched.run_ids, "reused": launched.reused, "verdict": comparisons[0]["verdict"],
            "comparisons": comparisons}


def cmd_lesson_show(args) -> int:
    """A lesson's definition: claim, what varies, what is measured, cost, the base spec."""
    lesson = _lesson(args)
    if lesson is None:
        return EXIT_USAGE
    print(f"{lesson.name}  ({lesson.post})")
    print(f"claim:    {lesson.claim}")
    print(f"varies:   {lesson.varied}: " + " vs ".join(
        f"{a.label} ({', '.join(f'{k}={v}' for k, v in a.overrides.items())})" for a in lesson.arms))
    print(f"measures: {lesson.measures or lesson.metric} [{lesson.metric}]; claimed: {lesson.arms[1].label} "
          f"{lesson.expected} than {lesson.arms[0].label}")
    print(f"seeds:    {lesson.seeds} by default (0..{lesson.seeds - 1})")
    print(f"cost:     {lesson.cost}")
    print("base:     " + ", ".join(f"{k}={v}" for k, v in lesson.base.items()))
    if lesson.note:
        print(f"note:     {lesson.note}")
    return 0


def cmd_ablate(args) -> int:
    """Both arms (the run's configuration and the changed one) on K seeds, and the paired verdict."""
    from lessons.ablate import ablation_plan, parse_sets
    from lessons.metrics import MetricError, parse_metric
    from lessons.report import comparison_json, verdict_sentence
    from storage import reads
    from storage.db import open_db

    try:
        args.parsed_metric = parse_metric(args.metric)
    except MetricError as e:
        print(f"nnlab ablate: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    run = reads.get_run(open_db(_db_url(args, existing=True)), args.run)
    if run is None:
        print(f"nnlab ablate: error: run: no run {args.run} in this database", file=sys.stderr)
        return EXIT_USAGE
    try:
        plan = ablation_plan(run.id, run.spec, parse_sets(args.set), args.seeds, args.parsed_metric)
    except SpecError as e:
        print(f"nnlab ablate: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    launched, outcomes = _run_plan(plan, args)
    outcome = outcomes[0]
    if args.json:
        print(to_json({"run": run.id, "experiment": plan.experiment, "run_ids": launched.run_ids,
                       "reused": launched.reused, **comparison_json(outcome)}))
    else:
        print(verdict_sentence(plan, outcome))
        print(f"experiment {plan.experiment}: runs {', '.join(map(str, launched.run_ids))} "
              f"({launched.reused} reused)")
    return 0


def register(sub, with_db) -> None:
    """Add `lesson` (list, run, show) and `ablate` to the `nnlab` subcommands (`with_db` adds --db)."""
    lesson = sub.add_parser("lesson", help="the series' claims as experiments with a verdict across seeds")
    lsub = lesson.add_subparsers(dest="lesson_command", required=True)
    p = with_db(lsub.add_parser("list", help="list the lessons"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_lesson_list)
    p = with_db(lsub.add_parser("run", help="run a lesson (or all) and print its verdict"))
    p.add_argument("name", type=T.text(100), help="a lesson's name (nnlab lesson list), or all")
    p.add_argument("--seeds", type=T.int_range(1, MAX_SEEDS), default=None,
                   help=f"seeds per arm, 1 to {MAX_SEEDS} (default: the lesson's, 5)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(fn=cmd_lesson_run)
    p = with_db(lsub.add_parser("show", help="show a lesson's definition"))
    p.add_argument("name", type=T.text(100))
    p.set_defaults(fn=cmd_lesson_show)

    p = with_db(sub.add_parser("ablate", help="change knobs of a run and compare both arms across seeds"))
    p.add_argument("run", type=T.int_range(1, 2**63 - 1))
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", type=T.text(300),
                   help="a knob to change (repeatable)")
    p.add_argument("--seeds", type=T.int_range(1, MAX_SEEDS), default=5,
                   help=f"seeds per arm: the run's own and the next K-1, 1 to {MAX_SEEDS} (default 5)")
    p.add_argument("--metric", default="val_accuracy:best", type=T.text(200),
                   help="KEY:best, KEY:last, epochs_to:KEY>=T, epochs_to:KEY<=T, reached:KEY>=T, gap:accuracy, "
                        "gap:loss or grad_ratio (default val_accuracy:best)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(fn=cmd_ablate)
