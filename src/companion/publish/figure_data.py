"""The numbers behind a figure, as CSV: given by the chapter, or read back from the matplotlib figure.

Every published figure gets ``<id>.csv`` next to its PDF/SVG/PNG (see :func:`companion.publish.figures.save`),
so a reader can replot or check it without rerunning the chapter. A chapter may pass the data itself
(``data=`` a mapping of equal-length columns, or a list of row dicts); otherwise :func:`extract` reads what
the figure draws, one row per point, in long format:

``panel, panel_title, x_label, y_label, series, kind, x, y, z``

- ``kind="line"``: a ``plot``/``semilogy``/``errorbar`` line (its x and y in data coordinates);
- ``"hline"``/``"vline"``: ``axhline``/``axvline`` (only the coordinate that means something);
- ``"scatter"``: ``scatter`` points (``z``: the colour value when they are colour-mapped);
- ``"bar"``: one bar (``x`` its centre, ``y`` its height);
- ``"image"``: ``imshow``/``pcolormesh`` cells (``x`` column, ``y`` row, ``z`` the value);
- ``"band"`` is not exported (a ``fill_between`` band is drawn from lines that are).

Numbers are written with ``repr`` (shortest round-trip form), so the CSV is byte-identical across reruns.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection, QuadMesh
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D

from companion.util import validate as check

COLUMNS = ("panel", "panel_title", "x_label", "y_label", "series", "kind", "x", "y", "z")
MAX_IMAGE_CELLS = 250_000  # an image with more cells is summarised by its shape only (a CSV of MBs helps no one)


def _num(value: Any) -> str:
    """A number in its shortest exact form ('' for a masked or missing value)."""
    if value is None or value is np.ma.masked:
        return ""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(f):
        return "nan"
    if f.is_integer() and abs(f) < 1e15:
        return str(int(f))
    return repr(f)


def _label(artist, fallback: str) -> str:
    label = artist.get_label() if hasattr(artist, "get_label") else ""
    if label and not str(label).startswith("_"):
        return str(label)
    # An unlabelled artist (kept out of the legend and the series count: one line of a family read from a
    # colour bar, a reference line explained in the caption) may still name itself in the data by its gid.
    gid = artist.get_gid() if hasattr(artist, "get_gid") else None
    return str(gid) if gid else fallback


def _text(s: str) -> str:
    return " ".join(str(s or "").split())


def _line_kind(line: Line2D, ax: Axes) -> str:
    tr = line.get_transform()
    if tr == ax.get_yaxis_transform():  # x in axes fraction, y in data: axhline
        return "hline"
    if tr == ax.get_xaxis_transform():
        return "vline"
    return "line"


def _axes_rows(panel: int, ax: Axes) -> Iterable[list[str]]:
    head = [str(panel), _text(ax.get_title()), _text(ax.get_xlabel()), _text(ax.get_ylabel())]
    for i, line in enumerate(ax.get_lines()):
        name = _label(line, f"line {i + 1}")
        kind = _line_kind(line, ax)
        x = np.ma.asarray(line.get_xdata(orig=False), dtype=float) if kind != "hline" else None
        y = np.ma.asarray(line.get_ydata(orig=False), dtype=float) if kind != "vline" else None
        if kind == "hline":
            yield head + [name, kind, "", _num(np.ravel(y)[0] if y is not None and y.size else None), ""]
            continue
        if kind == "vline":
            yield head + [name, kind, _num(np.ravel(x)[0] if x is not None and x.size else None), "", ""]
            continue
        for xv, yv in zip(np.ravel(x), np.ravel(y)):
            yield head + [name, kind, _num(xv), _num(yv), ""]
    for i, coll in enumerate(ax.collections):
        if isinstance(coll, QuadMesh):
            yield from _mesh_rows(head, _label(coll, f"mesh {i + 1}"), coll)
        elif isinstance(coll, PathCollection) and coll.get_offset_transform() == ax.transData:
            name = _label(coll, f"points {i + 1}")
            offsets = np.asarray(coll.get_offsets(), dtype=float)
            values = coll.get_array()
            zs = np.ravel(values) if values is not None and np.size(values) == len(offsets) else [None] * len(offsets)
            for (xv, yv), zv in zip(offsets, zs):
                yield head + [name, "scatter", _num(xv), _num(yv), _num(zv)]
    for i, container in enumerate(ax.containers):
        if isinstance(container, BarContainer):
            name = _label(container, f"bars {i + 1}")
            horizontal = getattr(container, "orientation", "vertical") == "horizontal"
            for rect in container.patches:
                if horizontal:
                    yield head + [name, "bar", _num(rect.get_width()), _num(rect.get_y() + rect.get_height() / 2), ""]
                else:
                    yield head + [name, "bar", _num(rect.get_x() + rect.get_width() / 2), _num(rect.get_height()), ""]
    for i, image in enumerate(ax.images):
        if isinstance(image, AxesImage):
            yield from _grid_rows(head, _label(image, f"image {i + 1}"), np.ma.asarray(image.get_array()))


def _grid_rows(head: list[str], name: str, values: np.ndarray) -> Iterable[list[str]]:
    if values.ndim != 2:  # an RGB(A) picture, not data
        return
    if values.size > MAX_IMAGE_CELLS:
        yield head + [name, "image", "", "", f"{values.shape[0]}x{values.shape[1]} cells (not exported)"]
        return
    for r in range(values.shape[0]):
        for c in range(values.shape[1]):
            yield head + [name, "image", str(c), str(r), _num(values[r, c])]


def _mesh_rows(head: list[str], name: str, mesh: QuadMesh) -> Iterable[list[str]]:
    values = np.ma.asarray(mesh.get_array())
    coords = np.asarray(mesh.get_coordinates())  # (rows + 1, cols + 1, 2) corners
    if values.ndim == 1 and coords.ndim == 3:
        values = values.reshape(coords.shape[0] - 1, coords.shape[1] - 1)
    if values.ndim != 2 or coords.ndim != 3 or values.size > MAX_IMAGE_CELLS:
        yield from _grid_rows(head, name, values)
        return
    centres = (coords[:-1, :-1] + coords[1:, 1:]) / 2
    for r in range(values.shape[0]):
        for c in range(values.shape[1]):
            yield head + [name, "image", _num(centres[r, c, 0]), _num(centres[r, c, 1]), _num(values[r, c])]


def extract(fig: Figure) -> list[list[str]]:
    """Every plotted point of ``fig`` as rows of :data:`COLUMNS` (strings). Colour bars are skipped."""
    rows: list[list[str]] = []
    colorbar_axes = {id(a) for a in fig.axes if getattr(a, "_colorbar", None) is not None or a.get_label() == "<colorbar>"}
    panel = 0
    for ax in fig.axes:
        if id(ax) in colorbar_axes:
            continue
        panel += 1
        rows.extend(_axes_rows(panel, ax))
    return rows


def _value(v: Any) -> str:
    return v if isinstance(v, str) else _num(v)


def _given(data: Mapping[str, Sequence] | Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    if isinstance(data, Mapping):
        names = [str(k) for k in data]
        cols = [np.ravel(np.asarray(v, dtype=object)) for v in data.values()]
        lengths = {len(c) for c in cols}
        if len(lengths) > 1:
            raise check.fail("data", {k: len(c) for k, c in zip(names, cols)}, "columns of equal length")
        n = lengths.pop() if lengths else 0
        return names, [[_value(c[i]) for c in cols] for i in range(n)]
    if isinstance(data, (list, tuple)) and all(isinstance(r, Mapping) for r in data):
        names = list(dict.fromkeys(str(k) for r in data for k in r))  # every key, in first-seen order
        return names, [[_value(r[k]) if k in r else "" for k in names] for r in data]
    raise check.fail("data", type(data).__name__, "a mapping of equal-length columns or a list of row dicts")


def to_csv(fig: Figure, data: Mapping[str, Sequence] | Sequence[Mapping[str, Any]] | None = None) -> tuple[bytes, list[str], str]:
    """``(csv bytes, column names, how)`` for the figure: ``data`` if given, else :func:`extract`.

    ``how`` is ``"given by the chapter"`` or ``"read from the figure"``.

    Raises:
      ValueError: ``data`` neither a mapping of equal-length columns nor a list of row dicts.
    """
    if data is not None:
        names, rows = _given(data)
        how = "given by the chapter"
    else:
        names, rows = list(COLUMNS), extract(fig)
        how = "read from the figure"
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(names)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8"), names, how
