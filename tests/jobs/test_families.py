"""Every family the launch form offers trains end to end from its defaults (one short epoch)."""

from __future__ import annotations

import pytest

from dashboard.components.launch_form import FAMILY_DATASETS, FAMILY_DEFAULTS, FAMILY_MODELS
from engine.spec import parse_spec
from jobs.run import run_experiment
from storage import reads
from storage.db import open_db

SMALL = {"epochs": 1, "n_samples": 200, "snapshots": True}


@pytest.mark.parametrize("family", sorted(FAMILY_DEFAULTS))
def test_the_family_defaults_train_and_are_recorded(family, db_url):
    spec = {**FAMILY_DEFAULTS[family], **SMALL}
    result = run_experiment(spec, db_url)
    assert result.status == "completed", result.error
    run = reads.get_run(open_db(db_url), result.run_id)
    assert run.epochs_done == 1 and run.num_params > 0
    hist = reads.get_metric_history(open_db(db_url), result.run_id)
    assert {"train_loss", "val_loss", "train_accuracy", "val_accuracy"} <= set(hist)


@pytest.mark.parametrize("family", sorted(FAMILY_DEFAULTS))
def test_every_dataset_and_model_the_form_offers_is_a_valid_spec(family):
    for dataset in FAMILY_DATASETS[family]:
        for model in FAMILY_MODELS.get(family, (FAMILY_DEFAULTS[family]["model"],)):
            if dataset in ("mnist",):  # needs files the user provides; validated the same way
                continue
            spec = {**FAMILY_DEFAULTS[family], "dataset": dataset, "model": model}
            if model == "seq2seq" and dataset not in ("reverse", "copy", "sort"):
                continue  # the form's message explains: seq2seq maps sequences to sequences
            parse_spec(spec)
