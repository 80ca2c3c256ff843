"""companion.data: offline loaders on the real files, preprocessing, and fault injection for downloads.

The download path is exercised with small fake archives (fake sizes and checksums in a patched
registry) served through file:// URLs or an injected ``fetch``; no network is used.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import io as _io
import json
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest

from companion import data
from companion.util import storage as cio

SHARED = data.shared_dir()


def _have(file: str) -> bool:
    return (SHARED / file).is_file()


needs_mnist = pytest.mark.skipif(not _have("mnist_full.npz"), reason="shared/data/mnist_full.npz not available")
needs_cifar10 = pytest.mark.skipif(not _have("cifar10_subset.npz"), reason="shared/data/cifar10_subset.npz missing")
needs_cifar100 = pytest.mark.skipif(not _have("cifar100_subset.npz"), reason="shared/data/cifar100_subset.npz missing")


@pytest.fixture(autouse=True)
def _fresh_memo():
    data._MEMO.clear()
    data._VERIFIED.clear()
    yield
    data._MEMO.clear()
    data._VERIFIED.clear()


# ---------------------------------------------------------------------------------------------------
# the package copy of the checksums
def test_registry_matches_shared_files():
    reg = data._registry()
    canon = SHARED / "canonical_downloads.json"
    if canon.is_file():
        assert reg["downloads"] == json.loads(canon.read_text())
    readme = SHARED / "README.md"
    if readme.is_file():
        text = readme.read_text()
        for spec in reg["offline"].values():
            assert f"`{spec['file']}` | {spec['sha256']}" in text
    assert len(data.class_names("cifar100")) == 100 and len(data.class_names("cifar100", coarse=True)) == 20
    assert data.class_names("cifar10")[3] == "cat" and data.class_names("cifar10")[5] == "dog"


# ---------------------------------------------------------------------------------------------------
# real offline files
@needs_mnist
def test_load_mnist_offline():
    raw = data.load("mnist", download=False)
    assert raw.x_train.shape == (60000, 28, 28) and raw.x_test.shape == (10000, 28, 28)
    assert raw.x_train.dtype == np.uint8 and raw.y_train.dtype == np.int64
    assert raw.complete and raw.source_kind == "offline" and "mnist_full.npz" in raw.source
    assert raw.sha256.startswith("99b6212d") and np.bincount(raw.y_test).tolist()[1] == 1135
    assert data.load("mnist", download=False) is raw  # loaded once per process


@needs_cifar10
def test_load_cifar10_subset():
    raw = data.load("cifar10", download=False)
    assert (raw.n_train, raw.n_test) == (4000, 1000) and raw.x_train.shape[1:] == (32, 32, 3)
    assert not raw.complete and "4000/1000 of the official 50000/10000" in raw.source
    assert np.array_equal(raw.extra["index_train"], np.arange(4000))


@needs_cifar100
def test_load_cifar100_subset():
    raw = data.load("cifar100", download=False)
    assert (raw.n_train, raw.n_test) == (5000, 10000)
    assert np.all(np.bincount(raw.y_test) == 100)
    assert raw.extra["y_test_coarse"].max() == 19


@needs_mnist
def test_prepare_mnist2():
    ds = data.prepare("mnist2", n_train=200, n_test=100, seed=3)
    assert ds.x_train.shape == (200, 784) and ds.x_test.shape == (100, 784) and ds.x_train.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(ds.x_train, axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(np.linalg.norm(ds.x_test, axis=1), 1.0, rtol=1e-14)
    assert set(np.unique(ds.y_train)) == {-1.0, 1.0} and ds.y_train.sum() == 0  # balanced 100/100
    assert np.array_equal(ds.y_train == 1, ds.labels_train == 3)
    assert set(ds.labels_test) == {3, 5} and ds.meta["counts_test"] == [50, 50]
    m = ds.meta
    assert m["class_names"] == ["3", "5"] and m["n_train_available"] == 6131 + 5421 and m["seed"] == 3
    assert "mnist_full.npz" in ds.describe() and "200 train / 100 test" in ds.describe()
    # determinism and seed dependence
    again = data.prepare("mnist", classes=(3, 5), n_train=200, n_test=100, seed=3)
    assert np.array_equal(again.x_train, ds.x_train) and again.fingerprint() == ds.fingerprint()
    other = data.prepare("mnist2", n_train=200, n_test=100, seed=4)
    assert not np.array_equal(other.index_train, ds.index_train)
    # centring uses the training mean: re-derive one point by hand
    raw = data.load("mnist")
    x = raw.x_train[ds.index_train].reshape(200, -1) / 255.0
    v = raw.x_test[ds.index_test[0]].reshape(-1) / 255.0 - x.mean(0)
    np.testing.assert_allclose(ds.x_test[0], v / np.linalg.norm(v), rtol=1e-12, atol=1e-15)
    nc = data.prepare("mnist2", n_train=20, n_test=10, center=False, dtype="float32")
    assert nc.x_train.dtype == np.float32 and nc.y_train.dtype == np.float32 and np.all(nc.x_train >= 0)


@needs_cifar10
def test_prepare_cifar2_and_one_hot():
    ds = data.prepare("cifar2")  # all available deer/horse images of the offline subset (chapter 6's pair)
    assert (ds.n_train, ds.n_test) == (807, 192) and ds.d == 3072
    assert ds.meta["counts_train"] == [422, 385] and ds.meta["class_names"] == ["deer", "horse"]
    assert data.TWO_CLASS["cifar2"] == ("cifar10", data.DEFAULT_PAIRS["cifar10"])  # one source for the pair
    by_name = data.prepare("cifar10", classes=("deer", "horse"))
    assert np.array_equal(by_name.x_train, ds.x_train)
    ten = data.prepare("cifar10", n_train=100, n_test=50, seed=1)
    assert ten.y_train.shape == (100, 10) and np.all(ten.y_train.sum(1) == 1)
    assert np.all(ten.y_train.sum(0) == 10)  # class-balanced
    three = data.prepare("cifar10", classes=(0, 1, 2), n_train=31, n_test=9, balanced=False)
    assert three.y_train.shape == (31, 3) and np.array_equal(np.argmax(three.y_train, 1),
                                                            np.searchsorted([0, 1, 2], three.labels_train))


@needs_cifar10
def test_prepare_bad_arguments():
    with pytest.raises(ValueError, match="name="):
        data.prepare("svhn")
    with pytest.raises(ValueError, match="n_train=5000 is invalid; allowed: at most 807"):
        data.prepare("cifar2", n_train=5000)
    with pytest.raises(ValueError, match="class-balanced"):
        data.prepare("cifar2", n_train=800)  # 400 horses needed, 385 available
    assert data.prepare("cifar2", n_train=800, balanced=False).n_train == 800
    with pytest.raises(ValueError, match="classes="):
        data.prepare("cifar10", classes=(3, 10))
    with pytest.raises(ValueError, match="classes="):
        data.prepare("cifar10", classes=(3, 3))
    with pytest.raises(ValueError, match="classes="):
        data.prepare("cifar10", classes=("cat", "wolf"))
    with pytest.raises(ValueError, match="classes="):
        data.prepare("cifar10", classes=(3,))
    with pytest.raises(ValueError, match="classes="):
        data.prepare("cifar2", classes=(0, 1))
    with pytest.raises(ValueError, match="n_test="):
        data.prepare("cifar2", n_test=0)
    with pytest.raises(ValueError, match="seed="):
        data.prepare("cifar2", seed=-1)
    with pytest.raises(ValueError, match="center="):
        data.prepare("cifar2", center=1)
    with pytest.raises(ValueError, match="dtype="):
        data.prepare("cifar2", dtype="int8")
    with pytest.raises(ValueError, match="source="):
        data.load("cifar10", source="web")
    with pytest.raises(ValueError, match="raw="):
        data.prepare("mnist2", raw=data.load("cifar10"))


# ---------------------------------------------------------------------------------------------------
# fake archives for the download path
def _idx(arr: np.ndarray) -> bytes:
    head = bytes([0, 0, 8, arr.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    return head + arr.astype(np.uint8).tobytes()


def _gz(raw: bytes) -> bytes:
    buf = _io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as fh:
        fh.write(raw)
    return buf.getvalue()


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buf = _io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, _io.BytesIO(payload))
    return buf.getvalue()


@pytest.fixture
def fake_world(tmp_path, monkeypatch):
    """Empty data folders, a patched registry with fake archives served from ``tmp_path/server``."""
    rng = np.random.default_rng(0)
    server = tmp_path / "server"
    server.mkdir()
    arrays = {
        "x_train": rng.integers(0, 256, (12, 28, 28)), "y_train": np.arange(12) % 10,
        "x_test": rng.integers(0, 256, (6, 28, 28)), "y_test": np.arange(6) % 10,
    }
    files = {
        "train-images-idx3-ubyte.gz": _gz(_idx(arrays["x_train"])),
        "train-labels-idx1-ubyte.gz": _gz(_idx(arrays["y_train"])),
        "t10k-images-idx3-ubyte.gz": _gz(_idx(arrays["x_test"])),
        "t10k-labels-idx1-ubyte.gz": _gz(_idx(arrays["y_test"])),
    }
    # CIFAR-10 binary: records label + 3072 bytes (R plane, G plane, B plane)
    cif = {}
    img = rng.integers(0, 256, (7, 32, 32, 3)).astype(np.uint8)
    lab = np.arange(7, dtype=np.uint8) % 10

    def records(i0, i1, labels=1):
        out = b""
        for i in range(i0, i1):
            out += (bytes([lab[i] // 10 % 20, lab[i]]) if labels == 2 else bytes([lab[i]]))
            out += img[i].transpose(2, 0, 1).tobytes()
        return out

    cif["cifar-10-binary.tar.gz"] = _tar_gz(
        {f"cifar-10-batches-bin/data_batch_{b}.bin": records(b - 1, b) for b in range(1, 6)}
        | {"cifar-10-batches-bin/test_batch.bin": records(5, 7), "cifar-10-batches-bin/batches.meta.txt": b"x\n"})
    cif["cifar-100-binary.tar.gz"] = _tar_gz(
        {"cifar-100-binary/train.bin": records(0, 5, 2), "cifar-100-binary/test.bin": records(5, 7, 2)})
    for name, payload in (files | cif).items():
        (server / name).write_bytes(payload)

    reg = copy.deepcopy(data._registry())
    mn = reg["downloads"]["mnist"]
    mn["mirrors"] = [server.as_uri() + "/"]
    for name, payload in files.items():
        mn["files"][name].update(bytes=len(payload), sha256=hashlib.sha256(payload).hexdigest())
    for ds, fname in (("cifar10", "cifar-10-binary.tar.gz"), ("cifar100", "cifar-100-binary.tar.gz")):
        b = reg["downloads"][ds]["binary"]
        b.update(url=(server / fname).as_uri(), bytes=len(cif[fname]), sha256=hashlib.sha256(cif[fname]).hexdigest())
    monkeypatch.setattr(data, "_registry", lambda: reg)
    cache = tmp_path / "cache"
    monkeypatch.setenv("COMPANION_DATA", str(cache))
    monkeypatch.setattr(data, "_user_cache", lambda: tmp_path / "usercache")
    monkeypatch.setattr(data, "shared_dir", lambda: tmp_path / "shared")
    return {"server": server, "cache": cache, "reg": reg, "mnist": arrays, "files": files, "cifar": (img, lab)}


def _no_network(url):
    raise AssertionError(f"unexpected download of {url}")


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_download_convert_and_reuse(fake_world):
    raw = data.load("mnist", source="official", progress=False)  # file:// URLs through urllib
    assert raw.source_kind == "official" and raw.complete and "official archives" in raw.source
    for k, v in fake_world["mnist"].items():
        np.testing.assert_array_equal(getattr(raw, k), v)
    assert set(fake_world["files"]) <= set(_leftovers(fake_world["cache"]))
    data._MEMO.clear()
    data._VERIFIED.clear()
    again = data.load("mnist", fetch=_no_network)  # auto: local official archives + converted cache entry
    np.testing.assert_array_equal(again.x_train, raw.x_train)
    assert len(list((fake_world["cache"] / "converted").glob("*.json"))) == 1


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_binary_conversion(fake_world, name):
    img, lab = fake_world["cifar"]
    raw = data.load(name, source="official", progress=False)
    np.testing.assert_array_equal(raw.x_train, img[:5])  # HWC, planes re-interleaved
    np.testing.assert_array_equal(raw.x_test, img[5:])
    np.testing.assert_array_equal(raw.y_train, lab[:5])
    if name == "cifar100":
        np.testing.assert_array_equal(raw.extra["y_train_coarse"], lab[:5] // 10 % 20)


def _serve(fake_world, mutate=None, missing=()):
    def fetch(url):
        name = url.rsplit("/", 1)[-1]
        if name in missing:
            raise FileNotFoundError(f"404 {url}")
        payload = (fake_world["server"] / name).read_bytes()
        if mutate:
            payload = mutate(name, payload)
        yield payload[: len(payload) // 2]
        yield payload[len(payload) // 2:]
    return fetch


def _expect_failure(fake_world, fetch, *patterns):
    with pytest.warns(RuntimeWarning, match="download of"):
        with pytest.raises(data.DataNotFoundError) as info:
            data.load("cifar10", source="official", fetch=fetch, progress=False)
    for p in patterns:
        assert p in str(info.value), str(info.value)
    assert _leftovers(fake_world["cache"]) == []  # no partial or corrupt file, no temporary
    return str(info.value)


def test_checksum_mismatch(fake_world):
    expected = fake_world["reg"]["downloads"]["cifar10"]["binary"]["sha256"]

    def flip(name, payload):
        return payload[:100] + bytes([payload[100] ^ 0xFF]) + payload[101:]

    actual = None
    fetch = _serve(fake_world, mutate=flip)
    actual = hashlib.sha256(b"".join(fetch("x/cifar-10-binary.tar.gz"))).hexdigest()
    _expect_failure(fake_world, fetch, "cifar-10-binary.tar.gz", f"expected {expected}", f"got {actual}")


def test_truncated_download(fake_world):
    size = fake_world["reg"]["downloads"]["cifar10"]["binary"]["bytes"]

    def cut(fetch):
        def f(url):
            yield next(iter(fetch(url)))  # only the first half arrives
        return f

    _expect_failure(fake_world, cut(_serve(fake_world)), f"expected {size} bytes", "truncated")


def test_missing_file(fake_world):
    _expect_failure(fake_world, _serve(fake_world, missing={"cifar-10-binary.tar.gz"}), "FileNotFoundError", "404")


def test_mirror_fallback(fake_world):
    mn = fake_world["reg"]["downloads"]["mnist"]
    mn["mirrors"] = ["https://dead.invalid/mnist/"] + mn["mirrors"]

    def fetch(url):
        if "dead.invalid" in url:
            raise ConnectionError("unreachable")
        yield (fake_world["server"] / url.rsplit("/", 1)[-1]).read_bytes()

    with pytest.warns(RuntimeWarning, match="unreachable"):
        raw = data.load("mnist", source="official", fetch=fetch, progress=False)
    assert raw.n_train == 12


def test_corrupt_archive_in_cache_is_replaced(fake_world):
    fake_world["cache"].mkdir()
    target = fake_world["cache"] / "cifar-10-binary.tar.gz"
    good = (fake_world["server"] / target.name).read_bytes()
    target.write_bytes(good[:-10])  # a truncated earlier download
    with pytest.warns(RuntimeWarning, match="size mismatch"):
        raw = data.load("cifar10", download=True, fetch=_serve(fake_world), progress=False)
    assert raw.n_train == 5 and target.read_bytes() == good


def test_corrupt_archive_without_download_is_an_error(fake_world):
    fake_world["cache"].mkdir()
    target = fake_world["cache"] / "cifar-10-binary.tar.gz"
    target.write_bytes(b"garbage")
    with pytest.warns(RuntimeWarning, match="deleting"):
        with pytest.raises(data.DataNotFoundError, match="size mismatch: expected .* bytes, got 7 bytes"):
            data.load("cifar10", download=False)
    assert not target.exists()


def test_corrupt_converted_entry_is_recomputed(fake_world):
    data.load("cifar10", source="official", progress=False)
    data._MEMO.clear()
    (payload,) = (fake_world["cache"] / "converted").glob("*.npz")
    payload.write_bytes(payload.read_bytes()[:-5])
    with pytest.warns(cio.CorruptCacheWarning):
        raw = data.load("cifar10", fetch=_no_network)
    np.testing.assert_array_equal(raw.x_train, fake_world["cifar"][0][:5])


def test_offline_file_checksum(fake_world):
    """A corrupt offline .npz is never used: the error names the file, expected and actual sha256."""
    fake_world["cache"].mkdir()
    arrays = {"x": np.zeros((4, 32, 32, 3), np.uint8), "y": np.array([3, 5, 3, 5], np.uint8),
              "split": np.array([0, 0, 1, 1], np.uint8), "index": np.arange(4, dtype=np.uint16)}
    p = fake_world["cache"] / "cifar10_subset.npz"
    cio.atomic_savez(p, **arrays)
    spec = fake_world["reg"]["offline"]["cifar10"]
    spec.update(bytes=p.stat().st_size, sha256=cio.sha256_file(p))
    raw = data.load("cifar10", source="offline")
    assert raw.n_train == 2 and raw.source_kind == "offline"
    data._MEMO.clear()
    data._VERIFIED.clear()
    good = spec["sha256"]
    arrays["y"][0] = 4
    cio.atomic_savez(p, **arrays)  # same size, different content
    with pytest.warns(RuntimeWarning, match="sha256 mismatch"):
        with pytest.raises(data.DataNotFoundError) as info:
            data.load("cifar10", source="offline")
    assert str(p) in str(info.value) and good in str(info.value) and cio.sha256_file(p) in str(info.value)


def test_nothing_available(fake_world):
    with pytest.raises(data.DataNotFoundError, match="no verified copy of 'mnist'.*download=False"):
        data.load("mnist", download=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(data.DataNotFoundError, match="could not download"):
            data.load("cifar100", fetch=_serve(fake_world, missing={"cifar-100-binary.tar.gz"}), progress=False)


def test_two_class_targets_and_centring_on_fake_data(fake_world):
    """Without the real files: the first class is +1, and centring subtracts the mean of the drawn
    *training* images (never the test images'), re-derived by hand on the fake MNIST."""
    raw = data.load("mnist", source="official", progress=False)
    for classes in ((0, 1), (1, 0)):
        ds = data.prepare("mnist", classes=classes, n_train=4, n_test=2, raw=raw)
        assert np.array_equal(ds.y_train, np.where(ds.labels_train == classes[0], 1.0, -1.0))
        assert np.array_equal(ds.y_test, np.where(ds.labels_test == classes[0], 1.0, -1.0))
        assert sorted(ds.y_train.tolist()) == [-1.0, -1.0, 1.0, 1.0] and sorted(ds.y_test.tolist()) == [-1.0, 1.0]
        xtr = raw.x_train[ds.index_train].reshape(4, -1) / 255.0
        xte = raw.x_test[ds.index_test].reshape(2, -1) / 255.0
        assert np.max(np.abs(xtr.mean(0) - xte.mean(0))) > 0.1  # the two means differ: a swap would show
        for x, got in ((xtr, ds.x_train), (xte, ds.x_test)):
            v = x - xtr.mean(0)
            np.testing.assert_allclose(got, v / np.linalg.norm(v, axis=1, keepdims=True), rtol=1e-12, atol=1e-15)
    flipped = data.prepare("mnist", classes=(1, 0), n_train=4, n_test=2, raw=raw)
    same = data.prepare("mnist", classes=(0, 1), n_train=4, n_test=2, raw=raw)
    assert np.array_equal(flipped.index_train, same.index_train)  # same draw ...
    assert np.array_equal(flipped.y_train, -same.y_train)  # ... opposite signs
