"""Citations that compile: the figures' BibTeX entries and the book's, run through real BibTeX and pdfLaTeX.

A document cites every entry (``\\nocite{*}``) and is compiled with two bibliography styles: ``plain``
(what most journals' styles descend from) and ``plainnat`` with ``hyperref`` (which typesets the ``url``
field, whose ``#`` and ``_`` must survive). Any LaTeX or BibTeX error, or an entry missing from the
bibliography, fails the test.

Needs ``pdflatex`` and ``bibtex`` (Debian's ``texlive-latex-base``; ``make test`` installs it when run as
root). Without them the test is skipped, or fails when ``CI`` is set.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from companion.book import cite
from companion.book import pages

DOCUMENT = r"""\documentclass{article}
\usepackage[T1]{fontenc}
\usepackage{amsmath,amssymb}
%(packages)s
\begin{document}
Every figure of the companion, and the book itself.
\nocite{*}
\bibliographystyle{%(style)s}
\bibliography{figures}
\end{document}
"""
STYLES = {"plain": "", "plainnat": "\\usepackage[numbers]{natbib}\n\\usepackage{hyperref}"}

HARD_CAPTIONS = [
    "Normalised NTK {eq}`eq-03-normalised` against $\\rho_0$ for depths $L$ from 1 to 10^4 (R^2 & 50% of #1).",
    "ResNet with α = L^-γ, γ ≤ 1/2 · κ₁ — “nugget” at ρ = 1, {numref}`fig-03-rates`, {math}`\\Theta_L`.",
    "Cost $5 and `n_train` **bold** *em* ~ { } \\ _ ^ in_domain {doc}`the chapter <03_degeneracy>`.",
    "Déjà vu: naïve Zürich, ½ and ¼, ∞, × and √, ‖x‖, ⟨x, x'⟩ and ℓ² (µ, Å).",
]


def _tools() -> tuple[str, str]:
    latex, bibtex = shutil.which("pdflatex"), shutil.which("bibtex")
    if not (latex and bibtex):
        reason = ("pdflatex/bibtex not found: install Debian's texlive-latex-base "
                  "(`apt-get install -y texlive-latex-base`; `make test` does as root)")
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI is set, so the citation test must run)")
        pytest.skip(reason)
    return latex, bibtex


def compile_bibliography(bib: str, folder: Path, style: str) -> str:
    """Compile a document citing every entry of ``bib``; return the ``.bbl``. Raises AssertionError with the
    log's error lines when LaTeX or BibTeX fails."""
    latex, bibtex = _tools()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "figures.bib").write_text(bib, encoding="utf-8")
    (folder / "doc.tex").write_text(DOCUMENT % {"style": style, "packages": STYLES[style]}, encoding="utf-8")
    env = {**os.environ, "TEXMFVAR": str(folder / ".texmf-var")}  # no writes outside the test's folder

    def run(cmd: list[str]) -> subprocess.CompletedProcess:
        # errors="replace": TeX writes the 8-bit bytes of accented letters (e.g. 0xe9) into its messages
        # (an overfull box quoting a caption), which are not UTF-8
        return subprocess.run(cmd, cwd=folder, capture_output=True, text=True, errors="replace", timeout=120, env=env)

    steps = [[latex, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], [bibtex, "doc"],
             [latex, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
             [latex, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"]]
    for cmd in steps:
        proc = run(cmd)
        out = proc.stdout + proc.stderr
        blg = (folder / "doc.blg").read_text(errors="replace") if (folder / "doc.blg").exists() else ""
        bib_errors = [ln for ln in blg.splitlines() if re.search(r"error message|I was expecting|I'm skipping", ln)]
        tex_errors = [ln for ln in out.splitlines() if ln.startswith("!") or "Undefined control sequence" in ln]
        assert proc.returncode == 0 and not bib_errors, (
            f"{Path(cmd[0]).name} ({style}) failed (exit {proc.returncode}):\n" + "\n".join(bib_errors + tex_errors)
            + "\n" + out[-3000:] + "\n" + blg[-2000:])
    log = (folder / "doc.log").read_text(errors="replace")
    assert "Citation" not in log or "undefined" not in log, "undefined citations:\n" + log[-2000:]
    return (folder / "doc.bbl").read_text(errors="replace")


def _fig(fid: str, caption: str) -> dict:
    return {"id": fid, "caption": caption, "chapter": fid[4:6], "version": "0.1.0", "date": "2026-11-30",
            "git_commit": "0123456789abcdef0123456789abcdef01234567-dirty"}


@pytest.mark.parametrize("style", sorted(STYLES))
def test_hard_captions_and_the_book_compile(tmp_path, style):
    figs = [_fig(f"fig-0{i + 1}-hard-case", c) for i, c in enumerate(HARD_CAPTIONS)]
    chapters = {"01": "01_models", "03": "03_degeneracy"}
    bib = "\n\n".join([pages.citation_bibtex(f, chapters) for f in figs] + [cite.book_bibtex("0123456789ab", "2026")])
    bbl = compile_bibliography(bib, tmp_path, style)
    for f in figs:
        assert pages.bibtex_key(f) in bbl
    assert "companion-book" in bbl
    assert "$\\gamma" in bbl and "$10^{4}$" in bbl  # Unicode and plain-text powers became math
    if style == "plainnat":
        assert "\\url{https://ntk-companion.github.io/resnet-ntk-companion/notebooks/03_degeneracy.html\\#fig-03-hard-case}" in bbl or \
               "03_degeneracy.html#fig-03-hard-case" in bbl


@pytest.mark.book
@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_figure_of_the_book_compiles(smoke_chapters, tmp_path, style):
    """The real captions of every chapter figure (smoke scale), as ``companion figures export`` writes them."""
    figs = [json.loads(p.read_text()) for ex in smoke_chapters.values() for p in sorted((ex.outputs / "figures").glob("fig-*.json"))]
    assert figs, "no figures"
    bib = "\n\n".join(pages.citation_bibtex(f) for f in figs) + "\n\n" + cite.book_bibtex("0123456789ab", "2026")
    bbl = compile_bibliography(bib, tmp_path, style)
    missing = [f["id"] for f in figs if pages.bibtex_key(f) not in bbl]
    assert not missing, f"entries missing from the bibliography: {missing}"
