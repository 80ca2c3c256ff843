"""Pages and assets the build generates for the website: the figure index, the claims page, the landing
page's generated part (:mod:`companion.book.front`), MathJax.

The pages read only what the executed chapters wrote (figure sidecars ``fig-*.json`` with their files and
data CSVs, claim tables ``claims_<chapter>.csv``, result tables) into the staged book's ``_static``, so they
list exactly what the book shows. Citations (text and BibTeX) come from :mod:`companion.book.cite`.

MathJax is served from the site itself (no CDN), so the book renders offline: :func:`install_mathjax`
copies the ``mathjax`` npm package (``package.json``; ``make`` runs ``npm ci``) into the staged book's
``_extra/_static/mathjax``. Sphinx copies ``html_extra_path`` (``_extra``) into the HTML root, so the
files land in ``_static/mathjax`` of the site, where ``mathjax_path`` in ``_config.yml`` points. (Not
``_static`` itself: Jupyter Book adds every ``.js`` file under ``_static`` to every page.)
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path
from typing import Iterable, Mapping

from companion.book import cite
from companion.publish import claims
from companion.book.paths import REPOSITORY, ROOT, chapter_names  # noqa: F401 (REPOSITORY re-exported)

BOOK_TITLE = cite.metadata()["title"]
FORMATS = ("pdf", "svg", "png")

MATHJAX_PACKAGE = ROOT / "node_modules" / "mathjax"
MATHJAX_ENTRY = "tex-mml-chtml.js"  # the component Sphinx uses by default, loaded from _static/mathjax
# What of the package's es5/ folder the site needs: the entry point and everything it may load lazily
# (TeX extensions, CHTML fonts, the menu, accessibility and speech). The other combined builds are not.
MATHJAX_PARTS = (MATHJAX_ENTRY, "input", "output/chtml", "ui", "a11y", "sre", "LICENSE")


# --------------------------------------------------------------------------------------------- MathJax


def install_mathjax(dest: Path, package: Path | None = None) -> Path:
    """Copy MathJax 3 into the staged book ``dest`` (``_extra/_static/mathjax``); return that folder.

    Raises:
      FileNotFoundError: the npm package is missing; the message says how to install it.
    """
    pkg = Path(package) if package is not None else MATHJAX_PACKAGE
    es5 = pkg / "es5"
    if not (es5 / MATHJAX_ENTRY).is_file():
        raise FileNotFoundError(
            f"MathJax not found at {es5 / MATHJAX_ENTRY}: the book serves MathJax itself so that it renders "
            "offline. Run `npm ci` in the repository root (`make book` and `make test` do), which installs "
            "the `mathjax` package pinned in package-lock.json."
        )
    target = Path(dest) / "_extra" / "_static" / "mathjax"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for part in MATHJAX_PARTS:
        src = es5 / part if part != "LICENSE" else pkg / part
        if src.is_dir():
            shutil.copytree(src, target / part)
        elif src.is_file():
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target / part)
    return target


# ------------------------------------------------------------------------------------------- chapters


def chapter_docs(dest: Path) -> dict[str, str]:
    """``{"01": "01_models", ...}``: the chapters staged in ``dest/notebooks``."""
    return {p.stem[:2]: p.stem for p in sorted((Path(dest) / "notebooks").glob("[0-9][0-9]_*.ipynb"))}


_LABEL = re.compile(r":name:\s*(fig-\d\d-[a-z0-9-]+)|\((fig-\d\d-[a-z0-9-]+)\)=")


def figure_labels(dest: Path) -> list[str]:
    """Figure ids that the staged chapters show under their own label (``:name: fig-...``), in the
    order they appear in the book (which is their numbering order)."""
    labels: list[str] = []
    for nb in sorted((Path(dest) / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for match in _LABEL.finditer(nb.read_text()):
            label = match.group(1) or match.group(2)
            if label not in labels:
                labels.append(label)
    return labels


# -------------------------------------------------------------------------------------------- figures


def figure_sidecars(static: Path) -> list[dict]:
    """Every figure sidecar under ``static/figures``, sorted by id (so by chapter)."""
    return [json.loads(p.read_text()) for p in sorted((Path(static) / "figures").glob("fig-*.json"))]


def _year(fig: Mapping) -> str:
    return str(fig.get("date") or "n.d.")[:4]


def _commit(fig: Mapping) -> str:
    return str(fig.get("git_commit") or "unknown")


def short_commit(fig: Mapping) -> str:
    """The commit as cited in text: 12 hex digits, keeping a ``-dirty`` mark."""
    commit = _commit(fig)
    return commit[:12] + ("-dirty" if commit.endswith("-dirty") and len(commit) > 18 else "")


def provisional(fig: Mapping) -> bool:
    """True when the figure was not made from a clean commit (uncommitted changes or no git)."""
    commit = _commit(fig)
    return commit == "unknown" or commit.endswith("-dirty")


def plain_caption(caption: str) -> str:
    """The caption without MyST roles' markup (``{numref}`x``` -> ``x``), on one line."""
    text = re.sub(r"\{[a-z:]+\}`([^`]*)`", r"\1", caption)
    return " ".join(text.split())


def _chapters(chapters: Mapping[str, str] | None) -> dict[str, str]:
    """``{"03": "03_degeneracy"}``: the given mapping, else every chapter of the repository."""
    return dict(chapters) if chapters is not None else {name[:2]: name for name in chapter_names()}


def citation_text(fig: Mapping, chapters: Mapping[str, str] | None = None) -> str:
    """A plain-text citation of one figure, with its URL on the published site (chapter page and anchor)."""
    return cite.figure_text(fig, _chapters(chapters))


def bibtex_key(fig: Mapping) -> str:
    return "companion-" + str(fig["id"])


def citation_bibtex(fig: Mapping, chapters: Mapping[str, str] | None = None) -> str:
    """A BibTeX ``@misc`` entry for one figure that LaTeX compiles (see :func:`companion.book.cite.latex_text`)."""
    return cite.figure_bibtex(fig, _chapters(chapters), bibtex_key(fig))


def _chapter_link(number: str, chapters: Mapping[str, str]) -> str:
    doc = chapters.get(number)
    return f"{{doc}}`/notebooks/{doc}`" if doc else f"chapter {number}"


def figure_index(static: Path, chapters: Mapping[str, str] | None = None, labels: Iterable[str] = ()) -> str:
    """MyST source of the figure index page.

    Args:
      static: the staged book's ``_static`` (figures under ``figures/``).
      chapters: ``{"01": "01_models"}``, to link each figure's chapter (see :func:`chapter_docs`).
      labels: figure ids that have a label in their chapter; those get a numbered cross-reference.
    """
    chapters = dict(chapters or {})
    labels = list(labels)
    order = {fid: i for i, fid in enumerate(labels)}
    # Chapter order, then the order of the figures in their chapter (their numbers), then by id.
    figs = sorted(
        figure_sidecars(static),
        key=lambda f: (str(f.get("chapter", "")), order.get(f["id"], len(order)), f["id"]),
    )
    lines = [
        "(figure-index)=",
        "# Figure index",
        "",
        "Every figure of the book, with its files (PDF and SVG for print, PNG at 300 dpi), the numbers it",
        "shows (CSV), its sidecar JSON (caption, parameters, data source and its hash, package version, git",
        "commit, date) and a ready citation. Each figure has a stable id `fig-<chapter>-<name>`.",
        "`companion figures export DIR` writes the same files from a local build, with a `figures.bib` of all",
        "the entries below. The chapters' result tables are listed {ref}`at the end <data-tables>`.",
        "",
        "A figure's CSV has one row per plotted point: `panel` (numbered from 1), the panel's title and axis",
        "labels, `series` (the legend entry), `kind` (`line`, `scatter`, `bar`, `image`, `hline`, `vline`)",
        "and `x`, `y` (and `z`, a colour value) in the units of the axes, unless its chapter wrote its own",
        "columns (the sidecar says which).",
        "",
    ]
    if not figs:
        lines += ["No chapter has published a figure yet.", ""]
    dirty = sorted({_commit(f) for f in figs if provisional(f)})
    if dirty:
        lines += [
            ":::{note}",
            "This build was made from uncommitted sources (commit " + ", ".join(f"`{c}`" for c in dirty) + "):",
            "cite figures from a build of a tagged or committed version, so that readers can rerun exactly",
            "that version (the citation names the commit).",
            ":::",
            "",
        ]
    current = None
    for fig in figs:
        fid = fig["id"]
        number = str(fig.get("chapter", fid[4:6]))
        if number != current:
            current = number
            lines += [f"## Chapter {int(number)}", "", f"Figures of {_chapter_link(number, chapters)}.", ""]
        where = f"{{numref}}`{fid}` in " if fid in order else ""
        downloads = " · ".join(
            f"{{download}}`{fmt.upper()}{' (300 dpi)' if fmt == 'png' else ''} <_static/figures/{fid}.{fmt}>`"
            for fmt in FORMATS
        )
        csv_file = ((fig.get("files") or {}).get("csv") or {}).get("file")
        if csv_file and (Path(static) / "figures" / csv_file).is_file():
            downloads += f" · {{download}}`data (CSV) <_static/figures/{csv_file}>`"
        lines += [
            f"({cite.index_anchor(fid)})=",
            f"### {fid}",
            "",
            f"```{{image}} _static/figures/{fid}.png",
            f":alt: {cite.alt_text(fig['caption'])}",
            ":width: 360px",
            ":class: figure-thumbnail",
            "```",
            "",
            f"{cite.myst_text(fig['caption'])} Shown as {where}{_chapter_link(number, chapters)}.",
            "",
            f"**Files:** {downloads} · {{download}}`sidecar JSON <_static/figures/{fid}.json>`",
            "",
            "**Cite this figure** (text, then BibTeX):",
            "",
            "```{code-block} text",
            ":class: figure-citation",
            "",
            citation_text(fig, chapters or None),
            "```",
            "",
            "```{code-block} bibtex",
            ":class: figure-citation",
            "",
            citation_bibtex(fig, chapters or None),
            "```",
            "",
            ":::{dropdown} Parameters and provenance",
            "",
            "| field | value |",
            "|---|---|",
            f"| data source | {_cell(fig.get('data_source'))} |",
            f"| data sha256 | {_cell(fig.get('data_sha256') or '—')} |",
            f"| package | {_cell(fig.get('package', 'companion'))} {_cell(fig.get('version'))} |",
            f"| git commit | `{_commit(fig)}` |",
            f"| date | {_cell(fig.get('date'))} |",
        ]
        for fmt, info in sorted((fig.get("files") or {}).items()):
            lines.append(f"| sha256 of {fmt.upper()} | `{info.get('sha256', '')}` |")
        lines += [
            "",
            "```json",
            json.dumps(fig.get("parameters", {}), indent=1, sort_keys=True),
            "```",
            ":::",
            "",
        ]
    lines += data_tables(static)
    return "\n".join(lines)


def data_tables(static: Path) -> list[str]:
    """The figure index's last section: every result table (``_static/results/*.csv``) for download."""
    tables = sorted((Path(static) / "results").glob("*.csv"))
    lines = ["(data-tables)=", "## Result tables", ""]
    if not tables:
        return lines + ["No chapter has written a result table yet.", ""]
    lines += [
        "The tables the chapters computed, as CSV (one file per table; the claims tables are the ones the",
        "{ref}`claims page <claims>` collects). Each figure's own numbers are linked beside it above.",
        "",
        "| table | chapter | rows | download |",
        "|---|---|---|---|",
    ]
    for path in tables:
        with path.open(newline="") as f:
            n_rows = max(sum(1 for _ in csv.reader(f)) - 1, 0)
        number = re.search(r"(?:^|_)(\d\d)(?:_|$)", path.stem)
        lines.append(f"| `{_cell(path.stem)}` | {number.group(1) if number else '—'} | {n_rows} | "
                     f"{{download}}`{_cell(path.name)} <_static/results/{path.name}>` |")
    return lines + [""]


def bibliography(static: Path, chapters: Mapping[str, str] | None = None) -> str:
    """All figures' BibTeX entries, one file (``figures.bib``)."""
    return "\n\n".join(citation_bibtex(f, chapters) for f in figure_sidecars(static)) + "\n"


# --------------------------------------------------------------------------------------------- claims


_cell = claims.markdown_cell  # text safe inside a Markdown table cell


def claims_rows(static: Path) -> list[tuple[str, dict]]:
    """``(chapter, row)`` for every claim of every chapter, in chapter order."""
    out = []
    for path in sorted((Path(static) / "results").glob("claims_*.csv")):
        chapter = path.stem[len("claims_") :]
        with path.open(newline="") as f:
            out += [(chapter, row) for row in csv.DictReader(f)]
    return out


def _passed(row: Mapping) -> bool:
    return str(row.get("passed", "")).strip() == "True"


def _rejected(row: Mapping) -> bool | None:
    """Whether the claim's counterfactual was rejected by the check (``None``: the claim has none)."""
    value = str(row.get("counterfactual_passed", "")).strip()
    return None if value == "" else value == "False"


def claims_summary(static: Path) -> dict[str, int]:
    """``{"claims", "hold", "counterfactuals", "rejected"}`` over every chapter's claims table."""
    rows = [r for _, r in claims_rows(static)]
    flags = [_rejected(r) for r in rows]
    return {"claims": len(rows), "hold": sum(_passed(r) for r in rows),
            "counterfactuals": sum(f is not None for f in flags), "rejected": sum(f is True for f in flags)}


CLAIMS_HEADER = claims.TABLE_HEADER


def claims_table_rows(rows: Iterable[Mapping]) -> list[str]:
    """Markdown rows of a claims table from the chapters' CSV rows: the table of the chapter pages
    (:func:`companion.publish.claims.table_rows`), with each claim's id."""
    return claims.table_rows(rows, ids=True, myst=True)


def claims_page(static: Path, chapters: Mapping[str, str] | None = None) -> str:
    """MyST source of the claims page: one table per chapter, with a summary and every failure listed."""
    rows = claims_rows(static)
    summary = claims_summary(static)
    lines = [
        "(claims)=",
        "# Claims checked by this book",
        "",
        "Every claim of the papers (and of this book's own derivations) that the chapters re-measure, with the",
        f"value measured when this book was built: **{summary['hold']} of {summary['claims']} hold**. A claim",
        "carries a *counterfactual*: the same measurement on an input where the claim must not hold (the other",
        "architecture, another scaling, a shallower depth); the check must reject it, or it could not tell the",
        "claim from its negation"
        + (f": **{summary['rejected']} of {summary['counterfactuals']} counterfactuals rejected**."
           if summary["counterfactuals"] else "."),
        "The test suite runs the same checks (at a smaller scale), so a claim that stops holding fails the",
        "tests as well as showing **FAIL** here. Each chapter's table links to the end of that chapter, where",
        "the claims are computed.",
        "",
    ]
    failed = [(c, r) for c, r in rows if not _passed(r) or _rejected(r) is False]
    if failed:
        lines += [":::{warning}", f"{len(failed)} claim(s) do not hold or do not reject their counterfactual in this build:", ""]
        lines += [f"- `{_cell(r.get('id'))}` (chapter {c[:2]}): {_cell(r.get('claim'))}" for c, r in failed]
        lines += ["", ":::", ""]  # a blank line ends the list before the fence closes
    if not rows:
        lines += ["No chapter has checked a claim yet.", ""]
    by_chapter: dict[str, list[dict]] = {}
    for chapter, r in rows:
        by_chapter.setdefault(chapter, []).append(r)
    for chapter, chapter_rows in by_chapter.items():
        number = chapter[:2]
        ok = sum(_passed(r) for r in chapter_rows)
        link = f"{{doc}}`/notebooks/{chapter}`" if chapter in (chapters or {}).values() else f"chapter {chapter}"
        lines += [
            f"## Chapter {int(number) if number.isdigit() else number}",
            "",
            f"{link}: {ok} of {len(chapter_rows)} hold "
            f"(see {{ref}}`the chapter's claims <sec-{number}-claims>`).",
            "",
            f":::{{table}} Claims of chapter {chapter}",
            ":class: claims-table",
            "",
            *claims_table_rows(chapter_rows),
            "",
            ":::",  # the blank line above ends the table before the fence closes
            "",
        ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- staging


def write_generated_pages(dest: Path) -> None:
    """Write ``figures.md``, ``claims.md`` and ``_static/figures.bib`` into the staged book ``dest``
    (the landing page's generated part is :func:`companion.book.front.write_front_matter`)."""
    dest = Path(dest)
    static = dest / "_static"
    chapters = chapter_docs(dest)
    (dest / "figures.md").write_text(figure_index(static, chapters, figure_labels(dest)))
    (dest / "claims.md").write_text(claims_page(static, chapters))
    if figure_sidecars(static):
        (static / "figures.bib").write_text(bibliography(static, chapters))
