"""MNIST, CIFAR-10 and CIFAR-100: verified loading and preprocessing onto the unit sphere.

Two kinds of source, both checked against pinned sha256 values (``datasets.json``, copied from
``shared/data/canonical_downloads.json`` and ``shared/data/README.md``) before use:

* **official** archives (MNIST idx ``.gz`` files; the CIFAR *binary* ``.tar.gz``, read without
  pickle), downloaded on a machine with internet from the listed mirrors (size and sha256 checked
  while streaming, written atomically, a bad download is never left in place) and converted once
  into a checksummed cache entry (:class:`companion.util.storage.Cache`);
* **offline** ``.npz`` files: ``mnist_full.npz`` (the complete MNIST), ``cifar10_subset.npz``
  (CIFAR-10 ``data_batch_1[0:4000]`` / ``test_batch[0:1000]``) and ``cifar100_subset.npz`` (CIFAR-100
  train ``[0:5000]`` and the complete test set).

Folders searched, in order: ``$COMPANION_DATA``, the user cache folder
(``platformdirs.user_cache_dir("companion")/data``), and the ``shared/data`` folder beside the
repository (``Path(companion.__file__).parents[3] / "shared" / "data"``). Downloads go to the first
of the first two. Every loaded dataset records its provenance (``source``, ``sha256``, ``n_train``,
``n_test``, whether it is the complete official set) and :func:`prepare` carries it into ``meta``:
tables must state the source and the sample sizes.

Preprocessing (:func:`prepare`), in this order: choose the classes; draw ``n_train`` / ``n_test``
points with ``numpy.random.default_rng`` streams derived from ``seed`` (class-balanced by default);
flatten and scale pixels to ``[0, 1]``; optionally centre by the mean image of the drawn training
points (the same vector is subtracted from the test points); project every point onto the unit
sphere ``S^{d-1}``. Targets: +-1 for two classes (``classes[0] -> +1``, ``classes[1] -> -1``),
one-hot rows (columns in the order of ``classes``) otherwise.

Default two-class problems (the papers do not name their classes; chapter 6 says why these):

* ``"mnist2"`` = MNIST **3 vs 5**: among the most confused digit pairs for linear and kernel
  classifiers, with near-equal class sizes (6131 / 5421 train), so accuracies sit well below 100 %
  and differences between kernels (depth, architecture) are visible; 0 vs 1 is separable by almost
  any kernel and would hide them.
* ``"cifar2"`` = CIFAR-10 **deer (4) vs horse (7)**, the pair chapter 6 uses (see
  :data:`companion.data.registry.DEFAULT_PAIRS`).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tarfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from companion.util import validate as check
from companion.data import download
from companion.data.registry import DATASETS, DEFAULT_PAIRS, N_CLASSES, TITLES, TWO_CLASS, _registry, class_names  # noqa: F401
from companion.data.download import ChecksumError, DownloadError, verify_file
from companion.util.storage import Cache

__all__ = [
    "DATASETS",
    "TWO_CLASS",
    "RawDataset",
    "Dataset",
    "DataNotFoundError",
    "load",
    "prepare",
    "data_dirs",
    "cache_dir",
    "class_names",
]

#: paper-style two-class problems: alias -> (dataset, (class for +1, class for -1))
SOURCES = ("auto", "official", "offline")
_CONVERT_FORMAT = 1  # bump when the conversion of official archives changes


class DataNotFoundError(FileNotFoundError):
    """No verified copy of a dataset could be found or downloaded."""




# ---------------------------------------------------------------------------------------------------
# folders
def shared_dir() -> Path:
    """``shared/data`` beside the repository (``/work/shared/data`` for a checkout at ``/work/main``)."""
    return Path(__file__).resolve().parents[4] / "shared" / "data"


def _user_cache() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("companion")) / "data"


def cache_dir() -> Path:
    """Where downloads and converted archives go: ``$COMPANION_DATA`` or the user cache folder."""
    env = os.environ.get("COMPANION_DATA")
    return Path(env).expanduser() if env else _user_cache()


def data_dirs() -> list[Path]:
    """Folders searched for data, in order (existing or not, duplicates removed)."""
    out: list[Path] = []
    env = os.environ.get("COMPANION_DATA")
    for p in ([Path(env).expanduser()] if env else []) + [_user_cache(), shared_dir()]:
        if p not in out:
            out.append(p)
    return out


# ---------------------------------------------------------------------------------------------------
# verification, once per process per (file, size, mtime)
_VERIFIED: dict[tuple, bool] = {}


def _verified(path: Path, size: int | None, sha256: str) -> None:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, sha256)
    if key in _VERIFIED:
        return
    verify_file(path, size=size, sha256=sha256)
    _VERIFIED[key] = True


# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RawDataset:
    """Images and integer labels as stored (uint8, ``(N, 28, 28)`` or ``(N, 32, 32, 3)``), plus provenance.

    ``source``: a sentence naming the file(s) and their sha256; ``source_kind``: ``"official"`` or
    ``"offline"``; ``complete``: whether train and test are the complete official splits;
    ``extra``: e.g. CIFAR-100 coarse labels (``y_train_coarse``/``y_test_coarse``) and, for subsets,
    the positions in the official splits (``index_train``/``index_test``).
    """

    name: str
    x_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    classes: tuple[str, ...]
    source: str
    source_kind: str
    sha256: str
    complete: bool
    extra: dict = field(default_factory=dict, repr=False)

    @property
    def n_train(self) -> int:
        return int(self.y_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.y_test.shape[0])


def _short(h: str) -> str:
    return h[:12]


def _offline(name: str, path: Path) -> RawDataset:
    spec = _registry()["offline"][name]
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    extra: dict[str, np.ndarray] = {}
    if name == "mnist":
        xtr, ytr, xte, yte = arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"]
    else:
        tr, te = arrays["split"] == 0, arrays["split"] == 1
        xtr, ytr, xte, yte = arrays["x"][tr], arrays["y"][tr], arrays["x"][te], arrays["y"][te]
        extra = {"index_train": arrays["index"][tr].astype(np.int64), "index_test": arrays["index"][te].astype(np.int64)}
        if "y_coarse" in arrays:
            extra["y_train_coarse"] = arrays["y_coarse"][tr].astype(np.int64)
            extra["y_test_coarse"] = arrays["y_coarse"][te].astype(np.int64)
    full = _registry()["official_sizes"][name]
    source = (f"{'file' if spec['complete'] else 'subset file'} {spec['file']} (sha256 {_short(spec['sha256'])}): "
              f"{spec['description']}; {len(ytr)}/{len(yte)} of the official {full[0]}/{full[1]} train/test images")
    return RawDataset(name, xtr, ytr.astype(np.int64), xte, yte.astype(np.int64), class_names(name), source, "offline",
                      spec["sha256"], bool(spec["complete"]), extra)


# ---------------------------------------------------------------------------------------------------
# official archives
def _archives(name: str) -> list[tuple[str, list[str], int, str]]:
    """``(file name, urls, bytes, sha256)`` of the official archives of ``name``."""
    d = _registry()["downloads"][name]
    if name == "mnist":
        return [(f, [m + f for m in d["mirrors"]], v["bytes"], v["sha256"]) for f, v in d["files"].items()]
    b = d["binary"]
    return [(b["url"].rsplit("/", 1)[-1], [b["url"]] + list(b.get("mirrors", [])), b["bytes"], b["sha256"])]


def _parse_idx(data: bytes) -> np.ndarray:
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise ValueError("not an unsigned-byte idx file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"idx body has {body.size} bytes, header says {dims}")
    return body.reshape(dims)


def _convert_mnist(paths: dict[str, Path]) -> dict[str, np.ndarray]:
    def read(f):
        with gzip.open(paths[f], "rb") as fh:
            return _parse_idx(fh.read())

    return {
        "x_train": read("train-images-idx3-ubyte.gz"),
        "y_train": read("train-labels-idx1-ubyte.gz"),
        "x_test": read("t10k-images-idx3-ubyte.gz"),
        "y_test": read("t10k-labels-idx1-ubyte.gz"),
    }


def _convert_cifar(name: str, path: Path) -> dict[str, np.ndarray]:
    labels = 1 if name == "cifar10" else 2  # CIFAR-100 records: coarse label, fine label, pixels
    rec = labels + 3072
    want = (["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"],
            ["test_batch.bin"]) if name == "cifar10" else (["train.bin"], ["test.bin"])
    members: dict[str, bytes] = {}
    with tarfile.open(path, "r:gz") as tar:
        for m in tar.getmembers():
            base = m.name.rsplit("/", 1)[-1]
            if m.isfile() and base in want[0] + want[1]:
                members[base] = tar.extractfile(m).read()
    out = {}
    for split, files in zip(("train", "test"), want):
        missing = [f for f in files if f not in members]
        if missing:
            raise ValueError(f"{path.name} lacks {missing}")
        raw = np.frombuffer(b"".join(members[f] for f in files), dtype=np.uint8)
        if raw.size % rec:
            raise ValueError(f"{path.name}: {split} records are not multiples of {rec} bytes")
        raw = raw.reshape(-1, rec)
        out[f"x_{split}"] = raw[:, labels:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()
        out[f"y_{split}"] = raw[:, labels - 1].copy()
        if labels == 2:
            out[f"y_{split}_coarse"] = raw[:, 0].copy()
    return out


def _find_official(name: str, problems: list[str]) -> dict[str, Path] | None:
    """Verified official archives present locally (all of them), or None. Corrupt ones we wrote are deleted."""
    found: dict[str, Path] = {}
    for fname, _urls, size, sha in _archives(name):
        for d in data_dirs():
            p = d / fname
            if not p.is_file():
                continue
            try:
                _verified(p, size, sha)
            except ChecksumError as exc:
                problems.append(str(exc))
                if d != shared_dir():
                    warnings.warn(f"{exc}; deleting the corrupt file", RuntimeWarning, stacklevel=3)
                    p.unlink(missing_ok=True)
                else:
                    warnings.warn(f"{exc}; ignoring it", RuntimeWarning, stacklevel=3)
                continue
            found[fname] = p
            break
        else:
            return None
    return found


def _official(name: str, paths: dict[str, Path]) -> RawDataset:
    archives = {f: s for f, _u, _b, s in _archives(name)}
    cache = Cache(cache_dir() / "converted")
    inputs = {"dataset": name, "archives": archives, "format": _CONVERT_FORMAT}

    def convert():
        if name == "mnist":
            return _convert_mnist(paths)
        (p,) = paths.values()
        return _convert_cifar(name, p)

    arrays = cache.get_or_compute(inputs, convert)
    extra = {k: arrays[k].astype(np.int64) for k in ("y_train_coarse", "y_test_coarse") if k in arrays}
    files = ", ".join(f"{f} (sha256 {_short(s)})" for f, s in archives.items())
    source = f"official archive{'s' if len(archives) > 1 else ''} {files}: complete train/test splits"
    digest = hashlib.sha256("".join(sorted(archives.values())).encode()).hexdigest() if len(archives) > 1 else next(
        iter(archives.values()))
    return RawDataset(name, arrays["x_train"], arrays["y_train"].astype(np.int64), arrays["x_test"],
                      arrays["y_test"].astype(np.int64), class_names(name), source, "official", digest, True, extra)


def _download_official(name: str, fetch, progress: bool) -> dict[str, Path]:
    dest = cache_dir()
    paths = {}
    for fname, urls, size, sha in _archives(name):
        p = dest / fname
        if p.is_file():
            try:
                _verified(p, size, sha)
                paths[fname] = p
                continue
            except ChecksumError as exc:
                warnings.warn(f"{exc}; deleting and downloading again", RuntimeWarning, stacklevel=3)
                p.unlink(missing_ok=True)
        paths[fname] = download.download(urls, p, size=size, sha256=sha, fetch=fetch, progress=progress)
    return paths


_MEMO: dict[tuple, RawDataset] = {}


def load(
    name: str,
    *,
    source: str = "auto",
    download: bool | None = None,
    fetch=None,
    progress: bool = True,
) -> RawDataset:
    """Load a dataset as stored (uint8 images, integer labels) after checking its sha256.

    Args:
      name: ``"mnist"``, ``"cifar10"`` or ``"cifar100"``.
      source: ``"auto"``: the official archives if present locally, else the offline ``.npz``, else a
        download of the official archives; ``"official"``: the official archives (downloaded if
        needed and allowed); ``"offline"``: the offline ``.npz`` only.
      download: ``None``: download only when no local copy exists; ``False``: never; ``True``: allowed.
      fetch: ``fetch(url) -> iterable of bytes`` used for downloads (default: urllib); for tests.
      progress: show a tqdm bar while downloading.

    Raises :class:`DataNotFoundError` (naming the folders searched and any file that failed its
    checksum, with expected and actual values) when no verified copy is available.
    """
    check.choice("name", name, DATASETS)
    check.choice("source", source, SOURCES)
    if download not in (None, True, False):
        raise check.fail("download", download, "None, True or False")
    problems: list[str] = []
    if source in ("auto", "official"):
        paths = _find_official(name, problems)
        if paths is None and (download is True or (download is None and source == "official")):
            try:
                paths = _download_official(name, fetch, progress)
            except DownloadError as exc:
                problems.append(str(exc))
        if paths is not None:
            key = ("official", name, tuple(sorted((str(p), p.stat().st_mtime_ns) for p in paths.values())))
            if key not in _MEMO:
                _MEMO[key] = _official(name, paths)
            return _MEMO[key]
    if source in ("auto", "offline"):
        spec = _registry()["offline"][name]
        for d in data_dirs():
            p = d / spec["file"]
            if not p.is_file():
                continue
            try:
                _verified(p, spec["bytes"], spec["sha256"])
            except ChecksumError as exc:
                problems.append(str(exc))
                warnings.warn(f"{exc}; ignoring it", RuntimeWarning, stacklevel=2)
                continue
            key = ("offline", name, str(p), p.stat().st_mtime_ns)
            if key not in _MEMO:
                _MEMO[key] = _offline(name, p)
            return _MEMO[key]
    if source == "auto" and download is None:
        try:
            return _official(name, _download_official(name, fetch, progress))
        except DownloadError as exc:
            problems.append(str(exc))
    wanted = {"official": "official archives " + ", ".join(a[0] for a in _archives(name)),
              "offline": "offline file " + _registry()["offline"][name]["file"]}
    what = " or ".join(wanted[k] for k in (("official", "offline") if source == "auto" else (source,)))
    msg = (f"no verified copy of {name!r} ({what}) found in " + ", ".join(str(d) for d in data_dirs())
           + (f" (download={download!r})" if source != "offline" else ""))
    if problems:
        msg += ". Problems:\n  " + "\n  ".join(problems)
    raise DataNotFoundError(msg)


# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Dataset:
    """A preprocessed dataset: inputs on the unit sphere, +-1 or one-hot targets, provenance in ``meta``.

    ``x_train`` ``(n, d)``, ``y_train`` ``(n,)`` (+-1) or ``(n, k)`` (one-hot); likewise for test;
    ``labels_train``/``labels_test``: the original integer labels; ``index_train``/``index_test``:
    positions in the loaded training / test arrays; ``meta``: dataset, classes, class names, sizes
    (drawn and available), seed, preprocessing flags, source, sha256.
    """

    x_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    labels_train: np.ndarray = field(repr=False)
    labels_test: np.ndarray = field(repr=False)
    index_train: np.ndarray = field(repr=False)
    index_test: np.ndarray = field(repr=False)
    meta: dict

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.x_test.shape[0])

    @property
    def d(self) -> int:
        return int(self.x_train.shape[1])

    def describe(self) -> str:
        """One line for a table or caption: problem, sizes, source."""
        m = self.meta
        what = " vs ".join(m["class_names"]) if len(m["classes"]) == 2 else f"{len(m['classes'])} classes"
        return (f"{m['title']} {what}: {self.n_train} train / {self.n_test} test (seed {m['seed']}); "
                f"source: {m['source']}")

    def fingerprint(self) -> str:
        """sha256 of the arrays (inputs and targets), e.g. for figure sidecars and cache keys."""
        h = hashlib.sha256()
        for a in (self.x_train, self.y_train, self.x_test, self.y_test):
            h.update(str((a.shape, a.dtype.str)).encode())
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()




def _classes(name: str, classes: Any) -> tuple[int, ...]:
    names = class_names(name)
    k = len(names)
    if classes is None:
        return tuple(range(k))
    if isinstance(classes, (str, bytes)) or not isinstance(classes, Sequence) or len(classes) < 2:
        raise check.fail("classes", classes, f"None (all {k}) or a sequence of at least 2 distinct class ids / names")
    out = []
    for c in classes:
        if isinstance(c, str):
            if c not in names:
                raise check.fail("classes", classes, f"class names of {name}: {', '.join(names[:10])}"
                                 + (", ..." if k > 10 else ""))
            out.append(names.index(c))
        else:
            out.append(check.integer("classes", c, minimum=0, maximum=k - 1))
    if len(set(out)) != len(out):
        raise check.fail("classes", classes, "distinct classes")
    return tuple(out)


def _draw(labels: np.ndarray, classes: tuple[int, ...], n: int | None, rng: np.random.Generator, balanced: bool,
          split: str) -> np.ndarray:
    """Indices (sorted) of ``n`` points of the given classes; all of them when ``n`` is None."""
    pools = [np.flatnonzero(labels == c) for c in classes]
    available = sum(len(p) for p in pools)
    if n is None:
        return np.sort(np.concatenate(pools))
    if n > available:
        raise check.fail(f"n_{split}", n, f"at most {available} ({split} points of classes {list(classes)} available)")
    if not balanced:
        return np.sort(rng.choice(np.concatenate(pools), size=n, replace=False))
    k = len(classes)
    per = np.full(k, n // k)
    per[rng.choice(k, size=n % k, replace=False)] += 1  # the remainder goes to randomly chosen classes
    short = [(c, len(p), int(q)) for c, p, q in zip(classes, pools, per) if len(p) < q]
    if short:
        raise check.fail(f"n_{split}", n, f"at most {k * min(len(p) for p in pools)} for a class-balanced draw "
                         f"(class {short[0][0]} has {short[0][1]} {split} points, {short[0][2]} needed); "
                         "or balanced=False")
    return np.sort(np.concatenate([rng.choice(p, size=int(q), replace=False) for p, q in zip(pools, per)]))


def prepare(
    name: str,
    classes: Sequence[int | str] | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
    *,
    seed: int = 0,
    center: bool = True,
    balanced: bool = True,
    dtype: Any = "float64",
    source: str = "auto",
    download: bool | None = None,
    raw: RawDataset | None = None,
) -> Dataset:
    """Load ``name`` and preprocess it (see the module docstring) into a :class:`Dataset`.

    Args:
      name: ``"mnist"``, ``"cifar10"``, ``"cifar100"``, or a two-class alias ``"mnist2"`` (3 vs 5) /
        ``"cifar2"`` (deer vs horse), which fixes ``classes``.
      classes: class ids or names; two -> +-1 targets (first -> +1), more -> one-hot; ``None``: all.
      n_train, n_test: how many points to draw (``None``: all available of those classes).
      seed: seeds the two draws (independent streams for train and test via ``numpy.random.SeedSequence``).
      center: subtract the mean image of the drawn training points before projecting onto the sphere.
      balanced: draw (as nearly as possible) equally many points per class; else uniformly at random.
      dtype: ``"float64"`` (default) or ``"float32"`` for the inputs and targets.
      source, download: passed to :func:`load`. ``raw``: an already loaded :class:`RawDataset` to use.
    """
    if not isinstance(name, str) or name not in DATASETS + tuple(TWO_CLASS):
        raise check.fail("name", name, "one of " + ", ".join(repr(a) for a in DATASETS + tuple(TWO_CLASS)))
    if name in TWO_CLASS:
        base, pair = TWO_CLASS[name]
        if classes is not None and _classes(base, classes) != pair:
            raise check.fail("classes", classes, f"None for {name!r} (it means classes {pair}); or use name={base!r}")
        name, classes = base, pair
    cls = _classes(name, classes)
    if n_train is not None:
        n_train = check.integer("n_train", n_train, minimum=1)
    if n_test is not None:
        n_test = check.integer("n_test", n_test, minimum=1)
    seed = check.integer("seed", seed, minimum=0)
    for flag, v in (("center", center), ("balanced", balanced)):
        if not isinstance(v, (bool, np.bool_)):
            raise check.fail(flag, v, "True or False")
    dt = check.dtype("dtype", dtype)
    if raw is None:
        raw = load(name, source=source, download=download)
    elif not isinstance(raw, RawDataset) or raw.name != name:
        raise check.fail("raw", raw, f"a RawDataset of {name!r} (from companion.data.load)")

    rng_train, rng_test = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    itr = _draw(raw.y_train, cls, n_train, rng_train, balanced, "train")
    ite = _draw(raw.y_test, cls, n_test, rng_test, balanced, "test")

    def flat(x, idx):
        return x[idx].reshape(len(idx), -1).astype(np.float64) / 255.0

    xtr, xte = flat(raw.x_train, itr), flat(raw.x_test, ite)
    mean = xtr.mean(axis=0) if center else None
    if center:
        xtr -= mean
        xte -= mean
    for split, x in (("train", xtr), ("test", xte)):
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        if np.any(norms == 0):
            raise ValueError(f"a {split} image is zero after preprocessing and cannot be projected onto the sphere")
        x /= norms

    ltr, lte = raw.y_train[itr], raw.y_test[ite]

    def targets(labels):
        if len(cls) == 2:
            return np.where(labels == cls[0], 1.0, -1.0)
        return (labels[:, None] == np.asarray(cls)[None, :]).astype(np.float64)

    names = class_names(name)
    meta = {
        "dataset": name,
        "title": TITLES[name],
        "classes": list(cls),
        "class_names": [names[c] for c in cls],
        "targets": "+-1 (first class +1)" if len(cls) == 2 else "one-hot",
        "n_train": int(len(itr)),
        "n_test": int(len(ite)),
        "n_train_available": int(np.isin(raw.y_train, cls).sum()),
        "n_test_available": int(np.isin(raw.y_test, cls).sum()),
        "counts_train": [int((ltr == c).sum()) for c in cls],
        "counts_test": [int((lte == c).sum()) for c in cls],
        "seed": seed,
        "center": bool(center),
        "balanced": bool(balanced),
        "dtype": dt.name,
        "d": int(xtr.shape[1]),
        "preprocessing": ("pixels/255, flattened" + (", centred by the training mean image" if center else "")
                          + ", projected onto the unit sphere"),
        "source": raw.source,
        "source_kind": raw.source_kind,
        "source_sha256": raw.sha256,
        "complete_source": raw.complete,
    }
    return Dataset(xtr.astype(dt), targets(ltr).astype(dt), xte.astype(dt), targets(lte).astype(dt), ltr, lte,
                   itr, ite, meta)
