"""Pages the build generates from the chapters' outputs: the figure index and the claims page.

Both read only what the executed chapters wrote (figure sidecars, ``claims_<chapter>.csv``), so they
list exactly what the book shows.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from .colab import REPOSITORY

BOOK_TITLE = "Deep ResNets versus deep FFNets: a neural tangent kernel companion"


def figure_sidecars(static: Path) -> list[dict]:
    """Every figure sidecar under ``static/figures``, sorted by id."""
    return [json.loads(p.read_text()) for p in sorted((static / "figures").glob("fig-*.json"))]


def citation_text(fig: dict) -> str:
    """A plain-text citation of one figure."""
    return (
        f"Companion authors ({fig['date'][:4]}). Figure {fig['id']}. In: {BOOK_TITLE}, "
        f"version {fig['version']}, commit {fig['git_commit'][:12]}. {REPOSITORY}"
    )


def citation_bibtex(fig: dict) -> str:
    """A BibTeX ``@misc`` entry for one figure."""
    key = "companion-" + fig["id"]
    return "\n".join(
        [
            f"@misc{{{key},",
            "  author = {{Companion authors}},",
            f"  title = {{{{Figure {fig['id']}}}: {fig['caption'][:120].rstrip()}}},",
            f"  howpublished = {{In: {BOOK_TITLE}, version {fig['version']}}},",
            f"  year = {{{fig['date'][:4]}}},",
            f"  note = {{commit {fig['git_commit']}}},",
            f"  url = {{{REPOSITORY}}}",
            "}",
        ]
    )


def figure_index(static: Path) -> str:
    """MyST source of the figure index page."""
    lines = [
        "(figure-index)=",
        "# Figure index",
        "",
        "Every figure of the book, with its files (PDF and SVG for print, PNG at 300 dpi), its sidecar JSON",
        "(caption, parameters, data source, package version and commit) and a ready citation.",
        "`companion figures export DIR` writes the same files from a local build.",
        "",
    ]
    for fig in figure_sidecars(static):
        fid = fig["id"]
        lines += [
            f"## {fid}",
            "",
            f"```{{image}} _static/figures/{fid}.png",
            f":alt: {fid}",
            ":width: 320px",
            "```",
            "",
            fig["caption"],
            "",
            f"Chapter {fig['chapter']} · data: {fig['data_source']} · "
            + " · ".join(f"{{download}}`{fmt.upper()} <_static/figures/{fid}.{fmt}>`" for fmt in ("pdf", "svg", "png", "json")),
            "",
            "```text",
            citation_text(fig),
            "```",
            "",
            "```bibtex",
            citation_bibtex(fig),
            "```",
            "",
        ]
    return "\n".join(lines)


def claims_rows(static: Path) -> list[tuple[str, dict]]:
    """``(chapter, row)`` for every claim of every chapter, in chapter order."""
    out = []
    for path in sorted((static / "results").glob("claims_*.csv")):
        chapter = path.stem[len("claims_") :]
        with path.open(newline="") as f:
            out += [(chapter, row) for row in csv.DictReader(f)]
    return out


def claims_page(static: Path) -> str:
    """MyST source of the claims page."""
    rows = claims_rows(static)
    passed = sum(r["passed"] == "True" for _, r in rows)
    lines = [
        "(claims)=",
        "# Claims checked by this book",
        "",
        f"Every claim the chapters re-measure, with the value measured when this book was built: "
        f"**{passed} of {len(rows)} hold**. Each row links to the chapter's claim table; the test suite runs",
        "the same checks, so a claim that stops holding fails the build.",
        "",
        "| chapter | claim | source | measured | target | tolerance | result |",
        "|---|---|---|---|---|---|---|",
    ]
    for chapter, r in rows:
        result = "pass" if r["passed"] == "True" else "**FAIL**"
        link = f"{{ref}}`{chapter[:2]} <sec-{chapter[:2]}-claims>`"
        lines.append(
            f"| {link} | {r['claim']} | {r['source']} | {r['measured']} | {r['target']} | {r['tolerance']} | {result} |"
        )
    return "\n".join(lines) + "\n"


def write_generated_pages(dest: Path) -> None:
    """Write ``figures.md`` and ``claims.md`` into the staged book ``dest``."""
    static = dest / "_static"
    (dest / "figures.md").write_text(figure_index(static))
    (dest / "claims.md").write_text(claims_page(static))
