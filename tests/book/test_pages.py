"""The generated pages (figure index, claims page), the figure citations, MathJax staging, the
``companion figures`` command and CITATION.cff, on synthetic sidecars and claim tables (fast, no build)."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from markdown_it import MarkdownIt

import companion
from companion.book import build
from companion.book import cite
from companion.book import cli
from companion.book import front
from companion.book import pages
from companion.book import sphinx_ext

ROOT = Path(__file__).resolve().parents[2]


def _sidecar(folder: Path, fid: str, caption: str = "A caption.", commit: str = "0123456789abcdef0123", **extra) -> dict:
    """Write a figure's three (dummy) files and its sidecar, as companion.publish.figures.save does."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for fmt in ("pdf", "svg", "png"):
        data = f"{fid}.{fmt} bytes".encode()
        (folder / f"{fid}.{fmt}").write_bytes(data)
        files[fmt] = {"file": f"{fid}.{fmt}", "sha256": hashlib.sha256(data).hexdigest()}
    meta = {
        "id": fid,
        "caption": caption,
        "chapter": fid[4:6],
        "parameters": {"depth": 6, "gammas": [0.5, 1.0]},
        "data_source": "synthetic: two unit inputs",
        "data_sha256": None,
        "package": "companion",
        "version": "0.1.0",
        "git_commit": commit,
        "date": "2026-03-01",
        "files": files,
    }
    meta.update(extra)
    (folder / f"{fid}.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
    return meta


def _claims(folder: Path, chapter: str, rows: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    fields = ["id", "claim", "source", "measured", "target", "tolerance", "passed"]
    with (folder / f"claims_{chapter}.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def _row(id, passed=True, claim="q stays bounded", tolerance="|measured - target| <= 0.01"):
    return {"id": id, "claim": claim, "source": "Huang et al. 2020", "measured": "0.25",
            "target": "0.25", "tolerance": tolerance, "passed": str(passed)}


def _table_rows(markdown: str) -> list[list[str]]:
    """The cells of every table row in a MyST page (as a CommonMark+tables parser sees them)."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    rows, row = [], None
    for tok in tokens:
        if tok.type == "tr_open":
            row = []
        elif tok.type == "inline" and row is not None:
            row.append(tok.content)
        elif tok.type == "tr_close":
            rows.append(row)
            row = None
    return rows


# ------------------------------------------------------------------------------------- figure index


def test_figure_index_lists_files_citations_and_provenance(tmp_path):
    static = tmp_path / "_static"
    _sidecar(static / "figures", "fig-01-norms", "Squared norm $q_l$ against the layer.")
    _sidecar(static / "figures", "fig-02-kernel", "The kernel.", data_sha256="ab" * 32)
    page = pages.figure_index(static, {"01": "01_models", "02": "02_kernels"}, ["fig-01-norms"])
    assert page.startswith("(figure-index)=\n# Figure index")
    assert "## Chapter 1" in page and "## Chapter 2" in page
    assert "Figures of {doc}`/notebooks/01_models`" in page
    for fid in ("fig-01-norms", "fig-02-kernel"):
        assert f"### {fid}" in page
        assert f"```{{image}} _static/figures/{fid}.png" in page  # the thumbnail
        for ext in ("pdf", "svg", "png", "json"):
            assert f"<_static/figures/{fid}.{ext}>`" in page, (fid, ext)
        assert f"@misc{{companion-{fid}," in page
        assert f"The NTK Companion contributors (2026). Figure {fid}:" in page
    # A labelled figure gets its number; an unlabelled one only its chapter (no dangling reference).
    assert "{numref}`fig-01-norms`" in page and "{numref}`fig-02-kernel`" not in page
    assert "PNG (300 dpi)" in page
    assert "ab" * 32 in page  # data hash in the provenance table
    assert '"gammas": [' in page  # parameters as JSON
    assert ":::{note}" not in page  # clean commits: no warning


def test_figure_index_orders_figures_as_numbered_in_the_chapter(tmp_path):
    static = tmp_path / "_static"
    for fid in ("fig-01-a", "fig-01-b", "fig-01-c"):
        _sidecar(static / "figures", fid)
    page = pages.figure_index(static, {}, ["fig-01-c", "fig-01-a"])  # c is Fig. 1.1, a is Fig. 1.2
    positions = [page.index(f"### {fid}") for fid in ("fig-01-c", "fig-01-a", "fig-01-b")]
    assert positions == sorted(positions)


def test_figure_index_warns_once_about_uncommitted_builds_and_handles_none(tmp_path):
    static = tmp_path / "_static"
    assert "No chapter has published a figure yet." in pages.figure_index(static)
    _sidecar(static / "figures", "fig-01-a", commit="abc-dirty")
    _sidecar(static / "figures", "fig-01-b", commit="abc-dirty")
    page = pages.figure_index(static)
    assert page.count(":::{note}") == 1 and "`abc-dirty`" in page
    assert pages.provisional({"git_commit": "unknown"}) and not pages.provisional({"git_commit": "abc"})
    assert pages.short_commit({"git_commit": "0123456789abcdef-dirty"}) == "0123456789ab-dirty"
    assert pages.short_commit({"git_commit": "0123456789abcdef"}) == "0123456789ab"
    assert pages.short_commit({"git_commit": "unknown"}) == "unknown"


def test_citations(tmp_path):
    fig = _sidecar(tmp_path, "fig-03-rates", "Rates & errors: 50% of $x_l$ see {numref}`fig-03-other` #1 in_domain.")
    chapters = {"03": "03_degeneracy"}
    text = pages.citation_text(fig, chapters)
    assert text.startswith("The NTK Companion contributors (2026). Figure fig-03-rates: Rates & errors")
    assert "{numref}" not in text and "fig-03-other" in text
    url = "https://ntk-companion.github.io/resnet-ntk-companion/notebooks/03_degeneracy.html#fig-03-rates"
    assert "version 0.1.0 (git commit 0123456789ab)" in text and text.endswith(url)
    bib = pages.citation_bibtex(fig, chapters)
    assert bib.startswith("@misc{companion-fig-03-rates,\n") and bib.endswith("\n}")
    assert bib.count("{") - bib.count("\\{") == bib.count("}") - bib.count("\\}")
    assert r"Rates \& errors: 50\% of $x_l$ see figure fig-03-other \#1 in\_domain." in bib  # math kept as is
    assert "author       = {{The NTK Companion contributors}}" in bib  # braces: a corporate author, not "authors, The"
    assert "year         = {2026}" in bib and "Git commit 0123456789abcdef0123" in bib
    assert f"url          = {{{url}}}" in bib
    # Without a chapter mapping, the repository's chapters are used (the CLI has no staged book).
    assert pages.citation_bibtex(fig).count("notebooks/03_") == 1


@pytest.mark.parametrize("caption, expected", [
    ("depth 10^4 and R^2", "depth $10^{4}$ and $R^{2}$"),
    (r"$\alpha = L^{-\gamma}$ & more", r"$\alpha = L^{-\gamma}$ \& more"),
    ("γ ≤ 1 · α — ok", r"$\gamma$ $\le$ 1 $\cdot$ $\alpha$ --- ok"),
    ("`n_train` **bold** *em* {math}`q_l` {eq}`eq-03-x`", r"\texttt{n\_train} bold em $q_l$"),
    ("~ { } \\ $5 and 100%", r"\~{} \{ \} \textbackslash{} \$5 and 100\%"),
])
def test_latex_text(caption, expected):
    assert cite.latex_text(caption) == expected


def test_cite_metadata_comes_from_citation_cff(tmp_path):
    meta = cite.metadata()
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert meta["title"] == cff["title"] == pages.BOOK_TITLE and meta["version"] == str(cff["version"])
    assert cite.FALLBACK == meta  # what an installed package without CITATION.cff cites
    people = tmp_path / "CITATION.cff"
    people.write_text("title: T\nversion: 1.0\nauthors:\n  - family-names: Huang\n    given-names: Kai Xuan\n"
                      "  - family-names: Wang\n    given-names: Yuqing\n")
    meta = cite.metadata(people)
    assert cite.authors_bibtex(meta) == "Huang, Kai Xuan and Wang, Yuqing"
    assert cite.authors_text(meta) == "Huang, K. X. & Wang, Y."
    (tmp_path / "bad.cff").write_text("title: T\n")
    with pytest.raises(ValueError, match="version, authors"):
        cite.metadata(tmp_path / "bad.cff")


def test_book_citation():
    bib = cite.book_bibtex("0123456789abcdef", "2026")
    assert bib.startswith("@misc{companion-book,") and "version 0.1.0" in bib and "Git commit 0123456789abcdef" in bib
    assert "url          = {https://ntk-companion.github.io/resnet-ntk-companion/}" in bib
    assert cite.book_text("0123456789abcdef", "2026").startswith("The NTK Companion contributors (2026). Deep ResNets")
    assert "(git commit 0123456789ab-dirty)" in cite.book_text("0123456789abcdef0123-dirty", "2026")


def test_plain_caption():
    assert pages.plain_caption("See {numref}`fig-01-a`\n and  {cite:t}`huang2020why`.") == "See fig-01-a and huang2020why."


# ------------------------------------------------------------------------------------------ claims


def test_claims_page_tables_counts_links_and_failures(tmp_path):
    static = tmp_path / "_static"
    _claims(static / "results", "01_models", [_row("01-a"), _row("01-b", claim="norm | stays", passed=False)])
    _claims(static / "results", "02_kernels", [_row("02-a")])
    page = pages.claims_page(static, {"01": "01_models"})
    assert page.startswith("(claims)=\n# Claims checked by this book")
    assert "**2 of 3 hold**" in page
    assert "{ref}`the chapter's claims <sec-01-claims>`" in page and "<sec-02-claims>" in page
    assert "{doc}`/notebooks/01_models`: 1 of 2 hold" in page
    assert "chapter 02_kernels: 1 of 1 hold" in page  # not staged: no dangling {doc}
    assert ":::{warning}" in page and "`01-b` (chapter 01)" in page
    assert page.count("**FAIL**") == 1 + 1  # the intro sentence and the failing row
    rows = _table_rows(page)
    assert len(rows) == 2 + 3  # two header rows, three claims
    assert all(len(r) == 6 for r in rows), rows  # the '|' in claims did not split cells
    assert [r[3] for r in rows if r[0] != "claim"] == ["pass", "**FAIL**", "pass"]
    assert [r[2] for r in rows if r[0] != "claim"] == ["0.25 ± 0.01"] * 3  # target and tolerance in one cell
    assert any(r[0].startswith("norm | stays (Huang et al. 2020) `01-b`") for r in rows)


def test_claims_page_all_pass_and_empty(tmp_path):
    static = tmp_path / "_static"
    assert "**0 of 0 hold**" in pages.claims_page(static) and "No chapter has checked a claim yet." in pages.claims_page(static)
    _claims(static / "results", "01_models", [_row("01-a")])
    page = pages.claims_page(static)
    assert "**1 of 1 hold**" in page and ":::{warning}" not in page


def test_write_generated_pages_uses_the_staged_chapters(tmp_path):
    dest = tmp_path / "book"
    (dest / "notebooks").mkdir(parents=True)
    nb = {"cells": [{"cell_type": "markdown", "source": "```{glue:figure} fig-01-norms\n:name: fig-01-norms\n```"}]}
    (dest / "notebooks" / "01_models.ipynb").write_text(json.dumps(nb))
    _sidecar(dest / "_static" / "figures", "fig-01-norms")
    _claims(dest / "_static" / "results", "01_models", [_row("01-a")])
    assert pages.chapter_docs(dest) == {"01": "01_models"}
    assert pages.figure_labels(dest) == ["fig-01-norms"]
    pages.write_generated_pages(dest)
    figures = (dest / "figures.md").read_text()
    assert "{numref}`fig-01-norms` in {doc}`/notebooks/01_models`" in figures
    assert "{doc}`/notebooks/01_models`: 1 of 1 hold" in (dest / "claims.md").read_text()


# ------------------------------------------------------------------------------------------ MathJax


def test_install_mathjax_copies_what_the_site_needs(tmp_path):
    pkg = tmp_path / "node_modules" / "mathjax"
    for rel in ("es5/tex-mml-chtml.js", "es5/input/tex/extensions/ams.js", "es5/output/chtml/fonts/woff-v2/a.woff",
                "es5/output/svg.js", "es5/tex-svg.js", "es5/ui/menu.js", "LICENSE"):
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text("x")
    target = pages.install_mathjax(tmp_path / "book", pkg)
    assert target == tmp_path / "book" / "_extra" / "_static" / "mathjax"
    for rel in ("tex-mml-chtml.js", "input/tex/extensions/ams.js", "output/chtml/fonts/woff-v2/a.woff", "ui/menu.js", "LICENSE"):
        assert (target / rel).is_file(), rel
    assert not (target / "tex-svg.js").exists() and not (target / "output" / "svg.js").exists()
    pages.install_mathjax(tmp_path / "book", pkg)  # again: replaces, does not fail
    with pytest.raises(FileNotFoundError, match="npm ci"):
        pages.install_mathjax(tmp_path / "book2", tmp_path / "nowhere")


def test_config_serves_mathjax_from_the_site():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    sphinx = config["sphinx"]["config"]
    assert sphinx["mathjax_path"] == "mathjax/" + pages.MATHJAX_ENTRY
    assert "://" not in sphinx["mathjax_path"]
    assert "_extra" in sphinx["html_extra_path"]
    assert "companion.book.sphinx_ext" in config["sphinx"]["extra_extensions"]
    assert config["html"]["baseurl"] == cite.SITE_URL
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/mathjax"]["version"].startswith("3.")


def test_dedupe_scripts_keeps_the_first_of_each():
    def js(filename, **attrs):
        return SimpleNamespace(filename=filename, attributes=attrs)

    files = [js("a.js"), js(None, body="const X = 1"), js("", body="const X = 1"), js("a.js"), js("b.js", defer="defer")]
    context = {"script_files": files}
    sphinx_ext.dedupe_scripts(None, "page", "page.html", context, None)
    assert [(f.filename, f.attributes) for f in context["script_files"]] == [
        ("a.js", {}), (None, {"body": "const X = 1"}), ("b.js", {"defer": "defer"})
    ]


# ------------------------------------------------------------------------------ companion figures


def test_cli_export_copies_verified_files_and_a_bibliography(tmp_path, capsys):
    src = tmp_path / "src"
    _sidecar(src, "fig-01-norms")
    _sidecar(src, "fig-02-kernel")
    out = tmp_path / "out"
    assert cli.main(["figures", "export", str(out), "--source", str(src)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([f"{f}.{e}" for f in ("fig-01-norms", "fig-02-kernel") for e in ("pdf", "svg", "png", "json")]
                           + ["figures.bib"])
    for p in src.iterdir():
        assert (out / p.name).read_bytes() == p.read_bytes()
    bib = (out / "figures.bib").read_text()
    assert "@misc{companion-fig-01-norms," in bib and "@misc{companion-fig-02-kernel," in bib
    assert "exported 2 figure(s), 8 files" in capsys.readouterr().err


def test_cli_export_refuses_a_corrupt_or_missing_file(tmp_path, capsys):
    src = tmp_path / "src"
    _sidecar(src, "fig-01-norms")
    (src / "fig-01-norms.png").write_bytes(b"truncated")
    assert cli.main(["figures", "export", str(tmp_path / "out"), "--source", str(src)]) == 1
    assert "does not match its sidecar" in capsys.readouterr().err
    (src / "fig-01-norms.png").unlink()
    assert cli.main(["figures", "export", str(tmp_path / "out"), "--source", str(src)]) == 1
    err = capsys.readouterr().err
    assert "PNG file" in err and "is missing" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["figures", "export", str(tmp_path / "out"), "--source", str(empty)]) == 1
    assert "no figures found" in capsys.readouterr().err
    assert cli.main(["figures", "export", str(tmp_path / "out"), "--source", str(tmp_path / "nope")]) == 1
    assert "no such folder" in capsys.readouterr().err


def test_cli_list_and_cite(tmp_path, capsys):
    src = tmp_path / "src"
    _sidecar(src, "fig-01-norms", "Squared norm {math}`q_l`.")
    assert cli.main(["figures", "list", "--source", str(src)]) == 0
    assert capsys.readouterr().out == "fig-01-norms\tchapter 01\tSquared norm q_l.\n"
    assert cli.main(["figures", "cite", "fig-01-norms", "--source", str(src)]) == 0
    assert capsys.readouterr().out.startswith("@misc{companion-fig-01-norms,")
    assert cli.main(["figures", "cite", "fig-01-norms", "--format", "text", "--source", str(src)]) == 0
    assert capsys.readouterr().out.startswith("The NTK Companion contributors (2026). Figure fig-01-norms")
    assert cli.main(["figures", "cite", "fig-09-none", "--source", str(src)]) == 1
    assert "known: fig-01-norms" in capsys.readouterr().err


def test_cli_takes_the_latest_build_else_executes_the_chapters(tmp_path, monkeypatch, capsys):
    stage = tmp_path / "stage"
    monkeypatch.setattr(build, "STAGE", stage)
    executed = []

    def fake_execute(name, scale, log=print, **kw):
        executed.append((name, scale))
        _sidecar(tmp_path / "cache" / name / "figures", f"fig-{name[:2]}-x")
        return SimpleNamespace(outputs=tmp_path / "cache" / name)

    monkeypatch.setattr(build, "execute", fake_execute)
    monkeypatch.setattr(build, "chapter_names", lambda: ["01_models", "02_kernels"])
    # No build: the chapters are executed (through the cache) at the requested scale.
    assert cli.main(["figures", "export", str(tmp_path / "a"), "--scale", "smoke"]) == 0
    assert executed == [("01_models", "smoke"), ("02_kernels", "smoke")]
    assert (tmp_path / "a" / "fig-02-x.png").is_file()
    # A build exists: its figures are used, nothing is executed.
    executed.clear()
    _sidecar(stage / "_static" / "figures", "fig-01-built")
    assert cli.main(["figures", "export", str(tmp_path / "b")]) == 0
    assert executed == [] and (tmp_path / "b" / "fig-01-built.pdf").is_file()
    assert "latest book build" in capsys.readouterr().err
    # --execute ignores the build.
    assert cli.main(["figures", "export", str(tmp_path / "c"), "--execute", "--chapter", "01_models"]) == 0
    assert executed == [("01_models", "default")]


def test_cli_bad_arguments_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["figures", "export"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        cli.main(["figures", "export", "x", "--scale", "huge"])
    assert "invalid choice: 'huge'" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ CITATION.cff


def test_citation_cff():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    assert cff["title"] == pages.BOOK_TITLE
    # One entity author (the project's contributors, as in "The Matplotlib Development Team"), the same
    # in CITATION.cff, the book's configuration and every BibTeX entry.
    assert [a["name"] for a in cff["authors"]] == ["The NTK Companion contributors"]
    assert yaml.safe_load((ROOT / "_config.yml").read_text())["author"] == cite.authors_text(cite.metadata())
    assert cff["repository-code"] == pages.REPOSITORY
    assert cff["url"] == cite.SITE_URL
    assert cff["license"] == "MIT"
    assert str(cff["version"]) == companion.__version__
    titles = " ".join(r["title"] for r in cff["references"])
    for words in ("Why Do Deep Residual Networks Generalize Better", "Suitable Scaling Factor", "Neural Tangent Hierarchy"):
        assert words in titles
    years = sorted(r["year"] for r in cff["references"])
    assert years == [2020, 2022, 2024]
    assert re.search(r"arXiv:2403\.04545", json.dumps(cff["references"]))


# ------------------------------------------------------------------- issue 15: what readers see


def _cf_row(id, passed=True, rejected=True, claim="q stays bounded"):
    return {**_row(id, passed, claim), "counterfactual": "the FFNet | instead", "counterfactual_measured": "0.5",
            "counterfactual_passed": str(not rejected)}


def _claims_cf(folder: Path, chapter: str, rows: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"claims_{chapter}.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_claims_page_shows_counterfactuals_like_the_chapters(tmp_path):
    static = tmp_path / "_static"
    _claims_cf(static / "results", "03_degeneracy", [_cf_row("03-a"), _cf_row("03-b", rejected=False)])
    page = pages.claims_page(static, {"03": "03_degeneracy"})
    assert "**1 of 2 counterfactuals" in page and "rejected**" in page
    assert "`03-b` (chapter 03)" in page  # listed: its check does not reject the counterfactual
    rows = _table_rows(page)
    assert rows[0] == list(pages.CLAIMS_HEADER)
    assert all(len(r) == 6 for r in rows)
    assert rows[1][4] == "the FFNet | instead: 0.5" and rows[1][5] == "yes" and rows[2][5] == "**NO**"
    assert pages.claims_summary(static) == {"claims": 2, "hold": 2, "counterfactuals": 2, "rejected": 1}


def test_figure_index_links_each_figures_data_and_the_result_tables(tmp_path):
    static = tmp_path / "_static"
    _sidecar(static / "figures", "fig-01-norms")
    (static / "figures" / "fig-01-norms.csv").write_text("panel,x,y\n1,0,1\n")
    meta = json.loads((static / "figures" / "fig-01-norms.json").read_text())
    meta["files"]["csv"] = {"file": "fig-01-norms.csv", "sha256": "x"}
    (static / "figures" / "fig-01-norms.json").write_text(json.dumps(meta))
    _claims(static / "results", "01_models", [_row("01-a"), _row("01-b")])
    page = pages.figure_index(static, {"01": "01_models"})
    assert "(figure-index-fig-01-norms)=\n### fig-01-norms" in page
    assert "{download}`data (CSV) <_static/figures/fig-01-norms.csv>`" in page
    assert "(data-tables)=" in page
    assert "| `claims_01_models` | 01 | 2 | {download}`claims_01_models.csv <_static/results/claims_01_models.csv>` |" in page
    assert "notebooks/01_models.html#fig-01-norms" in page  # the citation's URL: the figure on its page


def test_front_matter_headline_findings_live_count_and_citation(tmp_path):
    dest = tmp_path / "book"
    (dest / "notebooks").mkdir(parents=True)
    for name in ("01_models", "03_degeneracy"):
        (dest / "notebooks" / f"{name}.ipynb").write_text(json.dumps({"cells": []}))
    _sidecar(dest / "_static" / "figures", "fig-01-norms")
    _sidecar(dest / "_static" / "figures", "fig-03-ntk", "The NTK for L up to 10^4 and $\\gamma = 1$.")
    _claims_cf(dest / "_static" / "results", "01_models", [_cf_row("01-a"), _cf_row("01-b")])
    _claims_cf(dest / "_static" / "results", "03_degeneracy", [_cf_row("03-a", passed=False)])
    (dest / "findings.yml").write_text(
        "- chapter: 01_models\n  finding: >-\n    Signals.\n- chapter: 03_degeneracy\n  finding: Kernels.\n"
        "- chapter: 06_experiments\n  finding: Not in this build.\n")
    text = front.front_matter(dest)
    assert "```{figure} /_static/figures/fig-03-ntk.png" in text  # the headline figure
    assert ":alt: The NTK for L up to 10⁴ and γ = 1." in text
    assert "The NTK for L up to $10^{4}$ and $\\gamma = 1$. (from {doc}`/notebooks/03_degeneracy`)" in text
    assert "- {doc}`/notebooks/01_models`: Signals." in text and "Not in this build" not in text
    assert "**3 claims**" in text and "**2 of 3 hold**" in text and "every check rejects its counterfactual" in text
    assert "(cite-this-book)=" in text and "@misc{companion-book," in text
    assert "{download}`figures.bib </_static/figures.bib>`" in text
    with pytest.raises(ValueError, match="findings.yml"):
        (dest / "findings.yml").write_text("- chapter: 01_models\n")
        front.findings(dest / "findings.yml")


def test_intro_includes_the_generated_front_matter():
    intro = (ROOT / "book" / "intro.md").read_text()
    assert "```{include} _generated/front.md" in intro
    for words in ("could not be", "offline", "reviewer", "pilot", "[U]"):
        assert words not in intro, words
    guide = (ROOT / "book" / "guide.md").read_text()
    assert "(notation)=" in guide and "| symbol | meaning | where |" in guide


@pytest.mark.parametrize("tex, text", [
    (r"\gamma", "γ"), (r"\alpha = L^{-\gamma}", "α = L⁻ᵞ"), (r"1 - \rho_0", "1 - ρ₀"), (r"m^{-1/2}", "m^(-1/2)"),
    (r"\tfrac38 \ln L / L", "3/8 ln L / L"), (r"\mathrm{relu}(x)", "relu(x)"), (r"10^4", "10⁴"),
    (r"\int_0^1 f", None), (r"\begin{aligned} x \end{aligned}", None),
])
def test_tex_to_unicode(tex, text):
    assert cite.tex_to_unicode(tex) == text


def test_alt_text_has_no_tex():
    alt = cite.alt_text(r"Normalised NTK {eq}`eq-03-x` against $\rho_0$ for $L$ up to 10^4, $\alpha = L^{-\gamma}$, "
                        r"$\sqrt{2/m}$ and $\frac{1}{2}$ **bold**.")
    assert alt == "Normalised NTK against ρ₀ for L up to 10⁴, α = L⁻ᵞ, √(2/m) and 1/2 bold."
