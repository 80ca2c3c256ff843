"""Atomic file writes, checksums and a content-addressed cache.

Every file the package writes goes through :func:`atomic_open` (or the helpers built on it): the data
is written to a temporary file in the target folder, flushed to disk and renamed over the target with
:func:`os.replace`, so a reader sees either the old file or the complete new one, never a partial
file, even if the writer is killed.

:class:`Cache` stores results under a key that is the sha256 of a canonical JSON of the inputs that
determine them. Each entry records the sha256 and size of its payload; on read a mismatch (truncated,
edited or half-written file) is detected, reported with a :class:`CorruptCacheWarning`, the entry
is deleted and the caller recomputes. A corrupt entry is never returned.
"""

from __future__ import annotations

import contextlib
import hashlib
import io as _io
import json
import math
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from companion.util import validate as check

__all__ = [
    "atomic_open",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_savez",
    "sha256_bytes",
    "sha256_file",
    "canonical_json",
    "content_key",
    "Cache",
    "CorruptCacheWarning",
]

_CHUNK = 1 << 20


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[Any]:
    """Open a temporary file beside ``path``; on clean exit rename it over ``path``.

    ``mode`` is ``"wb"`` or ``"w"`` (text, ``encoding`` default utf-8). If the block raises, the
    temporary file is removed and ``path`` is left untouched. Parent folders are created. The file
    gets the usual permissions (0666 minus the umask), not ``mkstemp``'s 0600.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode={mode!r} is invalid; allowed: 'wb' or 'w'")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if mode == "w":
            fh = os.fdopen(fd, "w", encoding=encoding or "utf-8", newline="")
        else:
            fh = os.fdopen(fd, "wb")
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise check.fail("data", f"a {type(data).__name__}", "bytes (use atomic_write_text for str)")
    with atomic_open(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (no newline translation); return the path."""
    if not isinstance(text, str):
        raise check.fail("text", f"a {type(text).__name__}", "str (use atomic_write_bytes for bytes)")
    return atomic_write_bytes(path, text.encode(encoding))


def atomic_savez(path: str | os.PathLike, /, compressed: bool = False, **arrays: Any) -> Path:
    """``np.savez`` (or ``np.savez_compressed``) to exactly ``path``, atomically; return the path.

    Unlike ``np.savez`` with a file name, no ``.npz`` suffix is appended.
    """
    if not arrays:
        raise check.fail("arrays", "none", "at least one array (atomic_savez(path, name=array, ...))")
    save = np.savez_compressed if compressed else np.savez
    with atomic_open(path, "wb") as fh:
        save(fh, **arrays)
    return Path(path)


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of the file at ``path``, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: NumPy/JAX scalars and arrays become Python numbers and (nested) lists,
    tuples lists, mapping keys strings. The one converter for results and figure parameters (a cache
    key instead digests arrays: :func:`canonical_json`).

    Raises:
      ValueError: a value that is none of numbers, strings, booleans, None, arrays, lists and dicts of them.
    """
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if value is None or isinstance(value, str):
        return value
    if hasattr(value, "__array__"):
        return to_jsonable(np.asarray(value).tolist())
    raise check.fail("result value", value, "numbers, strings, booleans, None, arrays, lists and dicts of them")


def _jsonable(obj: Any) -> Any:
    if obj is None or isinstance(obj, (bool, str, int)):
        return obj
    if isinstance(obj, float):
        if not math.isfinite(obj):
            return {"__float__": repr(obj)}
        return obj
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, np.ndarray) or (hasattr(obj, "__array__") and hasattr(obj, "shape") and hasattr(obj, "dtype")):
        arr = np.ascontiguousarray(np.asarray(obj))
        return {"__array__": sha256_bytes(arr.tobytes()), "shape": list(arr.shape), "dtype": arr.dtype.str}
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TypeError(f"cache inputs: mapping keys must be str, got {k!r}")
            out[k] = _jsonable(v)
        return out
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(
        f"cache inputs: cannot hash a {type(obj).__name__} ({obj!r:.60}); use str, numbers, bool, None, "
        "lists, dicts with str keys, or arrays"
    )


def canonical_json(inputs: Any) -> str:
    """A canonical JSON text for ``inputs`` (sorted keys, no spaces, tuples as lists).

    Arrays (NumPy or JAX) are represented by the sha256 of their bytes, shape and dtype; non-finite
    floats by their repr. Anything else that JSON cannot hold raises :class:`TypeError`.
    """
    return json.dumps(_jsonable(inputs), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def content_key(inputs: Any) -> str:
    """sha256 (hex) of :func:`canonical_json` of ``inputs``."""
    return sha256_bytes(canonical_json(inputs).encode())


class CorruptCacheWarning(UserWarning):
    """A cache entry failed its checksum (or could not be read); it was deleted."""


class Cache:
    """A content-addressed store of byte payloads or dicts of arrays in one folder.

    Layout: ``<root>/<key>.json`` (manifest: payload file, its sha256 and size, the canonical inputs)
    and ``<root>/<key>-<sha256[:16]>.<ext>`` (payload). The payload is written first, the manifest
    last, both atomically, so an interrupted write leaves no entry (at worst an orphan payload that
    the next ``put`` of that key removes).

    Example::

        cache = Cache(cache_dir / "kernels")
        arrays = cache.get_or_compute({"depth": 3, "x": x}, lambda: {"K": compute_kernel(x, 3)})
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def key(self, inputs: Any) -> str:
        """The entry key of ``inputs`` (see :func:`content_key`)."""
        return content_key(inputs)

    def _manifest(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def _drop(self, key: str, reason: str) -> None:
        warnings.warn(f"cache entry {self._manifest(key)}: {reason}; deleted, will recompute", CorruptCacheWarning,
                      stacklevel=3)
        self.delete_key(key)

    def delete_key(self, key: str) -> None:
        """Remove the entry ``key`` (manifest and payloads); missing files are fine."""
        with contextlib.suppress(FileNotFoundError):
            self._manifest(key).unlink()
        if self.root.is_dir():
            for p in self.root.glob(f"{key}-*"):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()

    def __contains__(self, inputs: Any) -> bool:
        return self._manifest(self.key(inputs)).exists()

    # -- bytes ------------------------------------------------------------------------------------
    def put_bytes(self, inputs: Any, data: bytes, *, ext: str = "bin") -> Path:
        """Store ``data`` under ``inputs``; return the payload path."""
        if not (isinstance(ext, str) and ext and ext.isalnum()):
            raise check.fail("ext", ext, "a file extension of letters and digits, e.g. 'npz'")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise check.fail("data", f"a {type(data).__name__}", "bytes")
        key = self.key(inputs)
        digest = sha256_bytes(data)
        payload = self.root / f"{key}-{digest[:16]}.{ext}"
        atomic_write_bytes(payload, data)
        manifest = {"key": key, "file": payload.name, "sha256": digest, "bytes": len(data),
                    "inputs": json.loads(canonical_json(inputs))}
        atomic_write_text(self._manifest(key), json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        for p in self.root.glob(f"{key}-*"):  # stale payloads from earlier puts or interrupted writes
            if p.name != payload.name and not p.name.startswith("."):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
        return payload

    def get_bytes(self, inputs: Any) -> bytes | None:
        """The verified payload stored under ``inputs``, or ``None`` (absent, or corrupt and deleted)."""
        key = self.key(inputs)
        mpath = self._manifest(key)
        try:
            raw = mpath.read_bytes()
        except FileNotFoundError:
            return None
        try:
            manifest = json.loads(raw.decode("utf-8"))  # a damaged manifest may not even be UTF-8
            name, digest, size = manifest["file"], manifest["sha256"], int(manifest["bytes"])
            if "/" in name or "\\" in name or not name.startswith(key):
                raise ValueError(f"bad payload name {name!r}")
        except (ValueError, KeyError, TypeError) as exc:
            self._drop(key, f"unreadable manifest ({exc})")
            return None
        try:
            data = (self.root / name).read_bytes()
        except FileNotFoundError:
            self._drop(key, f"payload {name} is missing")
            return None
        if len(data) != size:
            self._drop(key, f"payload {name} has {len(data)} bytes, expected {size} (truncated?)")
            return None
        actual = sha256_bytes(data)
        if actual != digest:
            self._drop(key, f"payload {name} sha256 {actual} != recorded {digest}")
            return None
        return data

    # -- arrays -----------------------------------------------------------------------------------
    def put(self, inputs: Any, arrays: Mapping[str, Any]) -> Path:
        """Store a dict of arrays (as an uncompressed ``.npz``) under ``inputs``; return its path."""
        if not isinstance(arrays, Mapping) or not arrays:
            raise check.fail("arrays", arrays, "a non-empty dict of arrays")
        arrays = {k: np.asarray(v) for k, v in arrays.items()}
        for k, v in arrays.items():
            if v.dtype.hasobject:  # would be pickled, and get() (allow_pickle=False) could never read it back
                raise check.fail(f"arrays[{k!r}]", f"array of dtype {v.dtype}", "numeric, boolean or string arrays")
        buf = _io.BytesIO()
        np.savez(buf, **arrays)
        return self.put_bytes(inputs, buf.getvalue(), ext="npz")

    def get(self, inputs: Any) -> dict[str, np.ndarray] | None:
        """The verified dict of arrays stored under ``inputs``, or ``None``."""
        data = self.get_bytes(inputs)
        if data is None:
            return None
        try:
            with np.load(_io.BytesIO(data), allow_pickle=False) as npz:
                return {k: npz[k] for k in npz.files}
        except Exception as exc:  # checksum matched but it is not an npz: written by put_bytes
            self._drop(self.key(inputs), f"payload is not a readable .npz ({exc})")
            return None

    def get_or_compute(self, inputs: Any, compute: Callable[[], Mapping[str, Any]]) -> dict[str, np.ndarray]:
        """Return the cached arrays for ``inputs``, or call ``compute()``, store and return them."""
        hit = self.get(inputs)
        if hit is not None:
            return hit
        result = compute()
        if not isinstance(result, Mapping):
            raise check.fail("compute()", result, "a dict of arrays")
        arrays = {k: np.asarray(v) for k, v in result.items()}
        self.put(inputs, arrays)
        return arrays
