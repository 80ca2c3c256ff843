"""The ``companion`` command: ``companion figures {export,list,cite}``.

``companion figures export DIR`` copies every figure of the book (PDF, SVG, PNG and the sidecar JSON)
into ``DIR``, checks each file against the sha256 its sidecar records, and writes ``figures.bib`` with a
BibTeX entry per figure. Where the figures come from, first match wins:

1. ``--source PATH``: a folder of ``fig-*.json`` sidecars and their files;
2. the latest book build, ``build/book/_static/figures`` (``make book`` leaves it there);
3. otherwise (or with ``--execute``) the chapters are executed at ``--scale`` through
   :mod:`companion.book.build`, whose content-addressed cache makes this instant for unchanged chapters.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Sequence

from companion.util.storage import atomic_write_bytes, atomic_write_text


class ExportError(RuntimeError):
    """No figures found, or a figure's file is missing or does not match its sidecar."""


def built_figures() -> Path:
    """Where the latest book build keeps the figures: ``build/book/_static/figures``."""
    from companion.book.build import STAGE

    return STAGE / "_static" / "figures"


def figure_sources(
    source: Path | None = None, *, execute: bool = False, scale: str = "default", chapters: Sequence[str] | None = None,
    log=print,
) -> list[Path]:
    """The folders to export figures from (see the module docstring for the order)."""
    if source is not None:
        source = Path(source)
        if not source.is_dir():
            raise ExportError(f"--source {source}: no such folder")
        return [source]
    built = built_figures()
    if not execute and any(built.glob("fig-*.json")):
        log(f"figures from the latest book build: {built}")
        return [built]
    from companion.book import build

    names = list(chapters or build.chapter_names())
    log(f"no book build found (or --execute): executing {len(names)} chapter(s) at scale {scale!r} (cached)")
    return [build.execute(name, scale, log=log).outputs / "figures" for name in names]


def sidecars(folders: Sequence[Path]) -> list[tuple[Path, dict]]:
    """``(folder, sidecar)`` for every figure in ``folders``, sorted by figure id."""
    found: dict[str, tuple[Path, dict]] = {}
    for folder in folders:
        for path in sorted(Path(folder).glob("fig-*.json")):
            meta = json.loads(path.read_text())
            found[meta["id"]] = (Path(folder), meta)
    return [found[k] for k in sorted(found)]


def export(folders: Sequence[Path], dest: Path, log=print) -> list[dict]:
    """Copy every figure's files and sidecar from ``folders`` into ``dest``, verified; write ``figures.bib``.

    Raises:
      ExportError: no figure found, or a file missing or not matching its recorded sha256.
    """
    from companion.book import pages

    figs = sidecars(folders)
    if not figs:
        raise ExportError("no figures found in " + ", ".join(str(f) for f in folders) + " (run `make book` first?)")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    n_files = 0
    for folder, meta in figs:
        for fmt, info in sorted(meta.get("files", {}).items()):
            src = folder / info["file"]
            if not src.is_file():
                raise ExportError(f"{meta['id']}: {fmt.upper()} file {src} is missing")
            data = src.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if info.get("sha256") and digest != info["sha256"]:
                raise ExportError(
                    f"{meta['id']}: {src} does not match its sidecar (sha256 {digest[:12]}..., "
                    f"recorded {info['sha256'][:12]}...); rebuild the book"
                )
            atomic_write_bytes(dest / info["file"], data)
            n_files += 1
        atomic_write_bytes(dest / f"{meta['id']}.json", (folder / f"{meta['id']}.json").read_bytes())
        n_files += 1
    atomic_write_text(dest / "figures.bib", "\n\n".join(pages.citation_bibtex(m) for _, m in figs) + "\n")
    log(f"exported {len(figs)} figure(s), {n_files} files and figures.bib to {dest}")
    return [m for _, m in figs]


def _add_source_options(p: argparse.ArgumentParser) -> None:
    from companion.chapters import SCALES

    p.add_argument("--source", type=Path, help="a folder of figure files and sidecars (default: the latest build)")
    p.add_argument("--execute", action="store_true", help="execute the chapters (cached) instead of using the build")
    p.add_argument("--scale", default="default", choices=SCALES, help="scale for --execute (default: default)")
    p.add_argument("--chapter", action="append", help="with --execute: only these chapters (repeatable)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="companion", description="The companion book's command line.")
    sub = parser.add_subparsers(dest="group", required=True)
    figs = sub.add_parser("figures", help="the book's figures: export, list, cite")
    fsub = figs.add_subparsers(dest="cmd", required=True)
    ex = fsub.add_parser("export", help="copy every figure (PDF, SVG, PNG, sidecar JSON) and figures.bib into DIR")
    ex.add_argument("dir", type=Path, metavar="DIR")
    _add_source_options(ex)
    ls = fsub.add_parser("list", help="list the figures: id, chapter, caption")
    _add_source_options(ls)
    ci = fsub.add_parser("cite", help="print the citation of one figure")
    ci.add_argument("id", metavar="FIG_ID", help="e.g. fig-01-norms")
    ci.add_argument("--format", default="bibtex", choices=("bibtex", "text"))
    _add_source_options(ci)
    args = parser.parse_args(argv)

    from companion.book import pages

    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731  (stdout carries the result)
    try:
        folders = figure_sources(args.source, execute=args.execute, scale=args.scale, chapters=args.chapter, log=log)
        if args.cmd == "export":
            export(folders, args.dir, log=log)
        elif args.cmd == "list":
            for _, meta in sidecars(folders):
                print(f"{meta['id']}\tchapter {meta.get('chapter')}\t{pages.plain_caption(meta.get('caption', ''))}")
        elif args.cmd == "cite":
            found = {m["id"]: m for _, m in sidecars(folders)}
            if args.id not in found:
                known = ", ".join(sorted(found)) or "none"
                raise ExportError(f"no figure {args.id!r}; known: {known}")
            meta = found[args.id]
            print(pages.citation_bibtex(meta) if args.format == "bibtex" else pages.citation_text(meta))
    except (ExportError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
