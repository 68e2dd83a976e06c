"""Lessons page: one card per claim of the series; Run launches it across seeds and shows the verdict."""

import dash_bootstrap_components as dbc
from dash import dcc, html

from .. import ids
from ..figures.common import empty_figure

PATH = "/lessons"
TITLE = "Lessons"


def _pid(kind: str, name: str) -> dict:
    return {"type": kind, "lesson": name}


def lesson_card(lesson, plan_data=None):
    """The card: claim, what varies, what is measured, the cost, seeds, Run, progress, verdict, plot, link."""
    arms = " vs ".join(a.label for a in lesson.arms)
    return dbc.Card(dbc.CardBody([
        html.Div(lesson.post, className="text-muted small text-uppercase"),
        html.H5(lesson.claim, className="card-title"),
        html.Div([html.B("Varies: "), f"{lesson.varied} ({arms})"], className="small"),
        html.Div([html.B("Measures: "), f"{lesson.measures or lesson.metric} ", html.Code(lesson.metric)],
                 className="small"),
        html.Div([html.B("Cost: "), f"{lesson.cost} at {lesson.seeds} seeds"], className="small"),
        html.Div(lesson.note, className="small fst-italic mt-1") if lesson.note else None,
        dbc.InputGroup([
            dbc.InputGroupText("seeds"),
            dbc.Input(id=_pid(ids.LESSON_SEEDS, lesson.name), type="number", min=1, max=50, step=1,
                      value=lesson.seeds, style={"maxWidth": "90px"}),
            dbc.Button("Run", id=_pid(ids.LESSON_RUN, lesson.name), color="primary"),
        ], size="sm", className="my-2", style={"maxWidth": "260px"}),
        dcc.Store(id=_pid(ids.LESSON_PLAN, lesson.name), data=plan_data),
        dcc.Store(id=_pid(ids.LESSON_SEEN, lesson.name)),
        html.Div(id=_pid(ids.LESSON_PROGRESS, lesson.name), className="small"),
        html.Div(id=_pid(ids.LESSON_VERDICT, lesson.name), className="my-1"),
        dcc.Graph(id=_pid(ids.LESSON_FIGURE, lesson.name), figure=empty_figure("Not run yet", height=220),
                  config={"displaylogo": False}),
        html.A("Compare these runs", id=_pid(ids.LESSON_COMPARE, lesson.name), href="#",
               style={"display": "none"}, className="small"),
    ]), className="mb-3 lesson-card", id=f"lesson-card-{lesson.name}")


def layout(**_query):
    from flask import current_app

    from callbacks.lessons import stored_plan_data
    from lessons.definitions import LESSONS

    db_url = current_app.config["NNLAB"].db_url
    cards = [dbc.Col(lesson_card(x, stored_plan_data(db_url, x)), lg=6) for x in LESSONS]
    return dbc.Container([
        html.H3("Lessons"),
        html.P("Each claim of the series as an experiment: both settings on the same seeds, and a verdict that "
               "says whether the difference is bigger than the seed-to-seed noise (paired differences, 95% "
               "bootstrap interval). Finished runs with the same settings are reused, not retrained.",
               className="text-muted"),
        dbc.Button("Run all", id=ids.LESSONS_RUN_ALL, color="primary", outline=True, size="sm", className="mb-3",
                   title="every lesson at its card's seeds, all runs queued at once (about 40 s on 2 cores)"),
        dbc.Row(cards),
        dcc.Interval(id=ids.LESSONS_INTERVAL, interval=1500),
    ], fluid=True)
