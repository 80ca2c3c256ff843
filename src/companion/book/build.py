"""Execute the chapters and assemble the book: ``python -m companion.book.build {book,execute,colab,check-colab}``.

Pipeline (one way): ``notebooks/NN_name.md`` (jupytext MyST) -> ``.ipynb`` in a scratch folder ->
papermill with the chapter's ``scale`` -> executed notebook + its figures and tables, kept in a
content-addressed cache -> staged with ``book/`` into ``build/book`` -> Jupyter Book 1.x (Sphinx, no
re-execution) -> ``_build/html``.

Build output stays off the pages: the build prepends a hidden cell (tag ``remove-cell``) that sends
warnings and library log records to the chapter's build log, and :mod:`companion.util.console` sends
progress bars and ``log`` lines there too (``COMPANION_BOOK=1``, ``COMPANION_LOG``). The build relays that
log to its own terminal while the chapter runs, and keeps it in the cache entry (``build.log``).

The cache key is the sha256 of the chapter source, its parameters, the package source and the pinned
environment, so an unchanged chapter is never re-executed and any change that could alter a number is.
Each cache entry carries a manifest of its files' sha256; an entry that fails the check is reported,
removed and recomputed.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from companion.util import validate as check
from companion.chapters import SCALES
from companion.util.storage import sha256_bytes
from companion.book.paths import BUILD, CACHE, HTML, NOTEBOOKS, ROOT, STAGE, chapter_names  # noqa: F401 (re-exported)

COLAB_TEMPLATE = "colab_install.py"
SETUP_TAG = "companion-book-setup"
# The hidden first cell of every chapter the book build executes (see companion.util.console).
SETUP_SOURCE = (
    "# Book build only (hidden): warnings and library log records go to the build log, not the page.\n"
    "from companion.util import console as _companion_console\n"
    "_companion_console.configure_book_build()"
)


class ChapterError(RuntimeError):
    """A chapter raised while executing; the message names the chapter and the cell."""


@dataclass(frozen=True)
class Executed:
    """An executed chapter: its notebook, its output folder (``figures/``, ``results/``), cache info."""

    chapter: str
    scale: str
    notebook: Path
    outputs: Path
    cached: bool
    seconds: float



def source_fingerprint() -> str:
    """sha256 over the package source (code, style, data tables) and the pinned environment."""
    h = hashlib.sha256()
    pkg = Path(__file__).resolve().parents[1]  # the companion package
    files = sorted(p for p in pkg.rglob("*") if p.suffix in {".py", ".json", ".mplstyle"} and p.is_file())
    for p in files + [ROOT / "requirements" / "lock.txt"]:
        if p.exists():
            h.update(str(p.relative_to(ROOT)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def canonical_overrides(chapter: str, scale: str, overrides: Mapping[str, Any] | str | None = None) -> dict[str, Any]:
    """The parameters of ``chapter`` at ``scale`` that ``overrides`` changes, validated, in canonical types.

    ``{"n_train": np.int64(61)}``, ``{"n_train": "61"}`` and ``'{"n_train": 61}'`` all give
    ``{"n_train": 61}``; an override equal to the scale's value is dropped (the chapter is the same).

    Raises:
      ValueError: unknown chapter or scale, ``overrides`` not a mapping (or JSON object), an unknown name or
        an invalid value (see :func:`companion.chapters.params`).
    """
    from companion.chapters import params

    check.choice("chapter", chapter, chapter_names())
    given = params(chapter, scale, overrides).to_dict()
    base = params(chapter, scale).to_dict()
    return {k: v for k, v in given.items() if base[k] != v}


def cache_key(chapter: str, scale: str, overrides: Mapping[str, Any] | str | None = None) -> str:
    """The content address of an executed chapter (``chapter`` one of :func:`chapter_names`, ``scale`` one
    of ``SCALES``); equal parameters give equal keys whatever types they arrived in."""
    check.choice("chapter", chapter, chapter_names())
    check.choice("scale", scale, SCALES)
    src = (NOTEBOOKS / f"{chapter}.md").read_bytes()
    spec = json.dumps({"scale": scale, "overrides": canonical_overrides(chapter, scale, overrides)},
                      sort_keys=True).encode()
    return sha256_bytes(sha256_bytes(src).encode() + spec + source_fingerprint().encode())


def to_ipynb(md: Path, dest: Path, setup: bool = False) -> Path:
    """Convert a jupytext MyST chapter to an (unexecuted, unpaired) ``.ipynb`` at ``dest``.

    ``setup``: prepend the book build's hidden setup cell (:data:`SETUP_SOURCE`, tags ``remove-cell`` and
    :data:`SETUP_TAG`), which routes warnings and log records to the build log.
    """
    import jupytext
    import nbformat

    nb = jupytext.read(md)
    nb.metadata.pop("jupytext", None)  # unpaired: papermill must never write into a paired source
    if setup:
        cell = nbformat.v4.new_code_cell(SETUP_SOURCE)
        cell.metadata["tags"] = ["remove-cell", SETUP_TAG]
        cell["id"] = SETUP_TAG  # fixed: a random id would make the executed notebook differ run to run
        nb.cells.insert(0, cell)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    jupytext.write(nb, dest, fmt="ipynb")
    return dest


def _manifest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): sha256_bytes(p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


def verify_entry(folder: Path) -> bool:
    """True if ``folder`` is a complete cache entry whose files match its manifest."""
    try:
        listed = json.loads((folder / "manifest.json").read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return listed == _manifest(folder)


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _tag_injected(nb_path: Path) -> None:
    """Hide papermill's injected-parameters cell in the book (tag ``remove-cell``)."""
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    nbformat.write(nb, nb_path)


def execute(
    chapter: str,
    scale: str = "default",
    overrides: Mapping[str, Any] | str | None = None,
    *,
    cache_dir: Path | None = None,
    force: bool = False,
    log=print,
) -> Executed:
    """Execute one chapter at ``scale`` (or take it from the cache) and return where it lies.

    Raises:
      ValueError: unknown chapter or scale.
      ChapterError: the chapter raised; the message names the chapter, the cell and the error.
    """
    check.choice("chapter", chapter, chapter_names())
    check.choice("scale", scale, SCALES)
    overrides = canonical_overrides(chapter, scale, overrides)  # validated before any work; JSON-safe
    cache = Path(cache_dir) if cache_dir is not None else CACHE
    key = cache_key(chapter, scale, overrides)
    entry = cache / f"{chapter}-{scale}-{key[:24]}"
    if entry.exists() and not force:
        if verify_entry(entry):
            log(f"[{chapter}] unchanged: taken from the cache ({entry.name})")
            return Executed(chapter, scale, entry / f"{chapter}.ipynb", entry / "outputs", True, 0.0)
        log(f"[{chapter}] cache entry {entry.name} is corrupt or incomplete: removed, executing again")
        shutil.rmtree(entry)
    tmp = cache / f".tmp-{chapter}-{uuid.uuid4().hex[:8]}"
    (tmp / "outputs").mkdir(parents=True)
    src = to_ipynb(NOTEBOOKS / f"{chapter}.md", tmp / f"{chapter}.source.ipynb", setup=True)
    out = tmp / f"{chapter}.ipynb"
    log(f"[{chapter}] executing at scale {scale!r} ...")
    start = time.perf_counter()
    import papermill
    from papermill.exceptions import PapermillExecutionError

    build_log = tmp / "build.log"
    build_log.touch()
    try:
        with _env(COMPANION_OUTPUT=str(tmp / "outputs"), COMPANION_BOOK="1", COMPANION_LOG=str(build_log),
                  PYTHONHASHSEED="0"), _relay(build_log, f"[{chapter}] ", log):
            papermill.execute_notebook(
                str(src),
                str(out),
                parameters={"scale": scale, "overrides": overrides},
                cwd=str(tmp),
                kernel_name="python3",
                progress_bar=False,
            )
    except PapermillExecutionError as err:
        source = _failed_cell_source(out, err.exec_count)
        shutil.rmtree(tmp, ignore_errors=True)
        raise ChapterError(
            f"chapter {chapter} (scale {scale!r}) failed in code cell [{err.exec_count}]:\n{source}\n{err.ename}: {err.evalue}"
        ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    src.unlink()
    _tag_injected(out)
    seconds = time.perf_counter() - start
    (tmp / "manifest.json").write_text(
        json.dumps({"chapter": chapter, "scale": scale, "seconds": seconds, "files": _manifest(tmp)}, indent=1)
    )
    if entry.exists():  # a concurrent run finished first; ours is equivalent
        shutil.rmtree(entry)
    os.replace(tmp, entry)
    log(f"[{chapter}] executed in {seconds:.1f} s")
    return Executed(chapter, scale, entry / f"{chapter}.ipynb", entry / "outputs", False, seconds)


@contextlib.contextmanager
def _relay(path: Path, prefix: str, log, interval_s: float = 1.0) -> Iterator[None]:
    """While the block runs, pass every new line of the file ``path`` to ``log`` (prefixed); the rest at the end.

    This is how a chapter's progress bars, log lines and warnings (written to its build log by
    :mod:`companion.util.console`) reach the build's terminal while the chapter executes.
    """
    stop = threading.Event()
    state = {"offset": 0, "pending": ""}

    def pump(final: bool = False) -> None:
        try:
            with path.open("r", encoding="utf-8", errors="replace") as fh:
                fh.seek(state["offset"])
                chunk = fh.read()
                state["offset"] = fh.tell()
        except OSError:
            return
        text = state["pending"] + chunk
        lines = text.split("\n")
        state["pending"] = "" if final else lines.pop()
        for line in lines:
            if line.strip():
                log(prefix + line)

    def run() -> None:
        while not stop.wait(interval_s):
            pump()

    thread = threading.Thread(target=run, name="companion-build-log", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        pump(final=True)


def _failed_cell_source(nb_path: Path, exec_count: int | None) -> str:
    """The first lines of the code cell that raised (found by its execution count)."""
    try:
        import nbformat

        cells = nbformat.read(nb_path, as_version=4).cells
        cell = next(c for c in cells if c.cell_type == "code" and c.get("execution_count") == exec_count)
        lines = cell.source.splitlines()
        return "\n".join("    " + line for line in lines[:8]) + ("\n    ..." if len(lines) > 8 else "")
    except Exception:  # the message is still useful without the source
        return "    (cell source unavailable)"


def stage(executed: list[Executed], dest: Path = STAGE) -> Path:
    """Lay out the book sources in ``dest``: ``book/`` pages, config, executed chapters, figure files."""
    from companion.book import explorer, front, pages

    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(ROOT / "book", dest)
    shutil.copy2(ROOT / "_config.yml", dest / "_config.yml")
    (dest / "_toc.yml").write_text(_toc_for({ex.chapter for ex in executed}))
    (dest / "notebooks").mkdir()
    for ex in executed:
        shutil.copy2(ex.notebook, dest / "notebooks" / f"{ex.chapter}.ipynb")
        for kind in ("figures", "results"):
            src = ex.outputs / kind
            if src.is_dir():
                shutil.copytree(src, dest / "_static" / kind, dirs_exist_ok=True)
    pages.write_generated_pages(dest)
    front.write_front_matter(dest)  # after the pages it summarises
    pages.install_mathjax(dest)  # served by the site itself (offline); see companion.book.pages
    explorer.install(dest)  # the depth explorer page's data and Plotly; see companion.book.explorer
    return dest


def _toc_for(chapters: set[str]) -> str:
    """``_toc.yml`` without the chapters that were not executed (a partial build stays valid)."""
    lines = (ROOT / "_toc.yml").read_text().splitlines(keepends=True)
    keep = [ln for ln in lines if not (ln.strip().startswith("- file: notebooks/") and ln.split("notebooks/")[1].strip() not in chapters)]
    return "".join(keep)


def build_html(stage_dir: Path = STAGE, out: Path = ROOT, strict: bool = True) -> Path:
    """Run Jupyter Book 1.x on the staged sources (no execution); return the HTML index path.

    Jupyter Book writes into ``out / "_build"``, so the HTML lands in ``out/_build/html``.
    """
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe), "build", str(stage_dir), "--path-output", str(out), "--keep-going"]
    if strict:
        cmd += ["-W", "-n"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"jupyter-book build failed (exit {proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}")
    return out / "_build" / "html" / "index.html"


def book(scale: str = "default", chapters: list[str] | None = None, strict: bool = True, log=print) -> Path:
    """Execute (or reuse) every chapter at ``scale``, stage and build the HTML book."""
    check.choice("scale", scale, SCALES)
    names = chapters or chapter_names()
    executed = [execute(name, scale, log=log) for name in names]
    stage(executed)
    index = build_html(strict=strict)
    log(f"book built: {index}")
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m companion.book.build", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("book", help="execute every chapter (cached) and build the HTML book")
    b.add_argument("--scale", default="default", choices=SCALES)
    b.add_argument("--chapter", action="append", help="only these chapters (repeatable)")
    e = sub.add_parser("execute", help="execute chapters without building the book")
    e.add_argument("--scale", default="default", choices=SCALES)
    e.add_argument("--chapter", action="append")
    e.add_argument("--force", action="store_true", help="ignore the cache")
    sub.add_parser("colab", help="regenerate the Colab notebooks notebooks/NN_name.ipynb")
    sub.add_parser("check-colab", help="fail if a Colab notebook is out of date")
    args = parser.parse_args(argv)
    from companion.book import colab

    try:
        if args.cmd == "book":
            book(args.scale, args.chapter)
        elif args.cmd == "execute":
            for name in args.chapter or chapter_names():
                execute(name, args.scale, force=args.force)
        elif args.cmd == "colab":
            for path in colab.write_all():
                print(f"wrote {path.relative_to(ROOT)}")
        elif args.cmd == "check-colab":
            stale = colab.stale()
            if stale:
                print("out of date (run `make colab`): " + ", ".join(stale), file=sys.stderr)
                return 1
    except (ChapterError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
