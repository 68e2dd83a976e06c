"""Checkpoint bytes: an exact round trip, the same bytes for the same state, and a CheckpointError
naming the fault for anything that cannot be read in full."""

import io
import json
import zipfile

import numpy as np
import pytest

from engine.checkpoint import VERSION, CheckpointError, decode_checkpoint, encode_checkpoint
from engine.experiment import prepare, run_training
from engine.spec import parse_spec
from engine.state import TrainingState


@pytest.fixture(scope="module")
def state():
    spec = parse_spec({"model": "cnn", "dataset": "digits", "subset": 40, "channels": "3", "hidden": "8",
                       "dropout": 0.3, "batchnorm": True, "epochs": 2, "early_stopping": 3, "seed": 1})
    exp = prepare(spec)
    states = []

    class Take:
        def on_train_start(self, context): pass
        def on_epoch_end(self, record): states.append(exp.trainer.training_state())
        def on_train_end(self, summary): pass

    run_training(exp, [Take()])
    return states[-1]


SMALL = TrainingState(3, {"a": np.arange(4.0), "b": np.ones((2, 3), np.float32), "c": np.arange(3.0)}, {"x": 1})


def _blob(header_changes=None, drop=(), put=None):
    """SMALL's checkpoint re-zipped with header fields changed, entries dropped or put in."""
    entries = {}
    with zipfile.ZipFile(io.BytesIO(encode_checkpoint(SMALL))) as zf:
        for name in zf.namelist():
            entries[name] = zf.read(name)
    header = {**json.loads(entries["checkpoint.json"]), **(header_changes or {})}
    entries["checkpoint.json"] = json.dumps(header).encode()  # stays the first entry
    entries = {k: v for k, v in {**entries, **(put or {})}.items() if k not in drop}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _npy(a, **kw):
    buf = io.BytesIO()
    np.save(buf, a, **kw)
    return buf.getvalue()


def test_a_state_round_trips_exactly(state):
    back = decode_checkpoint(encode_checkpoint(state))
    assert back.epoch == state.epoch == 2 and back.meta == json.loads(json.dumps(state.meta))
    assert list(back.arrays) == list(state.arrays)
    for key, a in state.arrays.items():
        assert back.arrays[key].dtype == a.dtype and np.array_equal(back.arrays[key], a), key
    prefixes = {k.split("/")[0] + "/" + k.split("/")[1] for k in state.arrays}
    assert {"model/param", "model/buffer", "callback/EarlyStopping"} <= prefixes
    assert any(k.startswith("optimizer/") and k.endswith("/m_sum") for k in state.arrays)


def test_the_same_state_encodes_to_the_same_bytes_and_the_size_is_the_arrays_plus_headers(state):
    blob = encode_checkpoint(state)
    assert encode_checkpoint(decode_checkpoint(blob)) == blob
    overhead = len(blob) - state.nbytes
    assert 0 < overhead < 100 * len(state.arrays) + len(json.dumps(state.meta)) + 1000


def test_nan_and_128_bit_integers_in_the_metadata_survive():
    state = TrainingState(1, {"w": np.ones((2, 2), np.float32)}, {"loss": float("nan"), "big": 2**127 + 1})
    back = decode_checkpoint(encode_checkpoint(state))
    assert np.isnan(back.meta["loss"]) and back.meta["big"] == 2**127 + 1


def test_a_truncated_checkpoint_is_refused(state):
    blob = encode_checkpoint(state)
    for cut in (len(blob) - 1, len(blob) // 2, 10):
        with pytest.raises(CheckpointError, match="truncated"):
            decode_checkpoint(blob[:cut])


def test_bytes_that_are_not_a_checkpoint_are_refused():
    with pytest.raises(CheckpointError, match="not a ZIP"):
        decode_checkpoint(b"hello, world")
    with pytest.raises(CheckpointError, match="no checkpoint.json"):
        decode_checkpoint(_blob(drop=("checkpoint.json",)))
    with pytest.raises(CheckpointError, match="format"):
        decode_checkpoint(_blob({"format": "something-else"}))


@pytest.mark.parametrize("version", [VERSION + 1, 0, "1", None])
def test_another_format_version_is_refused_naming_it(version):
    with pytest.raises(CheckpointError, match=f"version {version!r}"):
        decode_checkpoint(_blob({"version": version}))


def test_a_flipped_byte_in_the_array_data_fails_its_crc(state):
    blob = bytearray(encode_checkpoint(state))
    with zipfile.ZipFile(io.BytesIO(bytes(blob))) as zf:
        info = zf.getinfo("arrays/float32.npy")
    data_start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    blob[data_start + info.file_size - 1] ^= 0xFF  # the last array's last byte
    with pytest.raises(CheckpointError, match="arrays/float32.npy.*CRC"):
        decode_checkpoint(bytes(blob))


def test_a_round_trip_of_arrays_of_several_dtypes_keeps_each_in_place():
    back = decode_checkpoint(encode_checkpoint(SMALL))
    assert list(back.arrays) == ["a", "b", "c"]
    for key, a in SMALL.arrays.items():
        assert back.arrays[key].dtype == a.dtype and np.array_equal(back.arrays[key], a)


def test_missing_unlisted_and_unreadable_entries_are_refused():
    with pytest.raises(CheckpointError, match=r"missing \['arrays/float64.npy'\]"):
        decode_checkpoint(_blob(drop=("arrays/float64.npy",)))
    with pytest.raises(CheckpointError, match=r"unexpected \['arrays/int8.npy'\]"):
        decode_checkpoint(_blob(put={"arrays/int8.npy": _npy(np.zeros(1, np.int8))}))
    with pytest.raises(CheckpointError, match="arrays/float64.npy is not a readable .npy"):
        decode_checkpoint(_blob(put={"arrays/float64.npy": b"\x93NUMPY garbage"}))
    with pytest.raises(CheckpointError, match=r"arrays/float64.npy holds float64 \(6,\), its header lists 7"):
        decode_checkpoint(_blob(put={"arrays/float64.npy": _npy(np.zeros(6))}))
    with pytest.raises(CheckpointError, match=r"arrays/float32.npy holds float64"):
        decode_checkpoint(_blob(put={"arrays/float32.npy": _npy(np.zeros(6))}))
    with pytest.raises(CheckpointError, match="not JSON"):
        decode_checkpoint(_blob(put={"checkpoint.json": b"{not json"}))
    with pytest.raises(CheckpointError, match="no int 'epoch'"):
        decode_checkpoint(_blob({"epoch": "3"}))


@pytest.mark.parametrize("entry", [{"name": "a", "dtype": "float64"}, {"name": "a", "dtype": "object", "shape": [4]},
                                   {"name": "a", "dtype": "<f8", "shape": [4]}, {"name": "a", "dtype": "float64",
                                   "shape": [-4]}, "a"])
def test_an_array_index_entry_that_is_not_name_dtype_and_shape_is_refused(entry):
    index = [entry, {"name": "b", "dtype": "float32", "shape": [2, 3]}, {"name": "c", "dtype": "float64", "shape": [3]}]
    with pytest.raises(CheckpointError, match="array entry 0 of checkpoint.json"):
        decode_checkpoint(_blob({"arrays": index}))


def test_an_object_array_is_refused_on_both_sides():
    with pytest.raises(CheckpointError, match="array 'o' has dtype object"):
        encode_checkpoint(TrainingState(1, {"o": np.array([{"a": 1}], dtype=object)}, {}))
    pickled = _npy(np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(CheckpointError, match="pickle"):
        decode_checkpoint(_blob(put={"arrays/float64.npy": pickled}))


def test_metadata_that_is_not_json_is_refused_when_encoding():
    with pytest.raises(CheckpointError, match="not JSON"):
        encode_checkpoint(TrainingState(1, {}, {"when": object()}))
