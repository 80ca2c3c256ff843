"""Build output goes to the build's terminal in the book build and to the reader otherwise; parameter tables."""

from __future__ import annotations

import logging
import warnings

import pytest

from companion.publish import report
from companion.util import console


@pytest.fixture
def book_build(tmp_path, monkeypatch):
    log = tmp_path / "build.log"
    monkeypatch.setenv("COMPANION_BOOK", "1")
    monkeypatch.setenv("COMPANION_LOG", str(log))
    return log


def test_log_goes_to_stdout_for_a_reader(monkeypatch, capsys):
    monkeypatch.delenv("COMPANION_BOOK", raising=False)
    report.log("[03] Gram matrices: %d depths", 3)
    assert capsys.readouterr().out == "[03] Gram matrices: 3 depths\n"


def test_log_and_progress_go_to_the_build_log_in_the_book_build(book_build, capsys):
    report.log("[03] computing")
    for _ in report.progress(range(3), desc="sweep"):
        pass
    bar = report.progress(total=2, desc="manual")
    bar.update(2)
    bar.close()
    report.write("[03] done in 0.1 s")
    out = capsys.readouterr()
    assert out.out == "" and out.err == "", "nothing reaches the notebook"
    text = book_build.read_text()
    assert "[03] computing\n" in text and "[03] done in 0.1 s\n" in text
    assert "sweep: 100%" in text and "3/3" in text and "manual: 100%" in text
    assert "\r" not in text, "every bar refresh is its own line in the log"


def test_progress_shows_a_bar_to_a_reader(monkeypatch, capsys):
    monkeypatch.delenv("COMPANION_BOOK", raising=False)
    assert list(report.progress([1, 2], desc="sweep")) == [1, 2]
    assert "sweep: 100%" in capsys.readouterr().err


def test_configure_book_build_sends_warnings_and_library_logs_to_the_build_log(book_build, capsys):
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        assert console.configure_book_build() is True
        assert console.configure_book_build() is True  # idempotent: one handler
        assert len(root.handlers) == len(before) + 1
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("a library warning", UserWarning)
        logging.getLogger("companion_test_library.backend").warning("no GPU found")
        text = book_build.read_text()
        assert "UserWarning: a library warning" in text and "no GPU found" in text
        assert capsys.readouterr().err == ""
    finally:
        logging.captureWarnings(False)
        root.handlers[:] = before


def test_configure_is_a_no_op_for_a_reader(monkeypatch):
    monkeypatch.delenv("COMPANION_BOOK", raising=False)
    assert console.configure_book_build() is False


class _Params(dict):
    scale = "smoke"


def test_parameters_table_lists_what_differs_from_the_scale():
    defaults = {"n_train": 61, "depths": [1, 10, 100], "gamma": 1.0}
    same = report.parameters_markdown(_Params(defaults), defaults)
    assert same == "Parameters: scale `smoke`, no value changed from the scale's defaults."
    changed = report.parameters_markdown(_Params({**defaults, "n_train": 40, "gamma": 0.75}), defaults)
    lines = changed.splitlines()
    assert lines[0] == "Parameters: scale `smoke`, 2 values changed from the scale's defaults:"
    assert lines[2:] == ["| parameter | value | scale's value |", "|---|---|---|",
                         "| `n_train` | 40 | 61 |", "| `gamma` | 0.75 | 1 |"]
    always = report.parameters_markdown(_Params(defaults), defaults, always=["depths"])
    assert "| `depths` | [1, 10, 100] | same |" in always
    with pytest.raises(ValueError, match="always="):
        report.parameters_markdown(_Params(defaults), defaults, always=["nope"])
    assert report.parameters(_Params(defaults), defaults).data == same


def test_format_value_is_short():
    assert report.format_value(list(range(1, 12))) == "[1, 2, 3, …, 10, 11] (11 values)"
    assert report.format_value({"mnist": [3, 5]}) == "{mnist: [3, 5]}"
    assert report.format_value(1e-4) == "0.0001" and report.format_value(True) == "True"
    assert report.format_value("a|b") == "a|b"
    assert "\\|" in report.parameters_markdown(_Params({"x": "a|b"}), {"x": "c"})


def test_parameters_with_chapter_params():
    from companion.chapters import params

    base = params("03_degeneracy", "smoke")
    P = params("03_degeneracy", "smoke", {"n_train": base["n_train"] + 1})
    text = report.parameters_markdown(P, base)
    assert f"| `n_train` | {base['n_train'] + 1} | {base['n_train']} |" in text


def test_values_read_as_prose_for_glued_text():
    """What ``{glue:text}`` shows in a chapter's sentence: a number, or a list as '1, 10 and 100' (no brackets,
    no quotes)."""
    from companion.publish.report import _Plain, values_text

    assert values_text(0.001) == "0.001" and values_text([3]) == "3" and values_text([0, 0.5, 1]) == "0, 0.5 and 1"
    assert values_text(list(range(10))) == "0, 1, 2, …, 8 and 9"
    assert repr(_Plain("ReLU")) == "ReLU"
