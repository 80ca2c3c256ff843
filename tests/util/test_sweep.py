"""Resumable sweeps: skip finished points, survive SIGKILL, detect and recompute corrupt entries."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from companion.util.sweep import STALE_SECONDS, SweepWarning, point_key, run_sweep

GRID = [{"a": a, "b": b} for a in range(3) for b in ("x", "y")]


def square(p):
    return {"value": p["a"] ** 2, "vec": np.arange(p["a"] + 1), "tag": p["b"] * 2, "nan": float("nan")}


class Counter:
    def __init__(self, fn=square):
        self.fn, self.calls = fn, []

    def __call__(self, p):
        self.calls.append(p)
        return self.fn(p)


def test_results_in_order_and_cached(tmp_path):
    fn = Counter()
    out = run_sweep("sq", GRID, fn, tmp_path, progress=False)
    assert len(fn.calls) == len(GRID)
    assert [(r["a"], r["b"]) for r in out] == [(p["a"], p["b"]) for p in GRID]
    assert out[2]["value"] == 1 and out[2]["vec"] == [0, 1] and out[2]["tag"] == "xx" and np.isnan(out[2]["nan"])
    assert not any(r["_cached"] for r in out)
    again = Counter()
    out2 = run_sweep("sq", GRID, again, tmp_path, progress=False)
    assert again.calls == [] and all(r["_cached"] for r in out2)
    strip = lambda rs: [{k: v for k, v in r.items() if k not in ("_cached", "nan")} for r in rs]  # noqa: E731
    assert strip(out2) == strip(out)
    # A new version or a new point is computed; the others are reused.
    newer = Counter()
    run_sweep("sq", GRID + [{"a": 9, "b": "x"}], newer, tmp_path, progress=False)
    assert newer.calls == [{"a": 9, "b": "x"}]
    v2 = Counter()
    run_sweep("sq", GRID[:2], v2, tmp_path, progress=False, version="2")
    assert len(v2.calls) == 2


def test_progress_messages(tmp_path, capsys):
    run_sweep("msg", GRID[:2], square, tmp_path, progress=True)
    err = capsys.readouterr().err
    assert "computing a=0, b=x" in err and "done in" in err


SCRIPT = textwrap.dedent(
    """
    import sys, time
    from companion.util.sweep import run_sweep

    def slow(p):
        time.sleep(0.4)
        return {"value": p["i"] * 10}

    run_sweep("killed", [{"i": i} for i in range(12)], slow, sys.argv[1], progress=False)
    """
)


def test_resumes_after_sigkill(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    folder = tmp_path / "out" / "killed"
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "out")])
    try:
        deadline = time.time() + 120
        while time.time() < deadline and len(list(folder.glob("*.json"))) < 3:
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    done = {json.loads(f.read_text())["params"]["i"] for f in folder.glob("*.json")}
    assert 3 <= len(done) < 12, done
    fn = Counter(lambda p: {"value": p["i"] * 10})
    out = run_sweep("killed", [{"i": i} for i in range(12)], fn, tmp_path / "out", progress=False)
    assert sorted(p["i"] for p in fn.calls) == sorted(set(range(12)) - done)
    assert [r["value"] for r in out] == [i * 10 for i in range(12)]
    assert not list(folder.glob(".*.tmp"))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "edit_result", "wrong_params", "not_object"])
def test_corrupt_entry_is_recomputed(tmp_path, damage):
    run_sweep("c", GRID, square, tmp_path, progress=False)
    path = tmp_path / "c" / f"{point_key('c', '1', GRID[3])}.json"
    text = path.read_text()
    entry = json.loads(text)
    if damage == "truncate":
        path.write_text(text[: len(text) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00\xff" * 10)
    elif damage == "edit_result":
        entry["result"]["value"] = 12345
        path.write_text(json.dumps(entry))
    elif damage == "wrong_params":
        entry["params"] = GRID[0]
        path.write_text(json.dumps(entry))
    else:
        path.write_text("[1, 2]")
    fn = Counter()
    with pytest.warns(SweepWarning, match="corrupt"):
        out = run_sweep("c", GRID, fn, tmp_path, progress=False)
    assert fn.calls == [GRID[3]]
    assert out[3]["value"] == GRID[3]["a"] ** 2
    assert json.loads(path.read_text())["result"]["value"] == GRID[3]["a"] ** 2  # repaired on disk


def test_stale_temporary_files_removed(tmp_path):
    folder = tmp_path / "t"
    folder.mkdir()
    stale = folder / ".abc.json.123.tmp"
    stale.write_text("half")
    old = time.time() - 2 * STALE_SECONDS
    os.utime(stale, (old, old))  # left over from a write killed long ago
    fresh = folder / ".def.json.456.tmp"  # another process's write in flight: must not be pulled away
    fresh.write_text("writing")
    run_sweep("t", GRID[:1], square, tmp_path, progress=False)
    assert not stale.exists() and fresh.exists()


def test_failure_keeps_finished_points(tmp_path):
    def boom(p):
        if p["a"] == 2:
            raise RuntimeError("boom")
        return {"value": 1}

    with pytest.raises(RuntimeError, match="boom"):
        run_sweep("f", GRID, boom, tmp_path, progress=False)
    assert len(list((tmp_path / "f").glob("*.json"))) == 4


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="name"):
        run_sweep("../x", GRID, square, tmp_path, progress=False)
    with pytest.raises(ValueError, match="grid"):
        run_sweep("d", GRID + GRID[:1], square, tmp_path, progress=False)
    with pytest.raises(ValueError, match="grid\\[0\\]"):
        run_sweep("d", [3], square, tmp_path, progress=False)
    with pytest.raises(ValueError, match="keys"):
        run_sweep("d", GRID[:1], lambda p: {"a": 1}, tmp_path, progress=False)
    with pytest.raises(ValueError, match="result value"):
        run_sweep("d2", GRID[:1], lambda p: {"v": object()}, tmp_path, progress=False)
    with pytest.raises(ValueError, match="fn"):
        run_sweep("d3", GRID[:1], lambda p: 3, tmp_path, progress=False)
    assert not list(Path(tmp_path, "d2").glob("*.json"))
