"""Claims as checks: each chapter ends with a table of the claims it re-measures.

A chapter builds its claims with the functions of its own module (e.g. :mod:`companion.chapters.degeneracy`),
which the test suite calls too, so a claim that stops holding fails CI as well as showing "FAIL" on the page.

Every claim carries a **counterfactual**: the same measurement, by the same code, on an input where the
claim must not hold (the other architecture, the other gamma, a shallower depth, shuffled labels, ...).
The same comparison is applied to it, and ``counterfactual_passed`` must be ``False``: a check that would
also accept the counterfactual cannot tell the claim from its negation. ``counterfactual_passed`` is
``None`` only for a claim built without one (the test suite rejects those in chapters).

This module holds the record type, the comparisons and the tables (CSV, and Markdown with every cell
escaped, so a ``|`` in a claim's text cannot split a row).
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Iterable, Sequence

from companion.util import validate as check
from companion.util.console import in_book_build
from companion.util.storage import atomic_write_text


@dataclass(frozen=True)
class Claim:
    """One checked claim.

    Attributes:
      id: short stable identifier, ``<chapter>-<name>`` (e.g. ``03-ffnet-quarter``).
      claim: the statement, in words.
      source: where it comes from (paper, theorem/figure/table; "spec [D]" for derived facts).
      measured: the measured value (a number, or the worst case over a range).
      target: what it is compared with (a number, or a description).
      tolerance: the allowed deviation, in words (e.g. "|measured - 0.25| <= 0.005").
      passed: whether the measurement satisfies the claim.
      counterfactual: what was changed for the counterfactual measurement, in words ("" if none).
      counterfactual_measured: the counterfactual's measured value (NaN if none).
      counterfactual_passed: whether the counterfactual also satisfies the claim: ``False`` is what a
        check that can fail gives; ``None`` if there is no counterfactual.
    """

    id: str
    claim: str
    source: str
    measured: float
    target: str
    tolerance: str
    passed: bool
    counterfactual: str = ""
    counterfactual_measured: float = math.nan
    counterfactual_passed: bool | None = None


def _measured(value) -> float:
    """The measured value as a float: any real number; NaN or inf is allowed and fails the claim."""
    if isinstance(value, (str, bytes, bool)):
        raise check.fail("measured", value, "a real number (NaN fails the claim)")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise check.fail("measured", value, "a real number (NaN fails the claim)") from None


def _texts(**kw: str) -> None:
    for name, v in kw.items():
        if not isinstance(v, str) or not v:
            raise check.fail(name, v, "a non-empty string")


Counterfactual = tuple  # (what was changed, in words; its measured value)


def _counterfactual(counterfactual, test) -> dict:
    """The counterfactual fields of a claim: ``test(value)`` is the claim's own comparison."""
    if counterfactual is None:
        return {}
    if not (isinstance(counterfactual, tuple) and len(counterfactual) == 2):
        raise check.fail("counterfactual", counterfactual, "a tuple (what was changed, measured value) or None")
    what, value = counterfactual
    _texts(counterfactual=what)
    value = _measured(value)
    return {"counterfactual": what, "counterfactual_measured": value, "counterfactual_passed": bool(test(value))}


def within(id: str, claim: str, source: str, measured: float, target: float, tol: float, *,
           counterfactual: Counterfactual | None = None) -> Claim:
    """``|measured - target| <= tol`` (NaN or inf fails), applied to the counterfactual's value as well.

    Args:
      counterfactual: ``(what was changed, measured value)`` of the same measurement where the claim must
        not hold; ``None`` only outside the chapters.

    Raises:
      ValueError: empty texts, a non-numeric measured value, a non-finite target, a negative ``tol``.
    """
    _texts(id=id, claim=claim, source=source)
    measured = _measured(measured)
    target, tol = check.real("target", target), check.real("tol", tol, minimum=0.0)

    def test(m: float) -> bool:
        return math.isfinite(m) and abs(m - target) <= tol

    return Claim(id, claim, source, float(measured), f"{target:.6g}", f"|measured - target| <= {tol:g}",
                 test(measured), **_counterfactual(counterfactual, test))


def at_most(id: str, claim: str, source: str, measured: float, bound: float, *,
            counterfactual: Counterfactual | None = None) -> Claim:
    """``measured <= bound`` (NaN and -inf fail: a measured value must be a finite number)."""
    _texts(id=id, claim=claim, source=source)
    measured, bound = _measured(measured), check.real("bound", bound)

    def test(m: float) -> bool:
        return math.isfinite(m) and m <= bound

    return Claim(id, claim, source, float(measured), f"<= {bound:.6g}", "none (one-sided bound)",
                 test(measured), **_counterfactual(counterfactual, test))


def at_least(id: str, claim: str, source: str, measured: float, bound: float, *,
             counterfactual: Counterfactual | None = None) -> Claim:
    """``measured >= bound`` (NaN and +inf fail)."""
    _texts(id=id, claim=claim, source=source)
    measured, bound = _measured(measured), check.real("bound", bound)

    def test(m: float) -> bool:
        return math.isfinite(m) and m >= bound

    return Claim(id, claim, source, float(measured), f">= {bound:.6g}", "none (one-sided bound)",
                 test(measured), **_counterfactual(counterfactual, test))


def without_failing_counterfactual(claims: Iterable[Claim]) -> list[Claim]:
    """The claims whose check cannot be shown to fail: no counterfactual, or one that passes too."""
    return [c for c in claims if c.counterfactual_passed is not False]


def failures(claims: Iterable[Claim]) -> list[Claim]:
    """The claims that did not hold."""
    return [c for c in claims if not c.passed]


def to_csv(claims: Sequence[Claim]) -> str:
    """The claims as CSV text (columns = :class:`Claim` fields)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[f.name for f in fields(Claim)], lineterminator="\n")
    writer.writeheader()
    for c in claims:
        row = asdict(c)
        row["measured"] = f"{c.measured:.6g}"
        row["counterfactual_measured"] = f"{c.counterfactual_measured:.6g}"
        row["counterfactual_passed"] = "" if c.counterfactual_passed is None else str(c.counterfactual_passed)
        writer.writerow(row)
    return buf.getvalue()


def markdown_cell(text: Any) -> str:
    """``text`` made safe for one Markdown table cell: one line, ``\\`` and ``|`` escaped."""
    text = " ".join(str("" if text is None else text).split())
    return text.replace("\\", "\\\\").replace("|", "\\|")


TABLE_HEADER = ("claim", "measured", "required", "result", "counterfactual", "rejected")


def _flag(value: Any) -> bool | None:
    """A boolean field of a :class:`Claim` or of its CSV row (``"True"``, ``"False"``, ``""`` for none)."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip()
    return None if text == "" else text == "True"


def _number(value: Any) -> str:
    """A measured value as the tables show it (4 significant digits)."""
    try:
        return f"{float(value):.4g}"
    except (TypeError, ValueError):
        return markdown_cell(value)


def requirement(target: Any, tolerance: Any) -> str:
    """What the measured value must satisfy, in one short cell: ``0.25 ± 0.005`` for a two-sided check
    (:func:`within`), ``<= 1`` for a one-sided one (:func:`at_most`, :func:`at_least`)."""
    target, tolerance = markdown_cell(target), str(tolerance or "").strip()
    if tolerance.startswith("|measured - target| <= "):
        return f"{target} ± {markdown_cell(tolerance.rsplit('<= ', 1)[1])}"
    if not tolerance or tolerance.startswith("none"):
        return target
    return f"{target} ({markdown_cell(tolerance)})"


_EQ_LABEL = re.compile(r"\beq-[a-z0-9]+(?:-[a-z0-9]+)*")


def table_rows(rows: Iterable[Any], *, ids: bool = False, myst: bool = False) -> list[str]:
    """A claims table as Markdown lines, from :class:`Claim` records or their CSV rows (mappings of strings).

    Columns :data:`TABLE_HEADER`: the claim with its source (and its id when ``ids``), the measured value,
    what it must satisfy (:func:`requirement`), pass or **FAIL**, the counterfactual with its value, and
    whether the check rejected it (``yes``, **NO**, or **none**). Every cell is escaped, so a ``|`` in a
    text cannot split a row. The chapter pages and the claims page show the same table. ``myst``: an
    equation label in a claim's text or source (``eq-04-ode``) becomes a reference to the equation,
    ``{eq}`eq-04-ode``` (shown as its number, "(4.3)", in the book; Jupyter would show the role as text).
    """
    out = ["| " + " | ".join(TABLE_HEADER) + " |", "|" + "---|" * len(TABLE_HEADER)]
    for r in rows:
        r = asdict(r) if isinstance(r, Claim) else dict(r)
        claim = f"{markdown_cell(r.get('claim'))} ({markdown_cell(r.get('source'))})"
        if myst:
            claim = _EQ_LABEL.sub(lambda m: "{eq}`" + m.group(0) + "`", claim)
        if ids:
            claim += f" `{markdown_cell(r.get('id'))}`"
        cf_passed = _flag(r.get("counterfactual_passed"))
        if cf_passed is None:
            cf, rejected = "none", "**none**"
        else:
            cf = f"{markdown_cell(r.get('counterfactual'))}: {_number(r.get('counterfactual_measured'))}"
            rejected = "yes" if cf_passed is False else "**NO**"
        cells = [claim, _number(r.get("measured")), requirement(r.get("target"), r.get("tolerance")),
                 "pass" if _flag(r.get("passed")) else "**FAIL**", cf, rejected]
        out.append("| " + " | ".join(cells) + " |")
    return out


def to_markdown(claims: Sequence[Claim]) -> str:
    """The claims as a Markdown table (:func:`table_rows`), as a chapter page shows them."""
    return "\n".join(table_rows(claims))


def write(claims: Sequence[Claim], chapter: str, out_dir: Path | None = None) -> Path:
    """Write ``claims_<chapter>.csv`` into ``out_dir`` (default: the chapter output's ``results/``)."""
    from companion.publish.figures import output_dir

    if not (isinstance(chapter, str) and chapter and all(c.isalnum() or c in "_-" for c in chapter)):
        raise check.fail("chapter", chapter, "a chapter name of letters, digits, '_' and '-', e.g. '01_models'")
    out = Path(out_dir) if out_dir is not None else output_dir() / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"claims_{chapter}.csv"
    atomic_write_text(path, to_csv(claims))
    return path


def show(claims: Sequence[Claim], chapter: str) -> None:
    """Write ``claims_<chapter>.csv`` (the claims page collects it) and display the table, each claim with its id."""
    from IPython.display import Markdown, display

    write(claims, chapter)
    book = in_book_build()
    table = "\n".join(table_rows(claims, ids=True, myst=book))  # with ids: the chapter's text cites claims by id
    if book:
        # the book's claims-table style (the claim's text gets the room), as on the claims page; the
        # directive is MyST, which the book renders in outputs and Jupyter or Colab would show as text
        table = ":::{table}\n:class: claims-table\n\n" + table + "\n\n:::"
    display(Markdown(table))
