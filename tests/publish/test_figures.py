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


# ------------------------------------------------------------------------------ data, style, legibility


def test_figure_data_is_exported_as_csv_named_in_the_sidecar(tmp_path):
    import csv

    figures.use_style()
    fig, (a, b) = plt.subplots(1, 2, figsize=(6, 3))
    a.plot([1, 2, 3], [0.5, 0.25, 0.125], label="FFNet")
    a.axhline(0.25, label="limit")
    a.set_title("kernel")
    a.set_xlabel("depth L")
    b.scatter([1.0, 2.0], [3.0, 4.0], label="seeds")
    b.bar([0, 1], [2.5, 3.5], label="counts")
    side = figures.save(fig, "fig-01-data", "Data.", out_dir=tmp_path)
    plt.close(fig)
    assert side["data"] == {"file": "fig-01-data.csv", "columns": list(figures.figure_data.COLUMNS), "how": "read from the figure"}
    assert side["files"]["csv"]["file"] == "fig-01-data.csv"
    rows = list(csv.DictReader((tmp_path / "fig-01-data.csv").open()))
    line = [(r["x"], r["y"]) for r in rows if r["series"] == "FFNet"]
    assert line == [("1", "0.5"), ("2", "0.25"), ("3", "0.125")]
    assert {r["panel_title"] for r in rows if r["panel"] == "1"} == {"kernel"}
    assert [r for r in rows if r["kind"] == "hline"][0]["y"] == "0.25"
    assert [(r["x"], r["y"]) for r in rows if r["kind"] == "scatter"] == [("1", "3"), ("2", "4")]
    assert [(r["x"], r["y"]) for r in rows if r["kind"] == "bar"] == [("0", "2.5"), ("1", "3.5")]


def test_an_unlabelled_line_is_named_in_the_data_by_its_gid(tmp_path):
    """A line kept out of the legend (no label) but given a gid: the CSV names it by the gid, and it is no series."""
    import csv

    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4], gid="L=10")
    ax.plot([1, 2], [5, 6])
    side = figures.save(fig, "fig-01-gid", "Gid.", out_dir=tmp_path)
    plt.close(fig)
    rows = list(csv.DictReader((tmp_path / "fig-01-gid.csv").open()))
    assert [r["series"] for r in rows] == ["L=10", "L=10", "line 2", "line 2"]
    assert side["print"]["max_series"] == 0


def test_figure_data_given_by_the_chapter(tmp_path):
    fig = _fig()
    side = figures.save(fig, "fig-01-given", "Given.", data={"depth": [1, 10], "k": [0.5, 0.26]}, out_dir=tmp_path)
    assert side["data"]["how"] == "given by the chapter" and side["data"]["columns"] == ["depth", "k"]
    assert (tmp_path / "fig-01-given.csv").read_text() == "depth,k\n1,0.5\n10,0.26\n"
    with pytest.raises(ValueError, match="data="):
        figures.save(fig, "fig-01-bad", "Bad.", data={"a": [1, 2], "b": [1]}, out_dir=tmp_path)
    assert not (tmp_path / "fig-01-bad.png").exists(), "a bad data argument writes nothing"
    plt.close(fig)


def test_csv_is_byte_identical_on_rerun(tmp_path):
    for out in (tmp_path / "a", tmp_path / "b"):
        fig = _fig()
        figures.save(fig, "fig-02-same", "Same.", out_dir=out)
        plt.close(fig)
    assert (tmp_path / "a" / "fig-02-same.csv").read_bytes() == (tmp_path / "b" / "fig-02-same.csv").read_bytes()


def test_style_is_legible_in_print_and_colour_blind_safe(tmp_path):
    import warnings

    figures.use_style()
    cycle = list(matplotlib.rcParams["axes.prop_cycle"])
    assert len(cycle) >= 6
    colours = [c["color"].lower().lstrip("#") for c in cycle]
    assert "f0e442" not in colours  # Okabe-Ito's yellow vanishes on white
    assert len({str(c["linestyle"]) for c in cycle}) == len(cycle) and len({c["marker"] for c in cycle}) == len(cycle)
    fig, ax = plt.subplots()  # the style's own size: prints at about 1:1
    for k in range(6):
        ax.plot(range(100), [k * i for i in range(100)], label=f"series {k}")
    ax.legend()
    with warnings.catch_warnings():
        warnings.simplefilter("error", figures.LegibilityWarning)
        side = figures.save(fig, "fig-01-style", "Style.", out_dir=tmp_path)
    assert side["print"]["min_font_pt"] >= figures.MIN_FONT_PT
    assert all(line.get_markevery() is not None for line in ax.get_lines())  # 100 points: markers thinned
    plt.close(fig)


def test_a_wide_figure_warns_that_its_letters_are_too_small_in_print(tmp_path):
    figures.use_style()
    fig, axes = plt.subplots(1, 4, figsize=(16, 3))
    for ax in axes:
        ax.plot([0, 1], [0, 1], label="a")
        ax.legend()
    with pytest.warns(figures.LegibilityWarning, match=r"fig-01-wide: its smallest text .* pt when the figure"):
        side = figures.save(fig, "fig-01-wide", "Wide.", out_dir=tmp_path)
    assert side["print"]["min_font_pt"] < figures.MIN_FONT_PT and side["print"]["scale"] < 0.5
    plt.close(fig)


def test_pdf_with_computer_modern_symbols_logs_no_font_timestamp_warning(tmp_path, caplog):
    """matplotlib's cm*.ttf fonts carry a zero timestamp; fontTools' warning about it is dropped (by message)."""
    import logging

    figures.use_style()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], label=r"$\mathcal{N}(0, 1)$")
    ax.legend()
    with caplog.at_level(logging.WARNING):
        figures.render(fig, "pdf")
    plt.close(fig)
    assert not [r for r in caplog.records if "timestamp" in r.getMessage()], caplog.text
    # The filter is removed again afterwards: fontTools' other messages are untouched.
    assert not logging.getLogger(figures._FONT_LOGGER).filters


def test_too_many_series_in_one_panel_warns(tmp_path):
    figures.use_style()
    fig, ax = plt.subplots()
    for k in range(8):
        ax.plot([0, 1], [k, k + 1], label=f"s{k}")
    with pytest.warns(figures.LegibilityWarning, match="8 labelled series"):
        side = figures.save(fig, "fig-01-crowded", "Crowded.", out_dir=tmp_path)
    assert side["print"]["max_series"] == 8
    plt.close(fig)


def test_panels_print_at_full_size_and_reject_a_bad_grid():
    """A grid from ``panels`` prints at 1:1 (scale 1) with the style's letters (>= 8 pt); bad grids are named errors."""
    figures.use_style()
    fig, axes = figures.panels(2, 2, panel_height=2.4, sharex=True)
    for ax in axes.flat:
        ax.plot([1, 10, 100], [0.3, 0.27, 0.25], label="FFNet NTK")
        ax.set(xscale="log", xlabel="depth $L$", ylabel="normalised NTK")
        ax.legend()
    printed = figures.legibility(fig)
    plt.close(fig)
    assert printed["scale"] == 1.0 and printed["min_font_pt"] >= figures.MIN_FONT_PT
    for kw, name in (({"ncols": 4}, "ncols=4"), ({"nrows": 0}, "nrows=0"), ({"panel_height": 0.1}, "panel_height=0.1")):
        with pytest.raises(ValueError, match=name):
            figures.panels(**kw)
