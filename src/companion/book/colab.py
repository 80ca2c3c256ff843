"""The Colab notebooks ``notebooks/NN_name.ipynb``, generated from the jupytext sources.

Colab opens only ``.ipynb`` files from GitHub, and the book's launch button points at the ``.ipynb`` next
to each chapter's source. Each generated notebook is the chapter with one extra first cell that, in Colab
only, installs the companion and the pinned JAX pair (Colab ships a newer JAX, with other random streams,
that neural-tangents 0.6.5 cannot import). :func:`stale` keeps them in sync (a test runs it).
"""

from __future__ import annotations

from pathlib import Path

from companion.book.paths import NOTEBOOKS, REPOSITORY, ROOT, chapter_names
from companion.chapters import COLAB_EXTRAS

JAX_VERSION = "0.5.3"

INSTALL_CELL = '''\
# Colab set-up (does nothing outside Colab): install the companion and the pinned JAX pair.
# Colab ships a newer JAX; the companion pins jax/jaxlib {jax} (random streams differ between
# versions, and neural-tangents 0.6.5 imports only with jax <= {jax}). On a GPU runtime the CUDA
# build is installed, and JAX then uses the GPU by itself.
# To reproduce a cited figure exactly, set COMPANION_REF to the tag or commit named in its citation.
import os, subprocess, sys

COMPANION_REF = "main"
if "google.colab" in sys.modules or os.environ.get("COMPANION_FORCE_INSTALL") == "1":
    gpu = subprocess.run("nvidia-smi", shell=True, capture_output=True).returncode == 0
    spec = os.environ.get("COMPANION_INSTALL_SPEC", "git+{repo}@" + COMPANION_REF)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q",
         "jax[cuda12]=={jax}" if gpu else "jax=={jax}", "jaxlib=={jax}",
         "companion{extras} @ " + spec],
        check=True,
    )
    print("installed companion", COMPANION_REF, "with jax {jax}", "(GPU)" if gpu else "(CPU)")
'''


def install_cell(chapter: str) -> str:
    """The source of the chapter's first (install) cell."""
    extras = COLAB_EXTRAS.get(chapter, ())
    extras_spec = "[" + ",".join(extras) + "]" if extras else ""
    return INSTALL_CELL.format(jax=JAX_VERSION, repo=REPOSITORY, extras=extras_spec)


def render(chapter: str) -> str:
    """The Colab notebook of ``chapter`` as JSON text (deterministic, no outputs)."""
    import jupytext
    import nbformat

    nb = jupytext.read(NOTEBOOKS / f"{chapter}.md")
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["colab"] = {"provenance": [], "name": f"{chapter}.ipynb"}
    nb.metadata["accelerator"] = "GPU"
    cell = nbformat.v4.new_code_cell(install_cell(chapter))
    cell.metadata["tags"] = ["colab-install", "remove-cell"]
    cell.pop("id", None)
    nb.cells.insert(0, cell)
    for c in nb.cells:
        c.pop("id", None)  # ids are random: drop them so regeneration is byte-stable
    nb.nbformat, nb.nbformat_minor = 4, 4
    return nbformat.writes(nb) + "\n"


def path(chapter: str) -> Path:
    return NOTEBOOKS / f"{chapter}.ipynb"


def write_all() -> list[Path]:
    """(Re)generate every chapter's Colab notebook."""
    out = []
    for chapter in chapter_names():
        path(chapter).write_text(render(chapter))
        out.append(path(chapter))
    return out


def stale() -> list[str]:
    """Chapters whose Colab notebook is missing or differs from what :func:`render` gives."""
    return [c for c in chapter_names() if not path(c).exists() or path(c).read_text() != render(c)]


__all__ = ["INSTALL_CELL", "REPOSITORY", "install_cell", "render", "write_all", "stale", "ROOT"]
