"""The launch form offers every spec knob, and shows a knob only where the current settings use it."""

from __future__ import annotations

import dataclasses
import json

import pytest

from dashboard.components.launch_form import (FAMILY_DEFAULTS, FIELDS, SHOWN_WHEN, SHOWN_WHEN_INPUTS, field_style,
                                              field_value)
from engine.spec import ExperimentSpec, SpecError, parse_spec, used_settings

# Set elsewhere on the page (experiment name, sweep) or kept at their defaults on purpose.
NOT_ON_THE_FORM = {"val_fraction", "experiment", "tags", "snapshots", "snapshot_budget_mb", "checkpoint_budget_mb"}
FIELD = {f.name: f for f in FIELDS}


def test_every_spec_field_has_a_launch_field_unless_listed():
    names = {f.name for f in dataclasses.fields(ExperimentSpec)}
    assert names - NOT_ON_THE_FORM == set(FIELD)


def _shown(name: str, family: str, **settings) -> bool:
    values = {n: field_value(n, family) for n in SHOWN_WHEN_INPUTS} | settings
    return field_style(FIELD[name], family, values) == {}


@pytest.mark.parametrize("family", ["mlp", "cnn", "resnet", "recurrent", "attention"])
def test_step_size_and_gamma_show_only_for_the_step_schedule_and_warmup_epochs_only_for_warmup(family):
    for schedule in ("constant", "step", "cosine", "warmup"):
        assert _shown("step_size", family, schedule=schedule) == (schedule == "step")
        assert _shown("gamma", family, schedule=schedule) == (schedule == "step")
        assert _shown("warmup_epochs", family, schedule=schedule) == (schedule == "warmup")
    assert not _shown("gamma", family)  # the default schedule is constant
    assert _shown("schedule", family)


def test_data_knobs_show_only_for_the_data_sets_that_read_them():
    """Noise for the 2-D sets, the sample count for generated data, the MNIST folder for the IDX files."""
    for family, dataset, shown in [("mlp", "digits", set()), ("mlp", "moons", {"noise", "n_samples"}),
                                   ("mlp", "fashion-mnist", {"data_dir"}), ("cnn", "mnist", {"data_dir"}),
                                   ("recurrent", "memory", {"n_samples"}), ("perceptron", "xor", set())]:
        for name in ("noise", "n_samples", "data_dir"):
            assert _shown(name, family, dataset=dataset) == (name in shown), (family, dataset, name)


def test_the_perceptron_has_no_schedule_knobs():
    for name in ("schedule", "step_size", "gamma", "warmup_epochs"):
        assert not _shown(name, "perceptron", schedule="step")


def test_pool_size_is_a_cnn_knob_and_depth_says_it_is_even():
    assert _shown("pool_size", "cnn") and not _shown("pool_size", "mlp")
    assert "even" in FIELD["depth"].label and "even" in FIELD["depth"].help


def test_every_settings_key_shown_when_reads_is_an_input_of_the_visibility_callback(tmp_path):
    """SHOWN_WHEN rules are re-evaluated only for the settings the callback listens to."""
    from dashboard.app import create_app

    seen = {}
    for name, rule in SHOWN_WHEN.items():
        class Spy(dict):
            def get(self, key, default=None):
                seen.setdefault(name, set()).add(key)
                return super().get(key, default)
        rule(Spy())
    assert set().union(*seen.values()) <= set(SHOWN_WHEN_INPUTS)
    app = create_app(f"sqlite:///{tmp_path / 'r.db'}", cache_dir=str(tmp_path / "cache"))
    (callback,) = [c for k, c in app.callback_map.items() if "launch-wrap" in k and ".style" in k]
    watched = {json.loads(i["id"])["name"] for i in callback["inputs"] if i["id"].startswith("{")}
    assert watched == set(SHOWN_WHEN_INPUTS)


@pytest.mark.parametrize("family", sorted(FAMILY_DEFAULTS))
def test_the_form_values_with_a_step_or_warmup_schedule_are_valid_specs(family):
    if family == "perceptron":
        return
    for schedule in ("step", "warmup"):
        values = {f.name: field_value(f.name, family) for f in FIELDS if family in f.families}
        values.update(FAMILY_DEFAULTS[family], schedule=schedule)
        spec = parse_spec(values)
        assert (spec.step_size, spec.gamma, spec.warmup_epochs) == (10, 0.5, 5)


def test_a_value_in_a_field_the_settings_hide_neither_blocks_nor_changes_the_run():
    from callbacks.launch import form_values

    names = [f.name for f in FIELDS]
    values = {n: field_value(n, "mlp") for n in names}
    values.update(schedule="constant", gamma=0, optimizer="adam", momentum=7)  # both hidden and out of range
    spec_values = form_values("mlp", names, [values[n] for n in names])
    assert "gamma" not in spec_values and "momentum" not in spec_values
    spec = parse_spec(spec_values)
    assert (spec.gamma, spec.momentum) == (0.5, 0.9)
    values.update(schedule="step")  # shown again: its value counts, and a bad one is refused
    with pytest.raises(SpecError, match="gamma"):
        parse_spec(form_values("mlp", names, [values[n] for n in names]))


def test_seq2seq_on_the_launch_form_defaults_to_an_attention_it_can_show():
    assert field_value("attention", "attention") == "dot"
    spec = parse_spec({**{n: field_value(n, "attention") for n in ("dataset", "seq_len", "vocab")},
                       "model": "seq2seq", "attention": field_value("attention", "attention")})
    assert spec.params()["attention"] == "dot" and "heads" not in spec.params()


def test_used_settings_keeps_what_a_run_uses_and_drops_other_families_knobs():
    mlp = used_settings(ExperimentSpec(model="mlp", optimizer="adam").to_dict())
    assert "hidden" in mlp and "n_samples" in mlp
    assert not {"heads", "d_model", "channels", "batchnorm", "momentum", "step_size"} & set(mlp)
    transformer = used_settings(ExperimentSpec(model="transformer", dataset="reverse").to_dict())
    assert "heads" in transformer and "attention" not in transformer
    assert used_settings({"optimizer": "adam", "lr": 0.1}) == {"optimizer": "adam", "lr": 0.1}  # no model: kept
