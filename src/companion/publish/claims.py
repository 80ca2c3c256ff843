"""Claims as checks: each chapter ends with a table of the papers' claims it re-measures.

A chapter builds its claims with the functions of its own module (e.g. ``companion.theory``), which the
test suite calls too, so a claim that stops holding fails CI as well as showing "FAIL" on the page.
This module only holds the record type, the comparisons and the table.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterable, Sequence

from companion.util import validate as check
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
    """

    id: str
    claim: str
    source: str
    measured: float
    target: str
    tolerance: str
    passed: bool


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


def within(id: str, claim: str, source: str, measured: float, target: float, tol: float) -> Claim:
    """``|measured - target| <= tol``."""
    _texts(id=id, claim=claim, source=source)
    measured = _measured(measured)
    target, tol = check.real("target", target), check.real("tol", tol, minimum=0.0)
    ok = math.isfinite(measured) and abs(measured - target) <= tol
    return Claim(id, claim, source, float(measured), f"{target:.6g}", f"|measured - target| <= {tol:g}", bool(ok))


def at_most(id: str, claim: str, source: str, measured: float, bound: float) -> Claim:
    """``measured <= bound``."""
    _texts(id=id, claim=claim, source=source)
    measured, bound = _measured(measured), check.real("bound", bound)
    ok = math.isfinite(measured) and measured <= bound
    return Claim(id, claim, source, float(measured), f"<= {bound:.6g}", "none (one-sided bound)", bool(ok))


def at_least(id: str, claim: str, source: str, measured: float, bound: float) -> Claim:
    """``measured >= bound``."""
    _texts(id=id, claim=claim, source=source)
    measured, bound = _measured(measured), check.real("bound", bound)
    ok = math.isfinite(measured) and measured >= bound
    return Claim(id, claim, source, float(measured), f">= {bound:.6g}", "none (one-sided bound)", bool(ok))


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
        writer.writerow(row)
    return buf.getvalue()


def to_markdown(claims: Sequence[Claim]) -> str:
    """The claims as a Markdown table (claim, source, measured, target, tolerance, pass/fail)."""
    lines = [
        "| claim | source | measured | target | tolerance | result |",
        "|---|---|---|---|---|---|",
    ]
    for c in claims:
        result = "pass" if c.passed else "**FAIL**"
        lines.append(f"| {c.claim} | {c.source} | {c.measured:.4g} | {c.target} | {c.tolerance} | {result} |")
    return "\n".join(lines)


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
    """Write ``claims_<chapter>.csv`` (the claims page collects it) and display the table."""
    from IPython.display import Markdown, display

    write(claims, chapter)
    display(Markdown(to_markdown(claims)))
