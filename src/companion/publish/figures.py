"""Citable figures: one style, three files (PDF, SVG, PNG at 300 dpi) and a sidecar JSON per figure.

Every figure in the book has a stable id ``fig-<chapter>-<name>`` (e.g. ``fig-01-signal``). A chapter
calls :func:`publish`, which

1. writes ``<id>.pdf``, ``<id>.svg``, ``<id>.png``, the data behind it ``<id>.csv`` (given by the chapter,
   else read from the figure: :mod:`companion.publish.figure_data`) and ``<id>.json`` into
   ``output_dir() / "figures"``, atomically and byte-reproducibly (no creation dates, a fixed SVG hash salt);
2. glues the figure under its id for ``{glue:figure}`` (when running inside the book build), or shows it
   (in Colab or Jupyter);
3. closes it, so figures never leak between cells.

The sidecar records what a citing author needs: id, caption, chapter, parameters, data source and
its hash, the data file, package version, git commit and date, and the figure's size in print.

Legibility in print: the book's text column is :data:`PRINT_WIDTH_IN` inches wide; a figure wider than that
is scaled down when printed, and so are its letters. :func:`legibility` computes the smallest letter at the
printed size; :func:`save` records it in the sidecar and warns (:class:`LegibilityWarning`) below
:data:`MIN_FONT_PT` points. The style sheet (``companion.mplstyle``) sets sizes that pass at its default
figure size, a colour-blind-safe palette (Okabe & Ito) and a line style and marker per colour, so series
stay apart in grey-scale print too; :func:`save` thins the markers of long lines to about a dozen.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import os
import re
import logging
import subprocess
import warnings
from pathlib import Path
from typing import Any, Mapping

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.text import Text

from companion import __version__
from companion.publish import figure_data
from companion.util import console
from companion.util import validate as check
from companion.util.storage import atomic_write_bytes, sha256_bytes, to_jsonable

STYLE = Path(__file__).with_name("companion.mplstyle")
FIG_ID = re.compile(r"^fig-(\d\d)-[a-z0-9]+(-[a-z0-9]+)*$")
FORMATS = ("pdf", "svg", "png")
PRINT_WIDTH_IN = 6.3  # the text column in print (A4 with 1-inch margins); a wider figure is scaled down
MIN_FONT_PT = 8.0  # the smallest letter (tick labels, legends) allowed at the printed size
MARKERS_PER_LINE = 12  # a line with more points than this shows its cycle marker on about this many
MAX_SERIES = 6  # more labelled series in one panel cannot be told apart (split the panel)


class LegibilityWarning(UserWarning):
    """A figure's smallest letters are below :data:`MIN_FONT_PT` points once it is printed at the text width."""


def use_style() -> None:
    """Apply the companion's matplotlib style (call once at the top of a chapter)."""
    plt.style.use(STYLE)
    # Fixed salt: SVG element ids are otherwise random, so the same figure would differ byte-wise.
    mpl.rcParams["svg.hashsalt"] = "companion"


FIGURE_WIDTH_IN = 6.0  # the style's figure width: with its labels the saved figure prints at about 1:1


def panels(
    nrows: int = 1, ncols: int = 1, *, panel_height: float = 2.6, **subplots_kw: Any
) -> tuple[mpl.figure.Figure, Any]:
    """A figure of ``nrows x ncols`` panels that prints at 1:1 in the text column, so the style's letters stay legible.

    The figure is :data:`FIGURE_WIDTH_IN` inches wide (with its tick and axis labels it then fits the
    :data:`PRINT_WIDTH_IN`-inch column without being scaled down) and ``panel_height`` inches tall per row;
    constrained layout keeps labels from overlapping. Panels do not get wider than the column: more than
    three side by side would each be under two inches wide, so put them in rows instead.

    Args:
      nrows, ncols: the grid of panels (``ncols`` from 1 to 3).
      panel_height: inches per row of panels (0.5 to 6).
      **subplots_kw: passed to :func:`matplotlib.pyplot.subplots` (``sharex``, ``sharey``, ``squeeze``, ...).

    Returns:
      ``(fig, axes)`` as :func:`matplotlib.pyplot.subplots` returns them.

    Raises:
      ValueError: ``nrows`` below 1, ``ncols`` outside 1..3, or ``panel_height`` outside 0.5..6.
    """
    nrows = check.integer("nrows", nrows, minimum=1)
    ncols = check.integer("ncols", ncols, minimum=1, maximum=3)
    panel_height = check.real("panel_height", panel_height, minimum=0.5, maximum=6.0)
    subplots_kw.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, figsize=(FIGURE_WIDTH_IN, panel_height * nrows), **subplots_kw)


def output_dir() -> Path:
    """Where chapters write figures and result tables: ``$COMPANION_OUTPUT``, else ``./companion_output``."""
    return Path(os.environ.get("COMPANION_OUTPUT", "companion_output")).resolve()


def in_book_build() -> bool:
    """True while the book build executes a chapter (it sets ``COMPANION_BOOK=1``)."""
    return console.in_book_build()


def git_commit() -> str:
    """The git commit of the package source (``-dirty`` if it has uncommitted changes), else ``unknown``."""
    env = os.environ.get("COMPANION_GIT_COMMIT")
    if env:
        return env
    src = Path(__file__).resolve().parents[1]  # the companion package
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=src, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "."], cwd=src, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def _today() -> str:
    # SOURCE_DATE_EPOCH (the reproducible-builds convention) pins the date for bit-identical rebuilds.
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = _dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc) if epoch else _dt.datetime.now(_dt.timezone.utc)
    return when.date().isoformat()



class _FontTimestampFilter(logging.Filter):
    """Drops fontTools' "'created' timestamp seems very low" and the same for 'modified'.

    Why: matplotlib's bundled Computer Modern fonts (``cm*.ttf``, used by mathtext for symbols such as
    ``\\mathcal``) carry 0 as their creation and modification dates; fontTools reads them while
    subsetting the fonts into the PDF and logs this warning, which says nothing about the figure. The PDF
    carries no date either way (``CreationDate: None``). Only this message of that logger is dropped.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "timestamp seems very low" not in record.getMessage()


_FONT_LOGGER = "fontTools.ttLib.tables._h_e_a_d"


def render(fig: mpl.figure.Figure, fmt: str) -> bytes:
    """The figure's bytes in ``fmt`` (``pdf``, ``svg`` or ``png``), without timestamps (byte-reproducible)."""
    check.choice("fmt", fmt, FORMATS)
    metadata = {"pdf": {"CreationDate": None, "ModDate": None}, "svg": {"Date": None}, "png": {"Software": None}}
    buf = io.BytesIO()
    quiet = _FontTimestampFilter()
    logger = logging.getLogger(_FONT_LOGGER)
    logger.addFilter(quiet)
    try:
        with mpl.rc_context({"svg.hashsalt": "companion"}):
            fig.savefig(buf, format=fmt, dpi=300, metadata=metadata[fmt])
    finally:
        logger.removeFilter(quiet)
    return buf.getvalue()


def thin_markers(fig: mpl.figure.Figure, per_line: int = MARKERS_PER_LINE) -> None:
    """Show a long line's markers on about ``per_line`` of its points (evenly spaced along the line).

    The style's cycle gives every series a marker so that series stay apart in grey-scale print; on a
    curve of hundreds of points a marker per point would hide the line. Lines that set ``markevery`` keep it.
    """
    for line in fig.findobj(Line2D):
        n = len(line.get_xdata(orig=False))
        if line.get_marker() not in (None, "None", "", " ") and n > per_line and line.get_markevery() is None:
            line.set_markevery(1.0 / per_line)  # a float: spacing as a fraction of the line's length on screen


def legibility(fig: mpl.figure.Figure, print_width_in: float = PRINT_WIDTH_IN) -> dict[str, Any]:
    """The figure at its printed size: ``{"width_in", "height_in", "scale", "min_font_pt", "smallest", "max_series"}``.

    ``width_in``/``height_in``: the saved figure's size (tight bounding box, inches); ``scale``: the factor
    it is printed at (``min(1, print_width_in / width_in)``); ``min_font_pt``: the smallest visible text
    size times ``scale``, in points; ``smallest``: that text (a tick label, a legend entry, ...);
    ``max_series``: the most labelled lines, point sets and bar groups drawn in one panel.
    """
    print_width_in = check.real("print_width_in", print_width_in, minimum=1e-3)
    fig.canvas.draw()  # lays out ticks and legends, so the texts below are the ones shown
    box = fig.get_tightbbox(fig.canvas.get_renderer())
    width, height = float(box.width), float(box.height)
    scale = min(1.0, print_width_in / width) if width > 0 else 1.0
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    smallest = min(texts, key=lambda t: t.get_fontsize(), default=None)
    series = [len([a for a in (*ax.get_lines(), *ax.collections, *ax.containers)
                   if not str(a.get_label()).startswith("_") and a.get_label()]) for ax in fig.axes]
    return {
        "width_in": round(width, 3),
        "height_in": round(height, 3),
        "scale": round(scale, 4),
        "min_font_pt": round(float(smallest.get_fontsize()) * scale, 2) if smallest is not None else None,
        "smallest": smallest.get_text()[:60] if smallest is not None else None,
        "max_series": max(series, default=0),
    }


def save(
    fig: mpl.figure.Figure,
    fig_id: str,
    caption: str,
    *,
    params: Mapping[str, Any] | None = None,
    data_source: str | None = None,
    data_hash: str | None = None,
    data: Mapping[str, Any] | list[Mapping[str, Any]] | None = None,
    out_dir: Path | None = None,
) -> dict[str, Any]:
    """Write ``<fig_id>.{pdf,svg,png,csv,json}`` atomically and return the sidecar dict.

    Args:
      fig: the matplotlib figure.
      fig_id: ``fig-<NN>-<name>`` (two-digit chapter number, lowercase words joined by ``-``).
      caption: the caption as shown in the book (MyST markup allowed).
      params: the chapter parameters that produced the figure.
      data_source: where the data came from (``"synthetic"``, ``"analytic"`` or a file's provenance).
      data_hash: sha256 of the data used, when it came from a file.
      data: the numbers behind the figure for ``<fig_id>.csv``: a mapping of equal-length columns or a
        list of row dicts. ``None``: read from the figure (every line, scatter, bar and image; see
        :mod:`companion.publish.figure_data`).
      out_dir: target folder (default ``output_dir() / "figures"``).

    Warns:
      LegibilityWarning: the smallest text is below :data:`MIN_FONT_PT` at the printed size.

    Raises:
      ValueError: a malformed ``fig_id``, an empty caption, or ``data`` of the wrong shape.
    """
    match = FIG_ID.match(fig_id) if isinstance(fig_id, str) else None
    if match is None:
        raise check.fail("fig_id", fig_id, "'fig-<NN>-<name>', e.g. 'fig-01-signal' (lowercase, digits, '-')")
    if not isinstance(caption, str) or not caption.strip():
        raise check.fail("caption", caption, "a non-empty string")
    table, columns, how = figure_data.to_csv(fig, data)  # first: a bad ``data`` fails before any file is written
    out = Path(out_dir) if out_dir is not None else output_dir() / "figures"
    out.mkdir(parents=True, exist_ok=True)
    thin_markers(fig)
    printed = legibility(fig)
    if printed["min_font_pt"] is not None and printed["min_font_pt"] < MIN_FONT_PT:
        warnings.warn(
            f"{fig_id}: its smallest text ({printed['smallest']!r}) is {printed['min_font_pt']:.1f} pt when the "
            f"figure ({printed['width_in']:.1f} in wide) is printed {PRINT_WIDTH_IN} in wide; at least "
            f"{MIN_FONT_PT:g} pt is legible: make it narrower (or split its panels) or its fonts larger",
            LegibilityWarning, stacklevel=2)
    if printed["max_series"] > MAX_SERIES:
        warnings.warn(
            f"{fig_id}: a panel draws {printed['max_series']} labelled series; more than {MAX_SERIES} cannot be "
            "told apart by colour, line style and marker: split the panel", LegibilityWarning, stacklevel=2)
    files = {}
    for fmt in FORMATS:
        blob = render(fig, fmt)
        atomic_write_bytes(out / f"{fig_id}.{fmt}", blob)
        files[fmt] = {"file": f"{fig_id}.{fmt}", "sha256": sha256_bytes(blob)}
    atomic_write_bytes(out / f"{fig_id}.csv", table)
    files["csv"] = {"file": f"{fig_id}.csv", "sha256": sha256_bytes(table)}
    sidecar = {
        "id": fig_id,
        "caption": " ".join(caption.split()),
        "chapter": match.group(1),
        "parameters": to_jsonable(dict(params or {})),
        "data_source": data_source or "unspecified",
        "data_sha256": data_hash,
        "data": {"file": f"{fig_id}.csv", "columns": columns, "how": how},
        "print": {**printed, "print_width_in": PRINT_WIDTH_IN, "min_font_pt_required": MIN_FONT_PT},
        "package": "companion",
        "version": __version__,
        "git_commit": git_commit(),
        "date": _today(),
        "files": files,
    }
    atomic_write_bytes(out / f"{fig_id}.json", (json.dumps(sidecar, indent=1, sort_keys=True) + "\n").encode())
    return sidecar


def publish(fig: mpl.figure.Figure, fig_id: str, caption: str, **save_kwargs: Any) -> None:
    """Save the figure's files (see :func:`save`), glue it for the book (or show it), then close it.

    In the book, show it with a ``{glue:figure}`` directive named ``fig_id``. Outside the book build
    (Colab, Jupyter) the figure is displayed in place. Returns nothing, so that a chapter cell ending in
    ``publish(...)`` prints no sidecar; :func:`save` returns it.
    """
    save(fig, fig_id, caption, **save_kwargs)
    try:
        from myst_nb import glue  # only in the book environment
    except ImportError:
        glue = None
    if glue is not None:
        glue(fig_id, fig, display=not in_book_build())
    elif not in_book_build():
        from IPython.display import display

        display(fig)
    plt.close(fig)
