"""Random spec values are accepted or refused with a SpecError, never a crash; accepted specs obey the limits."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import spec as S

FIELDS = [f.name for f in dataclasses.fields(S.ExperimentSpec)]
CHOICES = {"model": S.MODELS, "dataset": S.DATASETS, "optimizer": S.OPTIMIZERS, "schedule": S.SCHEDULES,
           "activation": S.ACTIVATIONS, "init": S.INITS, "loss": S.LOSSES, "pool": S.POOLS, "norm": S.NORMS,
           "attention": S.ATTENTIONS, "positional": S.POSITIONALS}

values = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=300), st.text(alphabet="0123456789,.-e x", max_size=30),
    st.lists(st.one_of(st.integers(-5, 10**6), st.text(max_size=120)), max_size=60),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "", " ", "\x00", "\udcff", "65536,65536", "0", "-1"]),
)
# Half of the keys are known settings with plausible values, so validation gets past the first field.
plausible = st.one_of(*[st.tuples(st.just(k), st.sampled_from(v)) for k, v in CHOICES.items()],
                      st.tuples(st.sampled_from(FIELDS), values))
specs = st.lists(st.one_of(plausible, st.tuples(st.text(max_size=12), values)), max_size=8).map(dict)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs)
def test_random_spec_values_are_accepted_or_refused_never_crash(values):
    try:
        spec = S.parse_spec(values)
    except S.SpecError as e:
        assert e.field and e.message and len(str(e)) < 1000
        return
    assert len(spec.name) <= S.MAX_NAME_CHARS and len(spec.experiment) <= S.MAX_NAME_CHARS
    assert len(spec.tags) <= S.MAX_TAGS and all(len(t) <= S.MAX_TAG_CHARS for t in spec.tags)
    for text in (spec.name, spec.experiment, *spec.tags):
        text.encode("utf-8")
    assert S.estimate_memory_bytes(spec) <= (S.physical_memory_bytes() or float("inf"))
    assert S.parse_spec(spec.to_dict()) == spec  # what is stored parses back to the same run
