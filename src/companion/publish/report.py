"""What a chapter reports besides its figures and claims: progress (to the right place) and its parameters.

- :func:`log` and :func:`progress` (from :mod:`companion.util.console`): a chapter's progress lines and
  bars. In the book build they go to the build's terminal; a reader running the chapter sees them in the
  notebook. Chapter functions take ``log=report.log``.
- :func:`parameters`: the parameters a chapter ran with, as a small Markdown table of the values that
  differ from its scale's defaults (or one line saying there are none), instead of a raw dict.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from companion.util.console import configure_book_build, in_book_build, log, log_path, progress, write

__all__ = ["log", "progress", "write", "in_book_build", "log_path", "configure_book_build",
           "format_value", "parameters_markdown", "parameters"]

MAX_ITEMS = 6  # a list longer than this is shown by its first and last values and its length


def format_value(value: Any) -> str:
    """A parameter value in a few characters: ``0.001``, ``[1, 2, 4, …, 1024] (11 values)``, ``{mnist: [3, 5]}``."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:g}" if math.isfinite(value) else str(value)
    if hasattr(value, "item") and not isinstance(value, (list, tuple, dict)):  # NumPy scalar
        try:
            return format_value(value.item())
        except (TypeError, ValueError):
            pass
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {format_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        items = [format_value(v) for v in value]
        if len(items) > MAX_ITEMS:
            return "[" + ", ".join(items[:3] + ["…"] + items[-2:]) + f"] ({len(items)} values)"
        return "[" + ", ".join(items) + "]"
    return str(value)


def _cell(text: str) -> str:
    """Safe in one GitHub-flavoured Markdown table cell (``|`` escaped, one line)."""
    return " ".join(str(text).split()).replace("\\", "\\\\").replace("|", "\\|")


def _as_dict(P: Mapping[str, Any]) -> dict[str, Any]:
    to_dict = getattr(P, "to_dict", None)
    return dict(to_dict()) if callable(to_dict) else dict(P)


def parameters_markdown(P: Mapping[str, Any], defaults: Mapping[str, Any] | None = None, *,
                        scale: str | None = None, always: Sequence[str] = ()) -> str:
    """Markdown: the scale, then a table ``parameter | value | scale's value`` of what differs.

    Args:
      P: the chapter's parameters (a :class:`companion.chapters.params.ChapterParams` or any mapping);
        its ``scale`` attribute names the scale unless ``scale`` is given.
      defaults: the same chapter's parameters at that scale without overrides (the caller passes
        ``companion.chapters.params(P.chapter, P.scale)``; this layer does not import the chapters).
        ``None``: no comparison, only the ``always`` rows are listed.
      always: names listed even when equal to their default (say, the sizes a reader should know).

    Raises:
      ValueError: a name in ``always`` that ``P`` does not have.
    """
    values = _as_dict(P)
    base = _as_dict(defaults) if defaults is not None else {}
    unknown = [k for k in always if k not in values]
    if unknown:
        from companion.util import validate as check

        raise check.fail("always", list(always), "names of parameters of P: " + ", ".join(sorted(values)))
    scale = scale if scale is not None else getattr(P, "scale", None)
    changed = [k for k in values if k in base and base[k] != values[k]]
    shown = [k for k in values if k in changed or k in always]
    head = f"Parameters: scale `{scale}`" if scale else "Parameters"
    if defaults is not None and not changed:
        head += ", no value changed from the scale's defaults."
    elif defaults is not None:
        head += f", {len(changed)} value{'s' if len(changed) != 1 else ''} changed from the scale's defaults:"
    else:
        head += "."
    if not shown:
        return head
    lines = [head, ""]
    if defaults is not None:
        lines += ["| parameter | value | scale's value |", "|---|---|---|"]
        lines += [f"| `{_cell(k)}` | {_cell(format_value(values[k]))} | "
                  f"{_cell(format_value(base[k])) if k in changed else 'same'} |" for k in shown]
    else:
        lines += ["| parameter | value |", "|---|---|"]
        lines += [f"| `{_cell(k)}` | {_cell(format_value(values[k]))} |" for k in shown]
    return "\n".join(lines)


def parameters(P: Mapping[str, Any], defaults: Mapping[str, Any] | None = None, *,
               scale: str | None = None, always: Sequence[str] = ()):
    """:func:`parameters_markdown` as an ``IPython.display.Markdown`` object: end a cell with it.

    Example (a chapter's first cell after ``P = params(CHAPTER, scale, overrides)``)::

        report.parameters(P, params(CHAPTER, scale))
    """
    from IPython.display import Markdown

    return Markdown(parameters_markdown(P, defaults, scale=scale, always=always))


def values_text(value: Any) -> str:
    """A parameter value as prose: ``0.001``; a list as ``1, 10 and 100`` (long lists shortened as in
    :func:`format_value`)."""
    if isinstance(value, (list, tuple)):
        items = [format_value(v) for v in value]
        if len(items) > MAX_ITEMS:
            items = items[:3] + ["…"] + items[-2:]
        return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""
    return format_value(value)


def glue_text(**values: Any) -> None:
    """Make parameter values readable in the chapter's prose: ``glue_text(tol=P["tol"])`` lets the text say
    ``{glue:text}`tol``` (rendered by the book build as ``0.001``; lists as ``1, 10 and 100``, see
    :func:`values_text`). Shows nothing itself; outside the book environment (no ``myst_nb``) it does
    nothing.
    """
    try:
        from myst_nb import glue
    except ImportError:
        return
    for name, value in values.items():
        glue(name, _Plain(values_text(value)), display=False)


class _Plain:
    """Text whose ``repr`` is itself: ``{glue:text}`` shows an object's plain-text repr, and a ``str`` would
    show its quotes."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text
