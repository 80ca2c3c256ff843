"""Citable figures: one style, three files (PDF, SVG, PNG at 300 dpi) and a sidecar JSON per figure.

Every figure in the book has a stable id ``fig-<chapter>-<name>`` (e.g. ``fig-01-signal``). A chapter
calls :func:`publish`, which

1. writes ``<id>.pdf``, ``<id>.svg``, ``<id>.png`` and ``<id>.json`` into ``output_dir() / "figures"``,
   atomically and byte-reproducibly (no creation dates, a fixed SVG hash salt);
2. glues the figure under its id for ``{glue:figure}`` (when running inside the book build), or shows it
   (in Colab or Jupyter);
3. closes it, so figures never leak between cells.

The sidecar records what a citing author needs: id, caption, chapter, parameters, data source and
its hash, package version, git commit and date.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any, Mapping

import matplotlib as mpl
import matplotlib.pyplot as plt

from companion import __version__
from companion.util import validate as check
from companion.util.storage import atomic_write_bytes, sha256_bytes

STYLE = Path(__file__).with_name("companion.mplstyle")
FIG_ID = re.compile(r"^fig-(\d\d)-[a-z0-9]+(-[a-z0-9]+)*$")
FORMATS = ("pdf", "svg", "png")


def use_style() -> None:
    """Apply the companion's matplotlib style (call once at the top of a chapter)."""
    plt.style.use(STYLE)
    # Fixed salt: SVG element ids are otherwise random, so the same figure would differ byte-wise.
    mpl.rcParams["svg.hashsalt"] = "companion"


def output_dir() -> Path:
    """Where chapters write figures and result tables: ``$COMPANION_OUTPUT``, else ``./companion_output``."""
    return Path(os.environ.get("COMPANION_OUTPUT", "companion_output")).resolve()


def in_book_build() -> bool:
    """True while the book build executes a chapter (it sets ``COMPANION_BOOK=1``)."""
    return os.environ.get("COMPANION_BOOK") == "1"


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


def _jsonable(value: Any) -> Any:
    """Parameters as plain JSON (tuples become lists, NumPy scalars become numbers)."""
    return json.loads(json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def render(fig: mpl.figure.Figure, fmt: str) -> bytes:
    """The figure's bytes in ``fmt`` (``pdf``, ``svg`` or ``png``), without timestamps."""
    check.choice("fmt", fmt, FORMATS)
    metadata = {"pdf": {"CreationDate": None, "ModDate": None}, "svg": {"Date": None}, "png": {"Software": None}}
    buf = io.BytesIO()
    with mpl.rc_context({"svg.hashsalt": "companion"}):
        fig.savefig(buf, format=fmt, dpi=300, metadata=metadata[fmt])
    return buf.getvalue()


def save(
    fig: mpl.figure.Figure,
    fig_id: str,
    caption: str,
    *,
    params: Mapping[str, Any] | None = None,
    data_source: str | None = None,
    data_hash: str | None = None,
    out_dir: Path | None = None,
) -> dict[str, Any]:
    """Write ``<fig_id>.{pdf,svg,png,json}`` atomically and return the sidecar dict.

    Args:
      fig: the matplotlib figure.
      fig_id: ``fig-<NN>-<name>`` (two-digit chapter number, lowercase words joined by ``-``).
      caption: the caption as shown in the book (MyST markup allowed).
      params: the chapter parameters that produced the figure.
      data_source: where the data came from (``"synthetic"``, ``"analytic"`` or a file's provenance).
      data_hash: sha256 of the data used, when it came from a file.
      out_dir: target folder (default ``output_dir() / "figures"``).
    """
    match = FIG_ID.match(fig_id) if isinstance(fig_id, str) else None
    if match is None:
        raise check.fail("fig_id", fig_id, "'fig-<NN>-<name>', e.g. 'fig-01-signal' (lowercase, digits, '-')")
    if not isinstance(caption, str) or not caption.strip():
        raise check.fail("caption", caption, "a non-empty string")
    out = Path(out_dir) if out_dir is not None else output_dir() / "figures"
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for fmt in FORMATS:
        data = render(fig, fmt)
        atomic_write_bytes(out / f"{fig_id}.{fmt}", data)
        files[fmt] = {"file": f"{fig_id}.{fmt}", "sha256": sha256_bytes(data)}
    sidecar = {
        "id": fig_id,
        "caption": " ".join(caption.split()),
        "chapter": match.group(1),
        "parameters": _jsonable(dict(params or {})),
        "data_source": data_source or "unspecified",
        "data_sha256": data_hash,
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
