"""companion.util.storage: atomic writes, checksums, the content-addressed cache and its corruption handling."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest

from companion.util import storage as io


def test_atomic_write_bytes_and_text(tmp_path):
    p = tmp_path / "sub" / "a.bin"
    assert io.atomic_write_bytes(p, b"hello") == p
    assert p.read_bytes() == b"hello"
    io.atomic_write_text(p, "wörld\n")
    assert p.read_bytes() == "wörld\n".encode()
    umask = os.umask(0)
    os.umask(umask)
    assert p.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    assert [f.name for f in p.parent.iterdir()] == ["a.bin"]  # no temporary left


def test_atomic_open_failure_leaves_old_file(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("old")
    with pytest.raises(RuntimeError):
        with io.atomic_open(p, "w") as fh:
            fh.write("partial new content")
            raise RuntimeError("killed mid-write")
    assert p.read_text() == "old"
    assert sorted(f.name for f in tmp_path.iterdir()) == ["a.txt"]
    with pytest.raises(ValueError, match="mode"):
        with io.atomic_open(p, "a"):
            pass


def test_atomic_savez_exact_name(tmp_path):
    p = tmp_path / "arrays.bin"
    io.atomic_savez(p, a=np.arange(3), b=np.eye(2))
    assert p.exists() and not (tmp_path / "arrays.bin.npz").exists()
    with np.load(p) as z:
        np.testing.assert_array_equal(z["a"], np.arange(3))
    io.atomic_savez(p, compressed=True, a=np.zeros(1000))
    with np.load(p) as z:
        assert z["a"].shape == (1000,)
    with pytest.raises(ValueError):
        io.atomic_savez(p)


def test_sha256(tmp_path):
    data = os.urandom(3 * (1 << 20) + 17)
    p = tmp_path / "x"
    p.write_bytes(data)
    assert io.sha256_file(p) == hashlib.sha256(data).hexdigest() == io.sha256_bytes(data)


def test_canonical_key():
    a = {"b": 1, "a": (1.5, None, "s"), "x": np.arange(4.0)}
    b = {"x": np.arange(4.0), "a": [1.5, None, "s"], "b": 1}
    assert io.content_key(a) == io.content_key(b)
    assert io.content_key({"x": np.arange(4.0)}) != io.content_key({"x": np.arange(4.0).astype(np.float32)})
    assert io.content_key({"v": np.float64(0.5)}) == io.content_key({"v": 0.5})
    assert io.content_key({"v": 1}) != io.content_key({"v": "1"})
    assert io.content_key(float("inf")) != io.content_key(float("-inf"))
    with pytest.raises(TypeError, match="cannot hash"):
        io.content_key({"f": object()})
    with pytest.raises(TypeError, match="keys must be str"):
        io.content_key({1: 2})


def test_cache_roundtrip_and_get_or_compute(tmp_path):
    cache = io.Cache(tmp_path / "c")
    calls = []

    def compute():
        calls.append(1)
        return {"K": np.ones((3, 3)), "v": np.arange(3)}

    inputs = {"depth": 3, "x": np.arange(6.0).reshape(2, 3)}
    assert cache.get(inputs) is None and inputs not in cache
    r1 = cache.get_or_compute(inputs, compute)
    r2 = cache.get_or_compute(inputs, compute)
    assert len(calls) == 1 and inputs in cache
    np.testing.assert_array_equal(r1["K"], r2["K"])
    manifest = json.loads((tmp_path / "c" / f"{cache.key(inputs)}.json").read_text())
    assert manifest["inputs"]["depth"] == 3
    # overwriting the same key leaves one payload
    cache.put(inputs, {"K": np.zeros(2)})
    assert len(list((tmp_path / "c").glob(f"{cache.key(inputs)}-*"))) == 1
    np.testing.assert_array_equal(cache.get(inputs)["K"], np.zeros(2))


def _payload(cache, inputs):
    (p,) = cache.root.glob(f"{cache.key(inputs)}-*")
    return p


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete_payload", "bad_manifest", "empty_manifest"])
def test_cache_corruption_detected_deleted_recomputed(tmp_path, damage):
    cache = io.Cache(tmp_path)
    inputs = {"n": 5}
    cache.put(inputs, {"a": np.arange(1000.0)})
    p = _payload(cache, inputs)
    raw = p.read_bytes()
    if damage == "flip":
        p.write_bytes(raw[:500] + bytes([raw[500] ^ 1]) + raw[501:])
    elif damage == "truncate":
        p.write_bytes(raw[: len(raw) // 2])
    elif damage == "delete_payload":
        p.unlink()
    elif damage == "bad_manifest":
        (tmp_path / f"{cache.key(inputs)}.json").write_text("{not json")
    else:
        (tmp_path / f"{cache.key(inputs)}.json").write_text("")
    with pytest.warns(io.CorruptCacheWarning, match="deleted"):
        assert cache.get(inputs) is None
    assert list(tmp_path.iterdir()) == []  # the whole entry is gone
    with pytest.warns(io.CorruptCacheWarning):
        cache.put(inputs, {"a": np.arange(1000.0)})
        p = _payload(cache, inputs)
        p.write_bytes(p.read_bytes()[:-1])
        out = cache.get_or_compute(inputs, lambda: {"a": np.arange(1000.0) + 1})
    np.testing.assert_array_equal(out["a"], np.arange(1000.0) + 1)  # recomputed, not the corrupt one
    np.testing.assert_array_equal(cache.get(inputs)["a"], np.arange(1000.0) + 1)


def test_cache_bytes_not_npz(tmp_path):
    cache = io.Cache(tmp_path)
    cache.put_bytes("k", b"raw bytes")
    assert cache.get_bytes("k") == b"raw bytes"
    with pytest.warns(io.CorruptCacheWarning, match="npz"):
        assert cache.get("k") is None
