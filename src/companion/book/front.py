"""The landing page's generated part: headline figure, findings per chapter, the live claims count, citation.

``book/intro.md`` (written by hand) includes ``_generated/front.md``, which the build writes from what the
executed chapters produced, so every number on it is measured in this build:

- the headline figure (:data:`HEADLINE`, else the first figure of chapter 3, else the first figure);
- what each chapter finds (``book/findings.yml``, written in words), linked to the chapters in the build;
- "N of M claims hold; K of K counterfactuals rejected", counted from the claims tables;
- "Cite this book": text and BibTeX (authors, title and version from ``CITATION.cff``, the git commit).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from companion.book import cite
from companion.book import pages

HEADLINE = "fig-03-ntk"  # the normalised NTK of the FFNet and the ResNets against depth (chapter 3)


def findings(path: Path) -> list[dict[str, str]]:
    """``[{"chapter": "03_degeneracy", "finding": "..."}]`` from ``findings.yml`` (empty if there is none).

    Raises:
      ValueError: an entry without ``chapter`` or ``finding``.
    """
    import yaml

    if not Path(path).is_file():
        return []
    entries = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []
    for i, e in enumerate(entries):
        if not (isinstance(e, dict) and isinstance(e.get("chapter"), str) and isinstance(e.get("finding"), str)):
            from companion.util import validate as check

            raise check.fail(f"{path}[{i}]", e, "a mapping with 'chapter' and 'finding' (strings)")
    return entries


def headline(figs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The headline figure's sidecar: :data:`HEADLINE`, else chapter 3's first, else the first figure."""
    by_id = {f["id"]: f for f in figs}
    if HEADLINE in by_id:
        return by_id[HEADLINE]
    ch3 = [f for f in figs if str(f.get("chapter")) == "03"]
    return (ch3 or figs or [None])[0]


def _claims_sentence(summary: Mapping[str, int]) -> str:
    n, hold = summary["claims"], summary["hold"]
    k, rejected = summary["counterfactuals"], summary["rejected"]
    if n == 0:
        return "No chapter in this build checks a claim."
    held = "all of them hold" if hold == n else f"**{hold} of {n} hold**"
    text = f"The chapters check **{n} claims** of the papers and of this book's derivations in this build: {held}"
    if k == 0:
        text += "."
    elif k == n and rejected == k:
        text += ", and every check rejects its counterfactual (the same measurement where the claim must fail)."
    else:
        text += (f"; **{rejected} of {k}** checks reject their counterfactual (the same measurement where the "
                 "claim must fail).")
    return text + " See the {ref}`claims page <claims>`."


def front_matter(dest: Path, chapters: Mapping[str, str] | None = None) -> str:
    """MyST of ``_generated/front.md`` for the staged book ``dest`` (``chapters``: ``{"03": "03_degeneracy"}``)."""
    from companion.publish.figures import _today, git_commit

    dest = Path(dest)
    static = dest / "_static"
    chapters = dict(chapters if chapters is not None else pages.chapter_docs(dest))
    staged = set(chapters.values())
    lines: list[str] = []
    fig = headline(pages.figure_sidecars(static))
    if fig is not None and (static / "figures" / f"{fig['id']}.png").is_file():
        doc = chapters.get(str(fig.get("chapter")))
        where = f" (from {{doc}}`/notebooks/{doc}`)" if doc else ""
        lines += [
            f"```{{figure}} /_static/figures/{fig['id']}.png",  # absolute: relative to the book, not this file
            f":alt: {cite.alt_text(fig['caption'])}",
            ":name: fig-headline",
            ":width: 100%",
            "",
            f"{cite.myst_text(cite.plain_text(fig['caption']))}{where}",
            "```",
            "",
        ]
    entries = [e for e in findings(dest / "findings.yml") if e["chapter"] in staged]
    if entries:
        lines += ["## What the book finds", ""]
        lines += [f"- {{doc}}`/notebooks/{e['chapter']}`: {' '.join(e['finding'].split())}" for e in entries]
        lines += [""]
    lines += [_claims_sentence(pages.claims_summary(static)), ""]
    commit = git_commit()
    year = _today()[:4]
    lines += [
        "(cite-this-book)=",
        "## Cite this book",
        "",
        "Please cite the book (and the papers it reproduces, listed in the {doc}`/bibliography`) as",
        "",
        "```{code-block} text",
        ":class: figure-citation",
        "",
        cite.book_text(commit, year),
        "```",
        "",
        "```{code-block} bibtex",
        ":class: figure-citation",
        "",
        cite.book_bibtex(commit, year),
        "```",
        "",
    ]
    if pages.figure_sidecars(static):
        lines += ["Each figure has its own citation on the {doc}`/figures` page (BibTeX for all of them in",
                  "{download}`figures.bib </_static/figures.bib>`).", ""]
    return "\n".join(lines)


def write_front_matter(dest: Path) -> Path:
    """Write ``_generated/front.md`` (the landing page's generated part, included by ``intro.md``) into the
    staged book ``dest``; return its path."""
    dest = Path(dest)
    (dest / "_generated").mkdir(exist_ok=True)
    path = dest / "_generated" / "front.md"
    path.write_text(front_matter(dest, pages.chapter_docs(dest)))
    return path
