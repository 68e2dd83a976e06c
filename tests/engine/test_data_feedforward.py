"""2-D point sets, splits and standardisation, and the IDX loader (MNIST / Fashion-MNIST)."""

import gzip
from pathlib import Path

import numpy as np
import pytest

from engine.data import load_dataset
from engine.data.idx import FILES, find_idx_files, load_idx_dataset, read_idx, write_idx
from engine.data.plane import GENERATORS, make_plane
from engine.spec import parse_spec

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_plane_sets_are_seeded_balanced_and_sized(name):
    x, y = make_plane(name, 101, 0.1, np.random.default_rng(7))
    x2, y2 = make_plane(name, 101, 0.1, np.random.default_rng(7))
    np.testing.assert_array_equal(x, x2)
    assert x.shape == (101, 2) and x.dtype == np.float32 and set(np.unique(y)) == {0, 1}
    assert abs(int((y == 0).sum()) - int((y == 1).sum())) <= 1


@pytest.mark.parametrize("name", ["moons", "circles", "spiral"])
def test_noise_knob_moves_points_off_the_clean_shape(name):
    clean, _ = make_plane(name, 400, 0.0, np.random.default_rng(0))
    noisy, _ = make_plane(name, 400, 0.3, np.random.default_rng(0))
    assert np.abs(noisy - clean).mean() > 0.1


def test_circles_without_noise_lie_on_two_radii():
    x, y = make_plane("circles", 200, 0.0, np.random.default_rng(0))
    r = np.linalg.norm(x, axis=1)
    np.testing.assert_allclose(r[y == 0], 1.0, rtol=1e-5)
    np.testing.assert_allclose(r[y == 1], 0.5, rtol=1e-5)


def test_plane_dataset_splits_train_val_test_and_standardises_on_train_only():
    data = load_dataset(parse_spec({"model": "mlp", "dataset": "moons", "n_samples": 500, "noise": 0.2}))
    assert len(data.x_train) + len(data.x_val) + len(data.x_test) == 500
    assert len(data.x_test) == 100
    np.testing.assert_allclose(data.x_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(data.x_train.std(axis=0), 1, atol=1e-4)
    assert not np.allclose(data.x_val.mean(axis=0), 0, atol=1e-5)
    for part in (data.y_train, data.y_val, data.y_test):
        assert abs((part == 0).mean() - 0.5) < 0.05


def test_digits_has_a_fixed_stratified_test_split_and_subset_keeps_classes_balanced():
    full = load_dataset(parse_spec({"dataset": "digits"}))
    other_seed = load_dataset(parse_spec({"dataset": "digits", "seed": 5}))
    np.testing.assert_array_equal(full.y_test, other_seed.y_test)
    assert len(full.x_test) == 359 and set(np.unique(full.y_test)) == set(range(10))
    small = load_dataset(parse_spec({"dataset": "digits", "subset": 50}))
    assert len(small.x_train) == 50 and np.bincount(small.y_train).tolist() == [5] * 10
    np.testing.assert_array_equal(small.y_test, full.y_test)
    image = load_dataset(parse_spec({"model": "cnn", "dataset": "digits"}))
    assert image.x_train.shape[1:] == (1, 8, 8) and image.input_shape == (1, 8, 8)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip_for_every_type_gzipped_or_not(tmp_path, dtype, compress):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    write_idx(path, a)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, a)


def test_idx_reader_refuses_bad_magic_and_truncated_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    write_idx(tmp_path / "ok", np.zeros((4, 4), dtype=np.uint8))
    (tmp_path / "short").write_bytes((tmp_path / "ok").read_bytes()[:-3])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "short")


def _write_fake_mnist(folder: Path, n_train=80, n_test=20, gz=True):
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    for split, n in (("train", n_train), ("test", n_test)):
        labels = np.arange(n, dtype=np.uint8) % 10
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        write_idx(folder / (FILES[f"{split}_images"] + ext), images)
        write_idx(folder / (FILES[f"{split}_labels"] + ext), labels)


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_loads_from_data_dir_and_keeps_its_own_test_set(tmp_path, gz):
    _write_fake_mnist(tmp_path / "m", gz=gz)
    spec = parse_spec({"model": "mlp", "dataset": "mnist", "data_dir": str(tmp_path / "m"), "val_fraction": 0.25})
    data = load_dataset(spec)
    assert data.x_train.shape == (60, 784) and data.x_val.shape == (20, 784) and data.x_test.shape == (20, 784)
    np.testing.assert_array_equal(data.y_test, np.arange(20) % 10)
    assert abs(float(data.x_train.mean())) < 1e-4 and abs(float(data.x_train.std()) - 1) < 1e-3
    cnn = load_dataset(parse_spec({**spec.to_dict(), "model": "cnn"}))
    assert cnn.x_train.shape == (60, 1, 28, 28) and cnn.input_shape == (1, 28, 28)


def test_nnlab_data_dir_environment_variable_is_searched(tmp_path, monkeypatch):
    _write_fake_mnist(tmp_path / "fashion-mnist", gz=False)
    monkeypatch.setenv("NNLAB_DATA_DIR", str(tmp_path))
    paths = find_idx_files("fashion-mnist")
    assert paths["train_images"].parent == tmp_path / "fashion-mnist"


def test_missing_files_error_names_every_file_and_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.delenv("NNLAB_DATA_DIR", raising=False)
    with pytest.raises(FileNotFoundError) as err:
        load_idx_dataset("mnist", str(tmp_path / "nowhere"))
    msg = str(err.value)
    for base in FILES.values():
        assert f"{base}[.gz]" in msg
    assert "data_dir" in msg and "NNLAB_DATA_DIR" in msg and str(tmp_path / "nowhere") in msg


@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_files_load_with_the_published_sizes():
    x, y, xt, yt = load_idx_dataset("fashion-mnist")
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    assert x.dtype == np.uint8 and np.bincount(y).tolist() == [6000] * 10
    assert np.bincount(yt).tolist() == [1000] * 10
    with gzip.open(FASHION_DIR / "t10k-labels-idx1-ubyte.gz") as f:
        assert f.read(4) == b"\x00\x00\x08\x01"
