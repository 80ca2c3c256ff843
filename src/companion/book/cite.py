"""Citations of the book and of each figure: text and BibTeX that LaTeX compiles.

Authors, title and version come from ``CITATION.cff`` (the one place to change them); a figure's entry adds
its caption, its own URL on the published site (chapter page and the figure's anchor) and the git commit it
was made from. :func:`latex_text` turns MyST captions into LaTeX that compiles: ``$...$`` math is kept,
``& % # _ ^ ~ { } \\`` and a stray ``$`` outside math are escaped, Markdown marks and MyST roles are
dropped (``{math}`` becomes ``$...$``), and Unicode letters and symbols that LaTeX's default input
encoding does not know (Greek letters, ``≤``, ``·``, ``−``) become their LaTeX commands.
``tests/book/test_latex.py`` runs BibTeX and pdfLaTeX over a document that cites every figure.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path
from typing import Any, Mapping

from companion.book.paths import REPOSITORY, ROOT, SITE_URL

CFF = ROOT / "CITATION.cff"
# What CITATION.cff says, for a package installed without its repository (a test checks they agree).
FALLBACK = {"title": "Deep ResNets versus deep FFNets: a neural tangent kernel companion", "version": "0.1.0",
            "authors": [{"name": "The NTK Companion contributors"}], "repository": REPOSITORY}

# Unicode that LaTeX's utf8 input does not define, as math (wrapped in $...$ outside math) or as text.
_GREEK = {
    "α": r"\alpha", "β": r"\beta", "γ": r"\gamma", "δ": r"\delta", "ε": r"\varepsilon", "ζ": r"\zeta",
    "η": r"\eta", "θ": r"\theta", "ι": r"\iota", "κ": r"\kappa", "λ": r"\lambda", "μ": r"\mu", "ν": r"\nu",
    "ξ": r"\xi", "π": r"\pi", "ρ": r"\rho", "σ": r"\sigma", "τ": r"\tau", "υ": r"\upsilon", "φ": r"\phi",
    "χ": r"\chi", "ψ": r"\psi", "ω": r"\omega", "Γ": r"\Gamma", "Δ": r"\Delta", "Θ": r"\Theta",
    "Λ": r"\Lambda", "Ξ": r"\Xi", "Π": r"\Pi", "Σ": r"\Sigma", "Φ": r"\Phi", "Ψ": r"\Psi", "Ω": r"\Omega",
}
_MATH_SYMBOLS = {
    **_GREEK,
    "≤": r"\le", "≥": r"\ge", "≈": r"\approx", "≠": r"\ne", "×": r"\times", "·": r"\cdot", "−": "-",
    "→": r"\to", "←": r"\leftarrow", "∞": r"\infty", "±": r"\pm", "√": r"\surd", "∝": r"\propto",
    "∈": r"\in", "∼": r"\sim", "‖": r"\|", "∑": r"\sum", "∫": r"\int", "∂": r"\partial", "∇": r"\nabla",
    "⟨": r"\langle", "⟩": r"\rangle", "≪": r"\ll", "≫": r"\gg", "ℓ": r"\ell", "°": r"^\circ",
    "²": "^2", "³": "^3", "¹": "^1", "⁰": "^0", "⁴": "^4", "⁻": "^-", "½": r"\tfrac12", "¼": r"\tfrac14",
}
_TEXT_SYMBOLS = {
    "–": "--", "—": "---", "‘": "`", "’": "'", "“": "``", "”": "''", "…": r"\ldots{}", "\u00a0": "~",
    "\u2009": r"\,", "\u202f": r"\,", "é": r"\'e", "è": r"\`e", "ü": r"\"u", "ö": r"\"o", "ä": r"\"a",
}
_TEXT_ESCAPES = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_",
    "^": r"\^{}", "~": r"\~{}", "$": r"\$",
}
_MATH = re.compile(r"(\$\$.+?\$\$|\$[^$\n]+?\$)", re.S)
_ROLE = re.compile(r"\{([a-z:]+)\}`([^`]*)`")


# ---------------------------------------------------------------------------------------- CITATION.cff


@functools.lru_cache(maxsize=4)
def _cff(path: str) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}


def metadata(path: Path | None = None) -> dict[str, Any]:
    """``{"title", "version", "authors": [{"family", "given"} or {"name"}], "repository"}`` from CITATION.cff.

    Raises:
      ValueError: the file has no title, version or author.
    """
    if path is None and not CFF.is_file():  # the package installed without its repository (pip, Colab)
        return dict(FALLBACK)
    cff = _cff(str(path or CFF))
    authors = []
    for a in cff.get("authors") or []:
        if a.get("family-names"):
            authors.append({"family": str(a["family-names"]), "given": str(a.get("given-names", ""))})
        elif a.get("name"):
            authors.append({"name": str(a["name"])})
    missing = [k for k, v in (("title", cff.get("title")), ("version", cff.get("version")), ("authors", authors)) if not v]
    if missing:
        from companion.util import validate as check

        raise check.fail("CITATION.cff", str(path or CFF), "a file with " + ", ".join(missing))
    return {"title": str(cff["title"]), "version": str(cff["version"]), "authors": authors,
            "repository": str(cff.get("repository-code") or REPOSITORY)}


def authors_text(meta: Mapping[str, Any]) -> str:
    """Authors for a text citation: ``Huang, K., Wang, Y.`` or an entity's name."""
    out = []
    for a in meta["authors"]:
        if "name" in a:
            out.append(a["name"])
        else:
            initials = " ".join(p[0] + "." for p in a["given"].split() if p)
            out.append(f"{a['family']}, {initials}".rstrip(", "))
    return ", ".join(out[:-1]) + (" & " if len(out) > 1 else "") + out[-1]


def authors_bibtex(meta: Mapping[str, Any]) -> str:
    """Authors for BibTeX: ``Family, Given and ...``; an entity in braces, so BibTeX keeps it whole."""
    parts = []
    for a in meta["authors"]:
        if "name" in a:
            parts.append("{" + latex_text(a["name"]) + "}")
        else:
            parts.append(f"{latex_text(a['family'])}, {latex_text(a['given'])}".rstrip(", "))
    return " and ".join(parts)


# ------------------------------------------------------------------------------------------- LaTeX text


def _roles(text: str) -> str:
    """MyST roles in a caption: ``{math}`x``` -> ``$x$``; ``{eq}`` references are dropped (a number that
    only the book knows); any other role keeps its text (``{doc}`title <target>``` -> ``title``)."""

    def one(m: re.Match) -> str:
        role, body = m.group(1), m.group(2)
        if role == "math":
            return f"${body}$"
        if role == "eq":
            return ""
        if role == "numref":
            return "figure " + body
        title = re.match(r"(.*?)\s*<[^>]*>$", body)
        return title.group(1) if title else body

    return _ROLE.sub(one, text)


def _math(tex: str) -> str:
    return "".join(_MATH_SYMBOLS[c] + (" " if _MATH_SYMBOLS[c][-1:].isalpha() else "") if c in _MATH_SYMBOLS else c
                   for c in tex)


def _plain(text: str) -> str:
    """Text outside math: Markdown marks dropped, specials escaped, Unicode spelled for LaTeX."""
    text = re.sub(r"`([^`]*)`", lambda m: "\x00tt" + m.group(1) + "\x00", text)  # code spans, marked
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"\1", text)
    out = []
    in_code = False
    for piece in re.split(r"(\x00tt|\x00)", text):
        if piece == "\x00tt":
            out.append(r"\texttt{")
            in_code = True
            continue
        if piece == "\x00":
            out.append("}" if in_code else "")
            in_code = False
            continue
        for c in piece:
            if c in _TEXT_ESCAPES:
                out.append(_TEXT_ESCAPES[c])
            elif c in _TEXT_SYMBOLS:
                out.append(_TEXT_SYMBOLS[c])
            elif c in _MATH_SYMBOLS:
                out.append("$" + _math(c).strip() + "$")
            elif ord(c) < 128:
                out.append(c)
            else:  # an accented letter LaTeX may not know: its base letter (never a character that stops LaTeX)
                base = unicodedata.normalize("NFKD", c).encode("ascii", "ignore").decode()
                out.append(base or "?")
    return "".join(out)


_POWER = re.compile(r"(?<![\w$])([A-Za-z0-9.]+)\^(\{[^}$]*\}|\([^()$]*\)|[-−+]?[\w/]+(?:\.\d+)?)")


def latex_text(text: str) -> str:
    """MyST text (a caption, a title) as LaTeX that compiles with pdfLaTeX's default input encoding.

    A power written as plain text outside math (``10^4``, ``R^2``, ``L^{-1/2}``) becomes math (``$10^{4}$``).
    """
    text = myst_text(" ".join(_roles(str(text)).split()))  # plain-text powers become math
    parts = _MATH.split(text)
    return "".join(_math(p) if i % 2 else _plain(p) for i, p in enumerate(parts))


def myst_text(text: str) -> str:
    """A caption for a MyST page: plain-text powers outside math (``10^4``) become math (``$10^{4}$``), so the
    page shows a superscript, not a caret."""
    parts = _MATH.split(str(text))
    for i in range(0, len(parts), 2):
        parts[i] = _POWER.sub(lambda m: f"${m.group(1)}^{{{m.group(2).removeprefix('{').removesuffix('}')}}}$", parts[i])
    return "".join(parts)


def plain_text(text: str) -> str:
    """MyST text as plain text for a text citation (roles resolved as in :func:`latex_text`, one line)."""
    return " ".join(_roles(str(text)).split())


# ------------------------------------------------------------------------------------------- entries


def figure_url(fig: Mapping[str, Any], chapters: Mapping[str, str]) -> str:
    """The figure on the published site: ``SITE_URL/notebooks/<chapter>.html#<fig id>`` (its chapter page and
    anchor); the figure index's entry when its chapter is unknown."""
    doc = chapters.get(str(fig.get("chapter", "")))
    if doc:
        return f"{SITE_URL}notebooks/{doc}.html#{fig['id']}"
    return f"{SITE_URL}figures.html#{index_anchor(fig['id'])}"


def index_anchor(fig_id: str) -> str:
    """The figure's anchor on the figure index page."""
    return f"figure-index-{fig_id}"


def _year(date: Any) -> str:
    return str(date or "")[:4] or "n.d."


def figure_bibtex(fig: Mapping[str, Any], chapters: Mapping[str, str], key: str) -> str:
    """A BibTeX ``@misc`` entry for one figure (authors and book title from CITATION.cff)."""
    meta = metadata()
    commit = str(fig.get("git_commit") or "unknown")
    return "\n".join([
        f"@misc{{{key},",
        f"  author       = {{{authors_bibtex(meta)}}},",
        f"  title        = {{{{Figure {latex_text(fig['id'])}: {latex_text(fig['caption'])}}}}},",
        f"  howpublished = {{Figure in {{\\em {latex_text(meta['title'])}}}, version {latex_text(fig.get('version', meta['version']))}}},",
        f"  year         = {{{_year(fig.get('date'))}}},",
        f"  url          = {{{figure_url(fig, chapters)}}},",
        f"  note         = {{Git commit {latex_text(commit)}; source {meta['repository']}}},",
        "}",
    ])


def figure_text(fig: Mapping[str, Any], chapters: Mapping[str, str]) -> str:
    """A plain-text citation of one figure."""
    meta = metadata()
    short = short_commit(str(fig.get("git_commit") or "unknown"))
    return (f"{authors_text(meta)} ({_year(fig.get('date'))}). Figure {fig['id']}: {plain_text(fig['caption'])} "
            f"In: {meta['title']}, version {fig.get('version', meta['version'])} (git commit {short}). "
            f"{figure_url(fig, chapters)}")


def book_bibtex(commit: str, year: str, key: str = "companion-book") -> str:
    """A BibTeX entry for the whole book."""
    meta = metadata()
    return "\n".join([
        f"@misc{{{key},",
        f"  author       = {{{authors_bibtex(meta)}}},",
        f"  title        = {{{{{latex_text(meta['title'])}}}}},",
        f"  howpublished = {{Executable book and Python package \\texttt{{companion}}, version {latex_text(meta['version'])}}},",
        f"  year         = {{{year}}},",
        f"  url          = {{{SITE_URL}}},",
        f"  note         = {{Git commit {latex_text(commit)}; source {meta['repository']}}},",
        "}",
    ])


def short_commit(commit: str) -> str:
    """A commit as cited in text: 12 hex digits, keeping a ``-dirty`` mark (uncommitted sources)."""
    return commit[:12] + ("-dirty" if commit.endswith("-dirty") and len(commit) > 18 else "")


def book_text(commit: str, year: str) -> str:
    """A plain-text citation of the whole book."""
    meta = metadata()
    return (f"{authors_text(meta)} ({year}). {meta['title']}. Executable book and Python package companion, "
            f"version {meta['version']} (git commit {short_commit(commit)}). {SITE_URL}")


# ------------------------------------------------------------------------------ TeX -> Unicode (alt text, titles)

_COMMANDS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π",
    "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ", "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
    "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ",
    "Omega": "Ω", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "approx": "≈", "ne": "≠", "neq": "≠",
    "times": "×", "cdot": "·", "to": "→", "infty": "∞", "pm": "±", "sim": "∼", "propto": "∝", "in": "∈",
    "ell": "ℓ", "ldots": "…", "dots": "…", ",": " ", ";": " ", "!": "", " ": " ", "quad": " ",
    "ln": "ln ", "log": "log ", "exp": "exp ", "min": "min ", "max": "max ", "sqrt": "√", "mathcal": "",
    "mathbb": "", "mathbf": "", "top": "ᵀ", "langle": "⟨", "rangle": "⟩", "lVert": "‖", "rVert": "‖", "|": "‖",
}
_SUPER = dict(zip("0123456789+-−=()niγαβdkmlLTt", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ⁿⁱᵞᵅᵝᵈᵏᵐˡᴸᵀᵗ"))
_SUB = dict(zip("0123456789+-−=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ"))


def _script(body: str, table: dict[str, str], mark: str) -> str:
    if body and all(c in table for c in body):
        return "".join(table[c] for c in body)
    return f"{mark}({body})" if len(body) > 1 else f"{mark}{body}"


def _fraction(m: re.Match) -> str:
    num, den = (m.group(1) or m.group(2)), (m.group(3) or m.group(4))
    wrap = lambda s: s if re.fullmatch(r"[\w\\]+", s) else f"({s})"  # noqa: E731
    return f"{wrap(num)}/{wrap(den)}"


def tex_to_unicode(tex: str) -> str | None:
    """Simple inline TeX as Unicode (``\\gamma`` -> ``γ``, ``L^{-\\gamma}`` -> ``L⁻ᵞ``, ``1/2`` stays); ``None`` if
    something is left that plain text cannot show (another command, a fraction, a brace)."""
    text = re.sub(r"\\[dt]?frac\s*(?:\{([^{}]*)\}|(\w))\s*(?:\{([^{}]*)\}|(\w))", _fraction, tex)
    text = re.sub(r"\\(?:mathrm|text|mathit|operatorname|mathcal|mathbb|mathbf|sqrt)\{([^{}]*)\}",
                  lambda m: ("√" if m.group(0).startswith("\\sqrt") else "") + (m.group(1) if len(m.group(1)) < 2 or
                  not m.group(0).startswith("\\sqrt") else f"({m.group(1)})"), text)
    text = re.sub(r"\\([A-Za-z]+|[,;! |])", lambda m: _COMMANDS.get(m.group(1), m.group(0)), text)
    for mark, table in (("^", _SUPER), ("_", _SUB)):
        text = re.sub(re.escape(mark) + r"(?:\{([^{}]*)\}|(.))",
                      lambda m, t=table, k=mark: _script(m.group(1) if m.group(1) is not None else m.group(2), t, k), text)
    text = " ".join(text.split())
    return None if re.search(r"[\\{}]", text) else text


def _strip_tex(tex: str) -> str:
    """TeX that :func:`tex_to_unicode` cannot show, made readable: commands by their names, no braces."""
    text = re.sub(r"\\[dt]?frac\s*(?:\{([^{}]*)\}|(\w))\s*(?:\{([^{}]*)\}|(\w))", _fraction, tex)
    text = re.sub(r"\\([A-Za-z]+)", lambda m: _COMMANDS.get(m.group(1), m.group(1)), text)
    return " ".join(re.sub(r"[{}]", "", text).split())


def alt_text(caption: str) -> str:
    """A MyST caption as alt text: roles resolved, math and ``10^4`` as Unicode, one line, no Markdown marks."""
    text = myst_text(plain_text(caption))
    parts = _MATH.split(text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            tex = part.strip("$")
            out.append(tex_to_unicode(tex) or _strip_tex(tex))
        else:
            out.append(re.sub(r"[*`]", "", part))
    return " ".join("".join(out).split())
