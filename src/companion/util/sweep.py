"""Resumable parameter sweeps: every finished grid point is its own small JSON file.

``run_sweep(name, grid, fn, out_dir)`` evaluates ``fn(point)`` for every ``point`` of ``grid`` and returns
the results in grid order. Each result is stored as ``out_dir/name/<key>.json``, where ``key`` is the
sha256 of the sweep's name, its ``version`` string and the point's parameters (canonical JSON), so

* a rerun skips every point already finished (a sweep killed half-way resumes where it stopped);
* changing ``version`` (or a point's parameters) computes afresh; stale files are simply not read;
* each file is written atomically (:func:`companion.util.storage.atomic_write_text`: temporary file in the same
  folder, ``fsync``, ``os.replace``), so
  a crash never leaves a half-written entry under a valid name;
* each file is verified on read (parseable, same name, version and parameters, and a sha256 of its
  result that matches): a corrupt or truncated entry is reported with a warning, deleted and
  recomputed.

Results must be JSON-serialisable after :func:`to_jsonable` (NumPy scalars and arrays become numbers
and lists; non-finite floats are kept as ``NaN``/``Infinity``). A progress bar (tqdm) shows the sweep,
and each computed point is announced with its parameters and how long it took; both go through
:mod:`companion.util.console`, so in the book build they reach the build's terminal, not the page.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from companion.util import console
from companion.util import validate as check
from companion.util.storage import atomic_write_text, to_jsonable

__all__ = ["run_sweep", "point_key", "to_jsonable", "load_entry", "SweepWarning"]

FORMAT = 1  # layout of the stored entries (bump if the file format changes)
STALE_SECONDS = 3600.0  # a temporary file this old is left over from a killed write (a live one is milliseconds old)


class SweepWarning(UserWarning):
    """A stored sweep entry was unreadable or inconsistent and is being recomputed."""


def _canonical(value: Any) -> str:
    return json.dumps(to_jsonable(value), sort_keys=True, separators=(",", ":"), allow_nan=True)


def point_key(name: str, version: str, point: Mapping[str, Any]) -> str:
    """The content address of one grid point: sha256 of name, version and parameters (24 hex digits)."""
    if not isinstance(point, Mapping):
        raise check.fail("point", point, "a dict of parameters")
    blob = _canonical({"format": FORMAT, "name": name, "version": version, "params": dict(point)})
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def load_entry(path: Path, name: str, version: str, point: Mapping[str, Any]) -> dict | None:
    """Read and verify one stored entry; ``None`` if it is missing. Raises ``ValueError`` if it is corrupt."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        entry = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"not valid JSON ({err.msg} at character {err.pos})") from None
    if not isinstance(entry, dict):
        raise ValueError("not a JSON object")
    expected = {"format": FORMAT, "name": name, "version": version, "params": json.loads(_canonical(dict(point)))}
    for field, want in expected.items():
        if field not in entry:
            raise ValueError(f"missing field {field!r}")
        if _canonical(entry[field]) != _canonical(want):
            raise ValueError(f"field {field!r} is {entry[field]!r}, expected {want!r}")
    if "result" not in entry or not isinstance(entry["result"], dict):
        raise ValueError("missing or malformed 'result'")
    digest = hashlib.sha256(_canonical(entry["result"]).encode()).hexdigest()
    if entry.get("sha256") != digest:
        raise ValueError("the result's sha256 does not match its content")
    return entry


def _describe(point: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items())


def run_sweep(
    name: str,
    grid: Sequence[Mapping[str, Any]],
    fn: Callable[[dict], Mapping[str, Any]],
    out_dir: str | os.PathLike,
    progress: bool = True,
    *,
    version: str = "1",
) -> list[dict]:
    """Evaluate ``fn`` on every grid point, reusing the points already stored under ``out_dir``.

    Args:
      name: the sweep's name (letters, digits, ``-``, ``_``, ``.``): its folder ``out_dir/name``.
      grid: the points, each a dict of JSON-able parameters (no duplicate points).
      fn: ``fn(point) -> dict`` of JSON-able results; its keys must not repeat a parameter's name.
      out_dir: folder for the sweep's entries (created if needed).
      progress: show a tqdm progress bar and announce each computed point (on stderr; in the book
        build in the build log, see :mod:`companion.util.console`).
      version: part of every entry's address: change it whenever ``fn`` changes meaning.

    Returns:
      One dict per grid point, in grid order: ``{**point, **result}``, plus ``"_seconds"`` (the time
      the point took when it was computed) and ``"_cached"`` (whether it was read from disk).

    Raises:
      ValueError: on a malformed name or grid, a non-JSON-able result or a result key that repeats
        a parameter name. Exceptions raised by ``fn`` propagate; points finished before stay stored.
    """
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_." for c in name) or name[0] == ".":
        raise check.fail("name", name, "a non-empty name of letters, digits, '-', '_', '.' not starting with '.'")
    if not isinstance(version, str):
        raise check.fail("version", version, "a string")
    if isinstance(grid, (str, bytes, Mapping)) or not isinstance(grid, (Sequence, np.ndarray)):
        raise check.fail("grid", grid, "a list of dicts of parameters")
    if not callable(fn):
        raise check.fail("fn", fn, "a function fn(point) -> dict of results")
    points = [dict(p) if isinstance(p, Mapping) else None for p in grid]
    for i, p in enumerate(points):
        if p is None:
            raise check.fail(f"grid[{i}]", grid[i], "a dict of parameters")
        to_jsonable(p)
    keys = [point_key(name, version, p) for p in points]
    if len(set(keys)) != len(keys):
        dup = next(points[i] for i, k in enumerate(keys) if keys.index(k) != i)
        raise check.fail("grid", f"a grid with the point {dup} twice", "distinct points")
    folder = Path(out_dir) / name
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for stale in folder.glob(".*.tmp"):  # temporary files of a write that was killed
        # Only old ones: a fresh one may be another process's write in flight (same sweep, same folder).
        with contextlib.suppress(OSError):
            if now - stale.stat().st_mtime > STALE_SECONDS:
                stale.unlink()

    out: list[dict] = []
    bar = console.progress(total=len(points), desc=name, disable=not progress)
    try:
        for point, key in zip(points, keys):
            path = folder / f"{key}.json"
            try:
                entry = load_entry(path, name, version, point)
            except ValueError as err:
                warnings.warn(f"sweep {name!r}: stored entry {path} is corrupt ({err}); deleting and recomputing", SweepWarning, stacklevel=2)
                with contextlib.suppress(OSError):
                    path.unlink()
                entry = None
            cached = entry is not None
            if entry is None:
                if progress:
                    console.write(f"[{name}] computing {_describe(point)}")
                t0 = time.perf_counter()
                result = fn(dict(point))
                seconds = time.perf_counter() - t0
                if not isinstance(result, Mapping):
                    raise check.fail("fn(point)", result, "a dict of results")
                result = to_jsonable(dict(result))
                clash = sorted(set(result) & set(point))
                if clash:
                    raise check.fail("fn(point) keys", clash, "names that are not parameter names")
                entry = {
                    "format": FORMAT,
                    "name": name,
                    "version": version,
                    "params": json.loads(_canonical(point)),
                    "result": result,
                    "sha256": hashlib.sha256(_canonical(result).encode()).hexdigest(),
                    "seconds": seconds,
                }
                atomic_write_text(path, json.dumps(entry, sort_keys=True, allow_nan=True))
                if progress:
                    console.write(f"[{name}] done in {seconds:.2f} s")
            result = entry["result"]
            out.append({**point, **result, "_seconds": float(entry.get("seconds", math.nan)), "_cached": cached})
            bar.update(1)
    finally:
        bar.close()
    return out
