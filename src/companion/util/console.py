"""Where progress bars, log lines and warnings go: the reader's notebook, or the book build's terminal.

A chapter page must show only what a reader should read. While the book build executes a chapter
(papermill sets ``COMPANION_BOOK=1``), everything a chapter or the library reports about its own work goes
to a log file, ``$COMPANION_LOG`` (the build sets it; else ``$COMPANION_OUTPUT/build.log``), and
:mod:`companion.book.build` relays that file to the build's terminal while the chapter runs. Anyone else
(a reader running a chapter in Jupyter or Colab, a script, a test) sees the same messages where they always
appear: log lines on stdout, tqdm bars on stderr.

- :func:`log` (``logging`` logger ``"companion"``): one line of progress, e.g. ``log("[03] Gram matrices")``.
- :func:`progress`: ``tqdm`` around an iterable (or a manual bar with ``total=``).
- :func:`configure_book_build`: in the book build, also sends Python warnings and other libraries' log
  records to the log file (the build runs it in a hidden first cell), so nothing of the kind reaches a page.

This module lives in ``util`` (the lowest layer) so that :mod:`companion.util.sweep` and every layer above
can use it; :mod:`companion.publish.report` re-exports it for chapters.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any, Iterable, TextIO

__all__ = ["LOGGER", "in_book_build", "log_path", "log", "progress", "write", "configure_book_build"]

LOGGER = logging.getLogger("companion")
BOOK_ENV = "COMPANION_BOOK"  # "1" while the book build executes a chapter
LOG_ENV = "COMPANION_LOG"  # the build's log file (set by companion.book.build)
BOOK_MININTERVAL_S = 10.0  # a bar's state at most every 10 s in the build log (a terminal wants no flood)


def in_book_build() -> bool:
    """True while the book build executes a chapter (it sets ``COMPANION_BOOK=1``)."""
    return os.environ.get(BOOK_ENV) == "1"


def log_path() -> Path:
    """The book build's log file: ``$COMPANION_LOG``, else ``$COMPANION_OUTPUT/build.log`` (default
    ``./companion_output/build.log``)."""
    explicit = os.environ.get(LOG_ENV)
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("COMPANION_OUTPUT", "companion_output")) / "build.log"


def _append(text: str) -> None:
    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(text)


class _Destination(logging.Handler):
    """A handler that decides at each record where it goes: the build log (book build) or ``stream``.

    Deciding per record (not when the handler is made) keeps one configuration right for a notebook
    that a reader runs and for the same notebook executed by the book build.
    """

    def __init__(self, stream: str = "stdout") -> None:
        super().__init__(logging.INFO)
        self.stream = stream  # looked up on each record: Jupyter replaces sys.stdout per cell

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            if in_book_build():
                _append(text + "\n")
            else:
                out: TextIO = getattr(sys, self.stream)
                out.write(text + "\n")
                out.flush()
        except Exception:  # logging must never break a chapter
            self.handleError(record)


def _ensure_handler() -> None:
    # logging.config.dictConfig (as some tools call it) disables loggers that exist already; this one is ours.
    LOGGER.disabled = False
    if not any(isinstance(h, _Destination) for h in LOGGER.handlers):
        handler = _Destination("stdout")
        handler.setFormatter(logging.Formatter("%(message)s"))
        LOGGER.addHandler(handler)
        LOGGER.setLevel(logging.INFO)
        LOGGER.propagate = False  # our own handler decides; no second copy via the root logger


def log(message: Any, *args: Any) -> None:
    """Report one line of progress (``logging`` level INFO, logger ``"companion"``).

    In the book build it goes to the build log (relayed to the terminal), elsewhere to stdout, as
    ``print`` would. Use it as a chapter function's ``log=`` default. ``args`` are %-format arguments.
    """
    _ensure_handler()
    LOGGER.info(str(message), *args)


class _LogStream:
    """A file-like target for tqdm in the book build: each refresh becomes one line of the build log
    (tqdm redraws a bar with ``\\r``, which a log file would keep as one ever-growing line)."""

    def write(self, text: str) -> int:
        line = text.replace("\r", "").rstrip()
        if line:
            _append(line + "\n")
        return len(text)

    def flush(self) -> None:
        pass


def progress(iterable: Iterable | None = None, desc: str = "", *, total: int | None = None,
             disable: bool = False, **kwargs: Any):
    """A ``tqdm`` progress bar around ``iterable`` (or a manual one: ``progress(total=n)``, ``.update(1)``).

    In the book build the bar goes to the build log (a line at most every 10 s, plain ASCII); elsewhere
    it is tqdm's text bar on stderr, which Jupyter, Colab and terminals all show. ``kwargs`` go to tqdm.
    """
    from tqdm import tqdm  # the plain text bar: tqdm.auto would need ipywidgets in a notebook

    if in_book_build():
        kwargs.setdefault("mininterval", BOOK_MININTERVAL_S)
        kwargs.update(file=_LogStream(), ascii=True, dynamic_ncols=False, ncols=100)
    else:
        kwargs.setdefault("file", sys.stderr)
        kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, desc=desc, total=total, disable=disable, **kwargs)


def write(message: str) -> None:
    """One line printed beside running progress bars (``tqdm.write``), or to the build log in the book build."""
    if in_book_build():
        _append(str(message) + "\n")
    else:
        from tqdm import tqdm

        tqdm.write(str(message), file=sys.stderr)


def configure_book_build() -> bool:
    """In the book build, route Python warnings and every library's log records to the build log.

    Returns whether it did (``False`` outside the book build, where nothing changes: a reader keeps
    seeing warnings). Idempotent. Warnings are shown once each in the log, as Python's default filter does.
    """
    if not in_book_build():
        return False
    _ensure_handler()
    root = logging.getLogger()
    if not any(isinstance(h, _Destination) for h in root.handlers):
        handler = _Destination("stderr")
        handler.setLevel(logging.WARNING)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    logging.captureWarnings(True)  # warnings.warn(...) -> logger "py.warnings" -> the root handler above
    return True
