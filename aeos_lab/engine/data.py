"""Datasets: the embedded digits teaching task and the paper's CIFAR-10 / CIFAR-100 subsets.

Every loader returns a :class:`Task` with standardised inputs and one-hot targets. Inputs are
standardised column by column with statistics of the TRAIN samples only::

    x <- (x - mean_train) / (std_train + 1e-8)       (std with ddof=0, applied to test too)

Digits (:func:`digits_task`) come from scikit-learn's bundled ``load_digits`` (1797 images of
8x8 pixels, values 0..16), so the default task needs no download. CIFAR (:func:`cifar_task`)
is downloaded once from the official python archive, checked against its published md5,
and cached under ``$AEOS_LAB_DATA_DIR`` (default ``~/.cache/aeos_lab``).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aeos_lab.core.validation import canonical_name, check_int_at_least, check_nonnegative
from aeos_lab.engine import smoke

__all__ = [
    "CIFAR10_MD5",
    "CIFAR10_URL",
    "CIFAR100_MD5",
    "CIFAR100_URL",
    "DATA_DIR_ENV",
    "DEFAULT_TASK",
    "DIGITS_SIZE",
    "DownloadError",
    "Task",
    "cifar_task",
    "data_dir",
    "digits_task",
    "fetch_archive",
    "load_task",
]

STD_EPS = 1e-8
DIGITS_SIZE = 1797

DEFAULT_TASK = {"n_train": 1500, "n_test": 297, "label_noise": 0.3}
"""Default digits task: the first 1500 digits for training (30% of their labels replaced by
uniformly random classes, seed 0), the remaining 297 held out with clean labels.

Why noisy labels: on clean digits the loss reaches ~1e-4 before progressive sharpening has
done its work (design notes: frozen Adam at eta=3e-4 stalled at 0.4 of its threshold). With
30% of the labels randomised the network must memorise, the sharpness keeps rising, and the
paper's effects show within a few thousand steps. Measured on this task (2 CPU cores, engine
of aeos_lab.train): Adam at eta=1e-3 settles at 1.005x 38/eta; frozen Adam (P from step 300 of
Adam at 1e-3) at eta=3e-4 rises from 0.31x to 1.00x; minibatch Adam at eta=3e-4 sits at 0.07x
(batch 64), 0.31x (batch 256), 1.00x (full batch); warmup to 1e-3 over 2000 steps keeps the
ratio to 38/eta_t within 0.97-1.11 from step 500 on.

Why 1500: with 1000 training digits frozen Adam stalled at 0.90x of its threshold (the loss
ran out first), with 1500 it reached 1.00x. More examples cost time linearly (a full-batch
step is ~7.5 ms here); 297 digits stay held out for the accuracy plots of notebook 05.
"""

DATA_DIR_ENV = "AEOS_LAB_DATA_DIR"
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR100_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
CIFAR100_MD5 = "eb9058c3a382ffc7106e4002c42a8d85"
CIFAR_IMAGE_SHAPE = (32, 32, 3)

# name -> (url, md5, folder in the archive, train members, test member, label key, classes)
_CIFAR = {
    "cifar10": (
        CIFAR10_URL,
        CIFAR10_MD5,
        "cifar-10-batches-py",
        tuple(f"data_batch_{i}" for i in range(1, 6)),
        "test_batch",
        b"labels",
        10,
    ),
    "cifar100": (
        CIFAR100_URL,
        CIFAR100_MD5,
        "cifar-100-python",
        ("train",),
        "test",
        b"fine_labels",
        100,
    ),
}
CIFAR_SIZES = {"cifar10": (50000, 10000), "cifar100": (50000, 10000)}


class DownloadError(RuntimeError):
    """The archive could not be downloaded or failed its checksum."""


@dataclass(frozen=True, eq=False)
class Task:
    """A classification task ready for full-batch training.

    ``x_train``/``x_test``: standardised inputs, ``(n, d)`` flat or ``(n, h, w, c)`` images.
    ``y_train``/``y_test``: one-hot targets ``(n, num_classes)``.
    ``labels``: integer train labels as used for ``y_train`` (after label noise);
    ``test_labels``: clean integer test labels; ``clean_labels``: train labels before noise;
    ``corrupted``: boolean mask of the train examples whose label was redrawn (the redrawn
    class may equal the original one). ``mean``/``std``: the train statistics used.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    labels: np.ndarray
    test_labels: np.ndarray
    clean_labels: np.ndarray
    corrupted: np.ndarray
    num_classes: int
    image_shape: tuple[int, ...]
    mean: np.ndarray = field(repr=False)
    std: np.ndarray = field(repr=False)
    label_noise: float = 0.0
    seed: int = 0

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.x_test.shape[0])

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example (what ``models.build_model`` expects)."""
        return tuple(self.x_train.shape[1:])

    def __repr__(self) -> str:
        return (
            f"Task({self.name!r}, n_train={self.n_train}, n_test={self.n_test}, "
            f"input_shape={self.input_shape}, num_classes={self.num_classes}, "
            f"label_noise={self.label_noise}, seed={self.seed})"
        )


def _check_fraction(value, name: str) -> float:
    value = float(check_nonnegative(value, name))
    if value > 1:
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    return value


def _noisy_labels(labels: np.ndarray, fraction: float, num_classes: int, seed: int):
    """Redraw ``round(fraction * n)`` labels, chosen without replacement, uniformly at random."""
    rng = np.random.default_rng(seed)
    n = labels.shape[0]
    chosen = rng.choice(n, size=round(fraction * n), replace=False)
    noisy = labels.copy()
    noisy[chosen] = rng.integers(0, num_classes, size=chosen.shape[0])
    corrupted = np.zeros(n, dtype=bool)
    corrupted[chosen] = True
    return noisy, corrupted


def _make_task(
    name: str,
    x_train: np.ndarray,
    labels_train: np.ndarray,
    x_test: np.ndarray,
    labels_test: np.ndarray,
    num_classes: int,
    image_shape: tuple[int, ...],
    *,
    label_noise: float,
    seed: int,
    flatten: bool,
    dtype: np.dtype,
) -> Task:
    x_train = x_train.reshape(x_train.shape[0], -1).astype(np.float64)
    x_test = x_test.reshape(x_test.shape[0], x_train.shape[1]).astype(np.float64)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    x_train = (x_train - mean) / (std + STD_EPS)
    x_test = (x_test - mean) / (std + STD_EPS)
    if not flatten:
        x_train = x_train.reshape(-1, *image_shape)
        x_test = x_test.reshape(-1, *image_shape)
    clean = np.asarray(labels_train, dtype=np.int64)
    test_labels = np.asarray(labels_test, dtype=np.int64)
    labels, corrupted = _noisy_labels(clean, label_noise, num_classes, seed)
    eye = np.eye(num_classes, dtype=dtype)
    return Task(
        name=name,
        x_train=x_train.astype(dtype),
        y_train=eye[labels],
        x_test=x_test.astype(dtype),
        y_test=eye[test_labels],
        labels=labels,
        test_labels=test_labels,
        clean_labels=clean,
        corrupted=corrupted,
        num_classes=num_classes,
        image_shape=tuple(image_shape),
        mean=mean.astype(dtype),
        std=std.astype(dtype),
        label_noise=label_noise,
        seed=seed,
    )


def _check_dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def digits_task(
    n_train: int = DEFAULT_TASK["n_train"],
    n_test: int = DEFAULT_TASK["n_test"],
    label_noise: float = DEFAULT_TASK["label_noise"],
    seed: int = 0,
    flatten: bool = True,
    dtype=np.float32,
) -> Task:
    """The embedded teaching task: scikit-learn's 8x8 digits, 10 classes.

    Train = the first ``n_train`` digits in ``load_digits`` order, test = the next ``n_test``
    (``n_train + n_test <= 1797``). Each of the 64 pixel columns is standardised with the
    train samples' mean and std, ``(X - mean) / (std + 1e-8)``. With ``label_noise = p > 0``,
    ``round(p * n_train)`` train labels (chosen by ``numpy.random.default_rng(seed)``) are
    replaced by classes drawn uniformly from 0..9; test labels stay clean. ``flatten=False``
    gives images of shape ``(n, 8, 8, 1)`` for the CNN. See :data:`DEFAULT_TASK` for why the
    default uses 30% label noise.
    """
    from sklearn.datasets import load_digits

    n_train = check_int_at_least(n_train, 1, "n_train")
    n_test = check_int_at_least(n_test, 0, "n_test")
    if n_train + n_test > DIGITS_SIZE:
        raise ValueError(
            f"n_train + n_test must be <= {DIGITS_SIZE} (the number of digits), "
            f"got {n_train} + {n_test} = {n_train + n_test}"
        )
    label_noise = _check_fraction(label_noise, "label_noise")
    seed = check_int_at_least(seed, 0, "seed")
    x, y = load_digits(return_X_y=True)
    end = n_train + n_test
    return _make_task(
        "digits",
        x[:n_train],
        y[:n_train],
        x[n_train:end],
        y[n_train:end],
        10,
        (8, 8, 1),
        label_noise=label_noise,
        seed=seed,
        flatten=bool(flatten),
        dtype=_check_dtype(dtype),
    )


GAUSS_TASK = {"n_train": 256, "n_test": 64}
"""The micro task's sizes (:func:`gauss_task`)."""
GAUSS_DIM, GAUSS_OUTPUTS = 4, 2


def gauss_task(
    n_train: int = GAUSS_TASK["n_train"],
    n_test: int = GAUSS_TASK["n_test"],
    label_noise: float = 0.0,
    seed: int = 0,
    flatten: bool = True,
    dtype=np.float32,
) -> Task:
    """The micro task: ``n_train`` inputs x ~ N(0, I_4) with regression targets y ~ N(0, I_2),
    all independent (``numpy.random.default_rng(seed)``), and ``n_test`` more held out.

    Random targets cannot be fitted exactly by a small network once there are more points
    than parameters (the 4-12-12-2 tanh network has 242), so the loss stays away from zero
    and progressive sharpening keeps going: the adaptive edge of stability shows within a few
    thousand full-batch steps, each costing microseconds. ``labels`` are argmax(y), so the
    "accuracy" columns of a run on this task mean nothing; ``label_noise`` must be 0.
    """
    n_train = check_int_at_least(n_train, 1, "n_train")
    n_test = check_int_at_least(n_test, 0, "n_test")
    if _check_fraction(label_noise, "label_noise") != 0.0:
        raise ValueError(f"label_noise must be 0 for the gauss task (no labels), got {label_noise}")
    seed = check_int_at_least(seed, 0, "seed")
    dtype = _check_dtype(dtype)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_train + n_test, GAUSS_DIM))
    y = rng.standard_normal((n_train + n_test, GAUSS_OUTPUTS))
    labels = np.argmax(y, axis=1)
    return Task(
        name="gauss",
        x_train=x[:n_train].astype(dtype),
        y_train=y[:n_train].astype(dtype),
        x_test=x[n_train:].astype(dtype),
        y_test=y[n_train:].astype(dtype),
        labels=labels[:n_train],
        test_labels=labels[n_train:],
        clean_labels=labels[:n_train],
        corrupted=np.zeros(n_train, dtype=bool),
        num_classes=GAUSS_OUTPUTS,
        image_shape=(GAUSS_DIM,),
        mean=np.zeros(GAUSS_DIM, dtype),
        std=np.ones(GAUSS_DIM, dtype),
        label_noise=0.0,
        seed=seed,
    )


# --------------------------------------------------------------------------- downloads


def data_dir() -> Path:
    """Cache folder for downloaded archives: ``$AEOS_LAB_DATA_DIR`` or ``~/.cache/aeos_lab``."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "aeos_lab"


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download_to(url: str, fileobj) -> None:
    """Stream ``url`` into the open binary file ``fileobj`` (tests replace this function)."""
    from tqdm.auto import tqdm

    with urllib.request.urlopen(url, timeout=60) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        desc = f"downloading {url.rsplit('/', 1)[-1]}"
        with tqdm.wrapattr(fileobj, "write", total=total, desc=desc, miniters=1) as out:
            shutil.copyfileobj(response, out, length=1 << 20)


def _help(folder: Path, filename: str) -> str:
    return (
        f"To work offline, download the archive elsewhere and place it at {folder / filename} "
        f"(set the environment variable {DATA_DIR_ENV} to choose the folder), or use the "
        "embedded default task, aeos_lab.data.digits_task(), which needs no download."
    )


def fetch_archive(url: str, md5: str, filename: str | None = None, folder=None) -> Path:
    """Path of a verified local copy of ``url``, downloading it on first use.

    A cached file whose md5 differs from ``md5`` (partial or corrupt) is deleted and fetched
    again. The download goes to a temporary file in the same folder, is verified, and only
    then renamed into place, so a failed or interrupted download never leaves a file that
    looks complete.
    """
    folder = Path(folder) if folder is not None else data_dir()
    filename = filename or url.rstrip("/").rsplit("/", 1)[-1]
    path = folder / filename
    if path.exists():
        if _md5(path) == md5:
            return path
        if smoke.active():  # a generated archive (test-only switch, see aeos_lab.engine.smoke)
            warnings.warn(f"{path} is not the published archive; read as is", stacklevel=2)
            return path
        warnings.warn(
            f"{path} fails its md5 checksum; deleting and downloading again", stacklevel=2
        )
        path.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            _download_to(url, f)
        got = _md5(tmp)
        if got != md5:
            raise DownloadError(
                f"downloaded {url} but its md5 is {got}, expected {md5}. " + _help(folder, filename)
            )
        os.replace(tmp, path)
    except DownloadError:
        raise
    except Exception as err:
        raise DownloadError(f"could not download {url}: {err}. " + _help(folder, filename)) from err
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _read_cifar(tar: tarfile.TarFile, members: tuple[str, ...], label_key: bytes, n: int):
    """First ``n`` examples of the named batches, as HWC uint8 images and int labels."""
    if n == 0:
        return np.zeros((0, *CIFAR_IMAGE_SHAPE), np.uint8), np.zeros(0, np.int64)
    images, labels, count = [], [], 0
    for member in members:
        if count >= n:
            break
        with tar.extractfile(member) as f:
            batch = pickle.load(f, encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8)[: n - count]
        images.append(data)
        labels.append(np.asarray(batch[label_key], dtype=np.int64)[: n - count])
        count += data.shape[0]
    if count < n:
        raise ValueError(f"the archive has only {count} examples in {members}, asked for {n}")
    # CIFAR rows are channel-planar: 1024 red, then 1024 green, then 1024 blue values.
    data = np.concatenate(images).reshape(n, 3, 32, 32).transpose(0, 2, 3, 1)
    return data, np.concatenate(labels)


def cifar_task(
    name: str = "cifar10",
    n_train: int = 5000,
    n_test: int = 1000,
    label_noise: float = 0.0,
    seed: int = 0,
    flatten: bool = True,
    dtype=np.float32,
    url: str | None = None,
    md5: str | None = None,
    folder=None,
) -> Task:
    """The first ``n_train`` CIFAR train images and the first ``n_test`` test images.

    ``name``: "cifar10" or "cifar100" (fine labels). Each of the 3072 pixel-channel values is
    standardised with the train subset's mean and std. Images are ``(n, 32, 32, 3)`` in HWC
    order, or ``(n, 3072)`` (the HWC image flattened) with ``flatten=True``. ``url``, ``md5``
    and ``folder`` default to the official archive, its published checksum and
    :func:`data_dir`. ``label_noise`` works as in :func:`digits_task`.
    """
    key = canonical_name(str(name).replace("_", "").replace("-", ""), _CIFAR, what="dataset")
    default_url, default_md5, root, train_members, test_member, label_key, classes = _CIFAR[key]
    max_train, max_test = CIFAR_SIZES[key]
    n_train = check_int_at_least(n_train, 1, "n_train")
    n_test = check_int_at_least(n_test, 0, "n_test")
    if n_train > max_train:
        raise ValueError(f"n_train must be <= {max_train} for {key}, got {n_train}")
    if n_test > max_test:
        raise ValueError(f"n_test must be <= {max_test} for {key}, got {n_test}")
    label_noise = _check_fraction(label_noise, "label_noise")
    seed = check_int_at_least(seed, 0, "seed")
    dtype = _check_dtype(dtype)
    url = url or default_url
    archive = fetch_archive(
        url, md5 or default_md5, filename=default_url.rsplit("/", 1)[-1], folder=folder
    )
    with tarfile.open(archive, "r:gz") as tar:
        train_names = tuple(f"{root}/{m}" for m in train_members)
        x_train, y_train = _read_cifar(tar, train_names, label_key, n_train)
        x_test, y_test = _read_cifar(tar, (f"{root}/{test_member}",), label_key, n_test)
    return _make_task(
        key,
        x_train,
        y_train,
        x_test,
        y_test,
        classes,
        CIFAR_IMAGE_SHAPE,
        label_noise=label_noise,
        seed=seed,
        flatten=bool(flatten),
        dtype=dtype,
    )


def load_task(name: str = "digits", **kwargs) -> Task:
    """Task by name: "digits" (:func:`digits_task`), "gauss" (:func:`gauss_task`), "cifar10"
    / "cifar100" (:func:`cifar_task`)."""
    names = ("digits", "gauss", "cifar10", "cifar100")
    key = canonical_name(str(name).replace("-", ""), names, "dataset")
    if key == "digits":
        return digits_task(**kwargs)
    if key == "gauss":
        return gauss_task(**kwargs)
    return cifar_task(key, **kwargs)
