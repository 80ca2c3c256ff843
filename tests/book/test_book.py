"""The book: every chapter executes at smoke scale, the cache works, failures name the cell, and the
HTML builds with Sphinx warnings as errors."""

from __future__ import annotations

import csv
import json
import shutil

import nbformat
import pytest

from companion.book import build

pytestmark = pytest.mark.book


def test_every_chapter_executes_without_error(smoke_chapters):
    assert set(smoke_chapters) == set(build.chapter_names())
    for name, ex in smoke_chapters.items():
        nb = nbformat.read(ex.notebook, as_version=4)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
        assert not errors, f"{name}: {errors[:1]}"
        injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert injected and "remove-cell" in injected[0].metadata["tags"]
        assert "scale = \"smoke\"" in injected[0].source


def test_every_chapter_checks_claims_and_they_hold(smoke_chapters):
    for name, ex in smoke_chapters.items():
        path = ex.outputs / "results" / f"claims_{name}.csv"
        assert path.exists(), f"{name} wrote no claims table"
        rows = list(csv.DictReader(path.open()))
        assert rows, f"{name}: empty claims table"
        failed = [r["id"] for r in rows if r["passed"] != "True"]
        assert not failed, f"{name}: claims failed at smoke scale: {failed}"


def test_every_figure_has_files_and_sidecar(smoke_chapters):
    n = 0
    for name, ex in smoke_chapters.items():
        for side in (ex.outputs / "figures").glob("fig-*.json"):
            meta = json.loads(side.read_text())
            assert meta["chapter"] == name[:2]
            for fmt in ("pdf", "svg", "png", "csv"):
                assert (side.parent / f"{meta['id']}.{fmt}").stat().st_size > 0
            assert meta["data"]["file"] == f"{meta['id']}.csv" and meta["files"]["csv"]["file"] == meta["data"]["file"]
            n += 1
    assert n >= 2


def test_every_figure_is_legible_in_print(smoke_chapters):
    """Legends and tick labels at least 8 pt once a figure is printed at the text width (6.3 in): a wider
    figure is scaled down, and its letters with it (companion.publish.figures.legibility)."""
    from companion.publish.figures import MIN_FONT_PT

    small = []
    for ex in smoke_chapters.values():
        for side in sorted((ex.outputs / "figures").glob("fig-*.json")):
            printed = json.loads(side.read_text())["print"]
            pt = printed["min_font_pt"]
            if pt is not None and pt < MIN_FONT_PT:
                small.append(f"{side.stem}: {pt} pt ({printed['smallest']!r}; "
                             f"{printed['width_in']} in wide, printed at {printed['scale']:.0%})")
    assert not small, "figures with letters below 8 pt in print:\n" + "\n".join(small)


def test_no_panel_draws_more_series_than_can_be_told_apart(smoke_chapters):
    """At most MAX_SERIES labelled series per panel (colour, line style and marker each cycle through six)."""
    from companion.publish.figures import MAX_SERIES

    crowded = [f"{side.stem}: {n}" for ex in smoke_chapters.values()
               for side in sorted((ex.outputs / "figures").glob("fig-*.json"))
               if (n := json.loads(side.read_text())["print"]["max_series"]) > MAX_SERIES]
    assert not crowded, f"panels with more than {MAX_SERIES} labelled series: {crowded}"


def test_cache_hit_and_corruption(smoke_chapters, tmp_path):
    ex = smoke_chapters["01_models"]
    cache = tmp_path / "cache"
    shutil.copytree(ex.notebook.parent, cache / ex.notebook.parent.name)
    again = build.execute("01_models", "smoke", cache_dir=cache)
    assert again.cached
    # A truncated file in the entry is detected, reported, and the chapter executed again.
    fig = next((again.outputs / "figures").glob("*.png"))
    fig.write_bytes(fig.read_bytes()[:100])
    messages = []
    redo = build.execute("01_models", "smoke", cache_dir=cache, log=messages.append)
    assert not redo.cached and any("corrupt" in m for m in messages)
    assert build.verify_entry(redo.notebook.parent)


def test_bad_parameter_fails_before_execution(tmp_path):
    """A bad override is the standard named error before papermill starts (no kernel, no cache entry)."""
    with pytest.raises(ValueError, match=r"depth=-1 is invalid; allowed: an integer >= 0"):
        build.execute("01_models", "smoke", {"depth": -1}, cache_dir=tmp_path)
    with pytest.raises(ValueError, match=r"overrides=\[1, 2\] is invalid"):
        build.execute("01_models", "smoke", [1, 2], cache_dir=tmp_path)
    assert not list(tmp_path.iterdir()), "nothing is written for a rejected parameter"


def test_unknown_chapter_and_scale(tmp_path):
    with pytest.raises(ValueError, match="chapter='nope'"):
        build.execute("nope", "smoke", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="scale='tiny'"):
        build.execute("01_models", "tiny", cache_dir=tmp_path)


def test_book_builds_strictly(smoke_book):
    index = smoke_book / "index.html"
    assert index.exists()
    for name in build.chapter_names():
        page = smoke_book / "notebooks" / f"{name}.html"
        assert page.exists(), name
    assert (smoke_book / "figures.html").exists() and (smoke_book / "claims.html").exists()
    html = (smoke_book / "notebooks" / "01_models.html").read_text()
    assert "colab.research.google.com" in html, "Colab launch button missing"
    assert "Traceback" not in html


def test_same_parameters_give_identical_bytes(smoke_chapters, tmp_path):
    """Determinism: executing a chapter again (fresh cache) reproduces its tables and figure files."""
    first = smoke_chapters["01_models"]
    again = build.execute("01_models", "smoke", cache_dir=tmp_path)
    assert not again.cached
    files = sorted(p.relative_to(first.outputs) for p in first.outputs.rglob("*") if p.suffix in {".csv", ".png", ".pdf", ".svg"})
    assert any(f.suffix == ".csv" for f in files) and any(f.suffix == ".png" for f in files)
    for rel in files:
        assert (first.outputs / rel).read_bytes() == (again.outputs / rel).read_bytes(), rel


def test_cache_key_rejects_an_unknown_chapter_or_scale():
    assert len(build.cache_key("01_models", "smoke")) == 64
    with pytest.raises(ValueError, match=r"chapter='nope' is invalid; allowed: one of '01_models'"):
        build.cache_key("nope", "smoke")
    with pytest.raises(ValueError, match=r"scale='tiny' is invalid; allowed: one of 'smoke'"):
        build.cache_key("01_models", "tiny")


def test_build_output_stays_off_the_pages(smoke_chapters):
    """Progress bars, log records and warnings go to the chapter's build log (relayed to the terminal), not
    into the notebook: no executed chapter has an output on stderr, and the build's setup cell is hidden."""
    for name, ex in smoke_chapters.items():
        nb = nbformat.read(ex.notebook, as_version=4)
        setup = nb.cells[0]
        assert build.SETUP_TAG in setup.metadata["tags"] and "remove-cell" in setup.metadata["tags"], name
        stderr = [o.text[:200] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if o.output_type == "stream" and o.name == "stderr"]
        assert not stderr, f"{name} writes to stderr on its page: {stderr[:3]}"
        assert (ex.notebook.parent / "build.log").is_file(), name


def test_relay_passes_the_build_log_to_the_terminal(tmp_path):
    log_file = tmp_path / "build.log"
    log_file.write_text("")
    seen = []
    with build._relay(log_file, "[03] ", seen.append, interval_s=0.05):
        with log_file.open("a") as fh:
            fh.write("first line\nsweep:  50%|#####     | 1/2\n")
            fh.flush()
            import time

            time.sleep(0.3)
            fh.write("no newline at the end")
    assert seen == ["[03] first line", "[03] sweep:  50%|#####     | 1/2", "[03] no newline at the end"]


def test_the_setup_cell_is_only_in_the_book_build(tmp_path):
    src = build.NOTEBOOKS / "01_models.md"
    plain = nbformat.read(build.to_ipynb(src, tmp_path / "a.ipynb"), as_version=4)
    book = nbformat.read(build.to_ipynb(src, tmp_path / "b.ipynb", setup=True), as_version=4)
    assert len(book.cells) == len(plain.cells) + 1
    assert book.cells[0].source == build.SETUP_SOURCE and book.cells[0].id == build.SETUP_TAG
