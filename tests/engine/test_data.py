"""Digits task and CIFAR loaders. CIFAR tests build a tiny archive in the official format and
serve it through a file:// URL; nothing here touches the network."""

import hashlib
import io
import pickle
import tarfile

import numpy as np
import pytest
from sklearn.datasets import load_digits

from aeos_lab.engine import data

EPS = 1e-8
PER_BATCH = 4  # examples per fake CIFAR-10 batch file


def standardise(train, test):
    mean, std = train.mean(axis=0), train.std(axis=0)
    return (train - mean) / (std + EPS), (test - mean) / (std + EPS)


# ----------------------------------------------------------------------------- digits


@pytest.fixture(scope="module")
def digits():
    return load_digits(return_X_y=True)


def test_digits_first_n_in_order_standardised_with_train_stats(digits):
    x, y = digits
    task = data.digits_task(n_train=100, n_test=50, label_noise=0.0, dtype=np.float64)
    expected_train, expected_test = standardise(x[:100], x[100:150])
    np.testing.assert_allclose(task.x_train, expected_train, rtol=1e-12)
    np.testing.assert_allclose(task.x_test, expected_test, rtol=1e-12)
    np.testing.assert_array_equal(task.labels, y[:100])
    np.testing.assert_array_equal(task.test_labels, y[100:150])
    np.testing.assert_array_equal(task.y_train, np.eye(10)[y[:100]])
    np.testing.assert_array_equal(task.y_test, np.eye(10)[y[100:150]])
    varying = x[:100].std(axis=0) > 0
    np.testing.assert_allclose(task.x_train.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(task.x_train.std(axis=0)[varying], 1, rtol=1e-6)
    # the test set is NOT re-centred with its own statistics
    assert np.abs(task.x_test.mean(axis=0)).max() > 0.05


def test_digits_defaults_images_and_dtype(digits):
    x, _ = digits
    task = data.digits_task()
    assert (task.n_train, task.n_test) == (1500, 297) == (1500, data.DIGITS_SIZE - 1500)
    assert task.label_noise == 0.3
    assert task.x_train.dtype == task.y_train.dtype == np.float32
    assert task.x_train.shape == (1500, 64) and task.y_train.shape == (1500, 10)
    everything = data.digits_task(n_train=data.DIGITS_SIZE, n_test=0)
    assert everything.x_train.shape == (1797, 64) and everything.x_test.shape == (0, 64)
    images = data.digits_task(n_train=20, n_test=5, label_noise=0.0, flatten=False)
    assert images.x_train.shape == (20, 8, 8, 1) and images.x_test.shape == (5, 8, 8, 1)
    expected, _ = standardise(x[:20], x[20:25])
    # sklearn's digits rows are the 8x8 image in row-major order
    np.testing.assert_allclose(images.x_train[:, 2, 5, 0], expected[:, 2 * 8 + 5], rtol=1e-5)


def test_digits_label_noise_fraction_seed_and_clean_test(digits):
    _, y = digits
    task = data.digits_task(n_train=1000, n_test=200, label_noise=0.3, seed=1)
    assert task.corrupted.sum() == 300
    np.testing.assert_array_equal(task.clean_labels, y[:1000])
    changed = task.labels != y[:1000]
    assert not np.any(changed & ~task.corrupted)  # only chosen labels may change
    # a redrawn label keeps its class with probability 1/10: 300 * 0.9 = 270 expected changes
    assert 240 <= changed.sum() <= 295
    np.testing.assert_array_equal(task.y_train.argmax(axis=1), task.labels)
    np.testing.assert_array_equal(task.test_labels, y[1000:1200])
    counts = np.bincount(task.labels[task.corrupted], minlength=10)
    assert counts.min() > 10  # redrawn classes spread over all ten classes
    again = data.digits_task(n_train=1000, n_test=200, label_noise=0.3, seed=1)
    np.testing.assert_array_equal(again.labels, task.labels)
    other = data.digits_task(n_train=1000, n_test=200, label_noise=0.3, seed=2)
    assert np.any(other.labels != task.labels)
    np.testing.assert_array_equal(other.x_train, task.x_train)  # noise touches labels only


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_train": 1500, "n_test": 298}, r"n_train \+ n_test must be <= 1797"),
        ({"n_train": 0}, "n_train must be an integer >= 1"),
        ({"n_test": -1}, "n_test must be an integer >= 0"),
        ({"label_noise": 1.5}, r"label_noise must lie in \[0, 1\]"),
        ({"label_noise": -0.1}, "label_noise must be finite and >= 0"),
        ({"seed": -3}, "seed must be an integer >= 0"),
        ({"dtype": np.int32}, "dtype must be float32 or float64"),
    ],
)
def test_digits_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.digits_task(**kwargs)


# ----------------------------------------------------------------------------- CIFAR


def pixel(index, channel, row, col):
    """Raw value of example ``index`` at (row, col, channel): distinct along every axis."""
    return (index * 7 + channel * 50 + row * 3 + col) % 256


def planar_rows(indices):
    """CIFAR rows: for each example, 1024 red then 1024 green then 1024 blue values."""
    channel, row, col = np.meshgrid(np.arange(3), np.arange(32), np.arange(32), indexing="ij")
    return np.stack([pixel(i, channel, row, col).ravel() for i in indices]).astype(np.uint8)


def hwc_images(indices):
    row, col, channel = np.meshgrid(np.arange(32), np.arange(32), np.arange(3), indexing="ij")
    return np.stack([pixel(i, channel, row, col) for i in indices]).astype(np.float64)


def labels_for(indices, classes):
    return [(3 * i + 1) % classes for i in indices]


def add_pickle(tar, name, obj):
    payload = pickle.dumps(obj)
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


def write_cifar10(path):
    with tarfile.open(path, "w:gz") as tar:
        for b in range(5):
            idx = range(b * PER_BATCH, (b + 1) * PER_BATCH)
            batch = {b"data": planar_rows(idx), b"labels": labels_for(idx, 10)}
            add_pickle(tar, f"cifar-10-batches-py/data_batch_{b + 1}", batch)
        test_idx = range(1000, 1000 + PER_BATCH)
        test = {b"data": planar_rows(test_idx), b"labels": labels_for(test_idx, 10)}
        add_pickle(tar, "cifar-10-batches-py/test_batch", test)
        add_pickle(tar, "cifar-10-batches-py/batches.meta", {b"label_names": [b"x"] * 10})
    return path


def write_cifar100(path):
    with tarfile.open(path, "w:gz") as tar:
        train_idx, test_idx = range(12), range(500, 506)
        add_pickle(
            tar,
            "cifar-100-python/train",
            {b"data": planar_rows(train_idx), b"fine_labels": labels_for(train_idx, 100)},
        )
        add_pickle(
            tar,
            "cifar-100-python/test",
            {b"data": planar_rows(test_idx), b"fine_labels": labels_for(test_idx, 100)},
        )
        add_pickle(tar, "cifar-100-python/meta", {b"fine_label_names": [b"x"] * 100})
    return path


def md5_of(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def cifar10_archive(tmp_path_factory):
    path = write_cifar10(tmp_path_factory.mktemp("served") / "cifar-10-python.tar.gz")
    return path.as_uri(), md5_of(path)


@pytest.fixture
def download_calls(monkeypatch):
    """Count real downloads (the file:// fetch still runs)."""
    calls = []
    original = data._download_to

    def counting(url, fileobj):
        calls.append(url)
        original(url, fileobj)

    monkeypatch.setattr(data, "_download_to", counting)
    return calls


def test_cifar10_first_n_hwc_order_and_standardisation(tmp_path, cifar10_archive, download_calls):
    url, md5 = cifar10_archive
    # 10 examples cross the boundary of the 4-example batch files: 4 + 4 + first 2 of batch 3
    task = data.cifar_task(
        "cifar10", n_train=10, n_test=3, url=url, md5=md5, folder=tmp_path, flatten=False
    )
    train_raw, test_raw = hwc_images(range(10)), hwc_images(range(1000, 1003))
    expected_train, expected_test = standardise(train_raw.reshape(10, -1), test_raw.reshape(3, -1))
    assert task.x_train.shape == (10, 32, 32, 3) and task.x_train.dtype == np.float32
    np.testing.assert_allclose(task.x_train.reshape(10, -1), expected_train, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(task.x_test.reshape(3, -1), expected_test, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(task.labels, labels_for(range(10), 10))
    np.testing.assert_array_equal(task.test_labels, labels_for(range(1000, 1003), 10))
    np.testing.assert_array_equal(task.y_train, np.eye(10)[labels_for(range(10), 10)])
    # the raw image is recovered from the stored train statistics: HWC, not CHW
    raw = task.x_train * (task.std + EPS).reshape(32, 32, 3) + task.mean.reshape(32, 32, 3)
    np.testing.assert_allclose(raw[7, 4, 9, 2], pixel(7, 2, 4, 9), atol=1e-3)
    flat = data.cifar_task("cifar10", n_train=10, n_test=3, url=url, md5=md5, folder=tmp_path)
    assert flat.x_train.shape == (10, 3072) and flat.input_shape == (3072,)
    np.testing.assert_array_equal(flat.x_train, task.x_train.reshape(10, -1))
    assert len(download_calls) == 1  # the second call read the cached archive


def test_cifar100_fine_labels(tmp_path):
    path = write_cifar100(tmp_path / "served.tar.gz")
    task = data.cifar_task(
        "cifar100", n_train=5, n_test=6, url=path.as_uri(), md5=md5_of(path), folder=tmp_path
    )
    assert task.num_classes == 100 and task.y_train.shape == (5, 100)
    np.testing.assert_array_equal(task.labels, labels_for(range(5), 100))
    np.testing.assert_array_equal(task.test_labels, labels_for(range(500, 506), 100))
    expected, _ = standardise(hwc_images(range(5)).reshape(5, -1), np.zeros((0, 3072)))
    np.testing.assert_allclose(task.x_train, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="has only 12 examples"):
        data.cifar_task(
            "cifar100", n_train=13, url=path.as_uri(), md5=md5_of(path), folder=tmp_path
        )


def test_corrupt_cached_archive_is_fetched_again(tmp_path, cifar10_archive, download_calls):
    url, md5 = cifar10_archive
    cached = tmp_path / "cifar-10-python.tar.gz"
    cached.write_bytes(b"half a download")
    with pytest.warns(UserWarning, match="fails its md5 checksum"):
        task = data.cifar_task(n_train=2, n_test=1, url=url, md5=md5, folder=tmp_path)
    assert len(download_calls) == 1 and md5_of(cached) == md5
    np.testing.assert_array_equal(task.labels, labels_for(range(2), 10))


def test_checksum_mismatch_raises_and_leaves_no_file(tmp_path, cifar10_archive):
    url, _ = cifar10_archive
    with pytest.raises(data.DownloadError, match="md5") as err:
        data.cifar_task(n_train=2, url=url, md5="0" * 32, folder=tmp_path)
    assert "AEOS_LAB_DATA_DIR" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_failed_download_names_the_offline_options(tmp_path):
    missing = (tmp_path / "nowhere" / "cifar-10-python.tar.gz").as_uri()
    folder = tmp_path / "cache"
    with pytest.raises(data.DownloadError) as err:
        data.fetch_archive(missing, "0" * 32, folder=folder)
    message = str(err.value)
    assert "AEOS_LAB_DATA_DIR" in message and "digits_task" in message
    assert str(folder / "cifar-10-python.tar.gz") in message
    assert list(folder.iterdir()) == []


def test_data_dir_env_override(tmp_path, monkeypatch, cifar10_archive):
    url, md5 = cifar10_archive
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data.data_dir() == tmp_path / "home" / ".cache" / "aeos_lab"
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "mine"))
    assert data.data_dir() == tmp_path / "mine"
    data.cifar_task(n_train=1, n_test=0, url=url, md5=md5)
    assert md5_of(tmp_path / "mine" / "cifar-10-python.tar.gz") == md5
    assert not (tmp_path / "home").exists()


def test_cifar_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset"):
        data.cifar_task("svhn", folder=tmp_path)
    with pytest.raises(ValueError, match="n_train must be <= 50000"):
        data.cifar_task(n_train=50001, folder=tmp_path)
    with pytest.raises(ValueError, match="n_test must be <= 10000"):
        data.cifar_task(n_test=10001, folder=tmp_path)
    assert list(tmp_path.iterdir()) == []  # argument errors come before any download
