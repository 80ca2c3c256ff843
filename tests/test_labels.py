"""Code and book linked both ways: every equation label of a chapter is named by the docstring of the
function that implements it (d2l's "Defined in", the other way round), the chapter names that function,
and no docstring names a label that does not exist or cites a file outside the repository.

A label that is prose only (a definition or a derivation step that no function computes) is marked in
its chapter with a MyST comment line ``% prose-only: eq-NN-name (reason)``.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "companion"
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md"))
LABEL = re.compile(r"\$\$\s*\((eq-[a-z0-9-]+)\)|:label:\s*(eq-[a-z0-9-]+)")
PROSE = re.compile(r"^%\s*prose-only:\s*(eq-[a-z0-9-]+)", re.M)
NAMED = re.compile(r"\beq-[a-z0-9]+(?:-[a-z0-9]+)*\b")


@lru_cache(maxsize=1)
def chapter_labels() -> dict[str, Path]:
    out = {}
    for md in CHAPTERS:
        for m in LABEL.finditer(md.read_text()):
            out[m.group(1) or m.group(2)] = md
    return out


@lru_cache(maxsize=1)
def prose_only() -> set[str]:
    return {m.group(1) for md in CHAPTERS for m in PROSE.finditer(md.read_text())}


@lru_cache(maxsize=1)
def docstrings() -> list[tuple[str, str]]:
    """``(qualified name, docstring)`` of every module, class and function of the package."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        mod = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        tree = ast.parse(path.read_text())
        out.append((mod, ast.get_docstring(tree) or ""))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out.append((f"{mod}.{node.name}", ast.get_docstring(node) or ""))
    return out


@lru_cache(maxsize=1)
def implementers(modules: bool = False) -> dict[str, list[str]]:
    """Label -> the functions and classes whose docstrings name it (``modules=True``: module docstrings
    too, which may mention a label in passing without computing it)."""
    found = defaultdict(list)
    for path_doc in docstrings():
        name, doc = path_doc
        is_module = name.count(".") < 1 or name in _modules()
        if is_module and not modules:
            continue
        for label in NAMED.findall(doc):
            found[label].append(name)
    return found


@lru_cache(maxsize=1)
def _modules() -> frozenset[str]:
    return frozenset(".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
                     for p in PACKAGE.rglob("*.py"))


def test_chapters_have_labels():
    assert len(chapter_labels()) >= 20, "the chapters label their equations as $$ ... $$ (eq-NN-name)"


@pytest.mark.parametrize("label", sorted(chapter_labels()))
def test_every_label_is_implemented_or_prose_only(label):
    named = implementers().get(label, [])
    if label in prose_only():
        assert not named, f"{label} is marked prose-only but {named} implement it: drop the mark"
        return
    assert named, (f"no docstring names {label} ({chapter_labels()[label].name}): name it in the function that "
                   f"computes it, or mark it '% prose-only: {label} (reason)' in the chapter")
    text = chapter_labels()[label].read_text()
    leaves = {n.rsplit(".", 1)[-1] for n in named}
    assert any(re.search(rf"\b{re.escape(leaf)}\b", text) for leaf in leaves), (
        f"{chapter_labels()[label].name} never names the function that implements {label} (one of {sorted(named)})")


def test_docstrings_name_only_existing_labels():
    labels = chapter_labels()
    stale = {label: names for label, names in implementers(modules=True).items() if label not in labels}
    assert not stale, f"docstrings name labels that no chapter defines: {stale}"


def test_docstrings_cite_the_book_and_the_papers_not_outside_files():
    bad = [name for name, doc in docstrings()
           if re.search(r"the specification|papers\.md|\.\./shared|shared/papers", doc)]
    assert not bad, f"docstrings citing a file outside the repository: {bad}"
