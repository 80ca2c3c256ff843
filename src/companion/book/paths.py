"""Where the book's sources and outputs live, and the repository it is published from.

The lowest module of :mod:`companion.book`: ``build``, ``colab``, ``pages`` and ``cli`` import it, it
imports none of them (so the book machinery has no import cycle).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]  # the repository (src/companion/book/paths.py)
NOTEBOOKS = ROOT / "notebooks"  # chapter sources, NN_name.md (jupytext MyST), and their Colab .ipynb
BUILD = ROOT / "build"
CACHE = BUILD / "cache" / "chapters"  # executed chapters, content-addressed
STAGE = BUILD / "book"  # the staged book that Jupyter Book builds
HTML = ROOT / "_build" / "html"
REPOSITORY = "https://github.com/ntk-companion/resnet-ntk-companion"  # Colab links, citations
# Where the book is published (GitHub Pages of REPOSITORY; ``html.baseurl`` in _config.yml says the same,
# a test checks): citations link each figure's own page and anchor there.
SITE_URL = "https://ntk-companion.github.io/resnet-ntk-companion/"


def chapter_names() -> list[str]:
    """All chapters, in order: the stems of ``notebooks/NN_name.md``."""
    return sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.md"))
