"""Figure files: three formats plus sidecar, byte-reproducible, ids validated."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")  # tests only; chapters keep the inline backend so glue works
import matplotlib.pyplot as plt
import pytest

from companion.publish import figures


def _fig():
    figures.use_style()
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [1, 0, 2], label="a")
    ax.legend()
    return fig


def test_save_writes_three_formats_and_sidecar(tmp_path):
    fig = _fig()
    side = figures.save(fig, "fig-01-test", "A caption.", params={"depth": 3, "gammas": (0.5,)},
                        data_source="synthetic", out_dir=tmp_path)
    plt.close(fig)
    for ext in ("pdf", "svg", "png", "json"):
        assert (tmp_path / f"fig-01-test.{ext}").stat().st_size > 100
    on_disk = json.loads((tmp_path / "fig-01-test.json").read_text())
    assert on_disk == side
    assert side["id"] == "fig-01-test" and side["chapter"] == "01"
    assert side["parameters"] == {"depth": 3, "gammas": [0.5]}
    for key in ("caption", "data_source", "version", "git_commit", "date", "files"):
        assert side[key]
    assert (tmp_path / "fig-01-test.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob("*.tmp*")), "temporary files left behind"


def test_bytes_are_reproducible(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        fig = _fig()
        figures.save(fig, "fig-02-same", "Same.", out_dir=out)
        plt.close(fig)
    for ext in ("pdf", "svg", "png"):
        assert (a / f"fig-02-same.{ext}").read_bytes() == (b / f"fig-02-same.{ext}").read_bytes(), ext


@pytest.mark.parametrize("bad", ["fig-1-x", "figure-01-x", "fig-01-Upper", "fig-01-", 3])
def test_bad_ids(tmp_path, bad):
    fig = _fig()
    with pytest.raises(ValueError, match="fig_id="):
        figures.save(fig, bad, "c", out_dir=tmp_path)
    plt.close(fig)


def test_empty_caption(tmp_path):
    fig = _fig()
    with pytest.raises(ValueError, match="caption="):
        figures.save(fig, "fig-01-x", "  ", out_dir=tmp_path)
    plt.close(fig)
