"""Sphinx extension of the book (``extra_extensions`` in ``_config.yml``): what the pages need beyond Jupyter Book.

- **Figures** (:func:`decorate_figures`): every chapter figure with a citable id (``fig-NN-name``) gets its
  caption as alt text (instead of the image file's hash), opens its 300-dpi PNG when clicked, and has a
  line under it, "cite · data · PDF · SVG", linking its figure-index entry and its files.
- **Titles in Unicode** (:class:`TitleMath`): simple math in a page title (``$\\gamma$``) becomes Unicode
  (``γ``), so the browser tab, the sidebar, search results and links show a letter, not TeX.
- **Scripts once** (:func:`dedupe_scripts`), MathJax on every page.
"""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path

from docutils import nodes
from sphinx.transforms import SphinxTransform

from companion.book.cite import _strip_tex, alt_text, tex_to_unicode

FIG_ID = re.compile(r"^fig-\d\d-[a-z0-9]+(-[a-z0-9]+)*$")

class TitleMath(SphinxTransform):
    """Math in section titles as Unicode text where it is simple (see :func:`tex_to_unicode`).

    Runs while a document is read, before Sphinx collects titles for the sidebar, links and search.
    """

    default_priority = 200

    def apply(self, **kwargs) -> None:
        first = next(iter(self.document.findall(nodes.title)), None)  # the page title: tab, sidebar, search, links
        for title in list(self.document.findall(nodes.title)):
            for math in list(title.findall(nodes.math)):
                text = tex_to_unicode(math.astext())
                # A section heading keeps its math unless Unicode shows it exactly (m^(-1/2) is worse than
                # typeset math); the page title always becomes text, since it is shown where no math renders.
                if text is not None and (title is first or not re.search(r"[\^_]", text)):
                    math.replace_self(nodes.Text(text))


def html_title(app, pagename, templatename, context, doctree) -> None:
    """Any ``\\(...\\)`` math left in the page's ``<title>`` as Unicode (or without the TeX delimiters)."""
    title = context.get("title")
    if isinstance(title, str) and "\\(" in title:
        context["title"] = re.sub(r"\\\((.*?)\\\)", lambda m: tex_to_unicode(m.group(1)) or m.group(1), title)


# -------------------------------------------------------------------------------------------- figures


def _alt(caption: nodes.Node) -> str:
    """A caption as alt text: its words, with math as Unicode (``\\rho_0`` -> ``ρ₀``), on one line."""
    words = []
    for node in caption.findall(lambda n: isinstance(n, (nodes.Text, nodes.math))):
        if isinstance(node, nodes.math):
            words.append(tex_to_unicode(node.astext()) or _strip_tex(node.astext()))
        elif not isinstance(node.parent, nodes.math):
            words.append(str(node))
    return " ".join("".join(words).split())


def _static_uri(docname: str, path: str) -> str:
    return posixpath.relpath(path, posixpath.dirname(docname) or ".")


def decorate_figures(app, doctree, docname) -> None:
    """Alt text, the 300 dpi file at the column's width, click to enlarge and a "cite · data · PDF · SVG" line
    for every chapter figure with a sidecar."""
    if getattr(app.builder, "format", "") != "html":
        return
    folder = Path(app.srcdir) / "_static" / "figures"
    has_index = "figures" in app.env.all_docs
    for figure in list(doctree.findall(nodes.figure)):
        fid = next((i for i in figure["ids"] if FIG_ID.match(i)), None)
        if fid is None or not (folder / f"{fid}.json").is_file():
            continue
        meta = json.loads((folder / f"{fid}.json").read_text())
        captions = list(figure.findall(nodes.caption))
        alt = _alt(captions[0]) if captions else alt_text(meta.get("caption", fid))
        for image in figure.findall(nodes.image):
            image["alt"] = alt
            # The 300 dpi file, shown at the column's width (CSS), rather than the notebook's 100 dpi output at
            # its natural size: sharp on high-density screens and as wide as the text, as in print.
            image["uri"] = _static_uri(docname, f"_static/figures/{fid}.png")
            image["classes"] = [*image.get("classes", []), "figure-print"]
            if not isinstance(image.parent, nodes.reference):
                link = nodes.reference("", "", refuri=_static_uri(docname, f"_static/figures/{fid}.png"),
                                       classes=["figure-enlarge"], reftitle="Open the figure at full size (300 dpi)")
                image.replace_self(link)
                link += image
        links = []
        if has_index:
            links.append(("cite", app.builder.get_relative_uri(docname, "figures") + f"#figure-index-{fid}"))
        files = meta.get("files") or {}
        for key, label in (("csv", "data"), ("pdf", "PDF"), ("svg", "SVG")):
            if key in files:
                links.append((label, _static_uri(docname, f"_static/figures/{files[key]['file']}")))
        if not links:
            continue
        para = nodes.paragraph(classes=["figure-links"])
        for i, (label, uri) in enumerate(links):
            if i:
                para += nodes.Text(" · ")
            para += nodes.reference("", label, refuri=uri, internal=False)
        figure += nodes.legend("", para)


# ---------------------------------------------------------------------------------------------- other


def dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    """Drop repeated ``<script>`` entries from a page.

    Sphinx 7.4 registers an inline script added after the builder started (sphinx-thebe's and
    sphinx-togglebutton's configuration) twice, once with filename ``None`` and once with ``''``;
    the repeated ``const THEBE_JS_URL`` is then a JavaScript error on every page.
    """
    files = context.get("script_files")
    if not isinstance(files, list):
        return
    seen, unique = set(), []
    for js in files:
        key = (getattr(js, "filename", js) or "", tuple(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    files[:] = unique


def setup(app):
    """Register the book's page fixes."""
    import hashlib

    # A config value that changes with this file: Sphinx re-reads every page when the extension changes
    # (it compares "env" config values with the previous build's; it does not look at extension code).
    from companion.book import cite

    digest = hashlib.sha256(Path(__file__).read_bytes() + Path(cite.__file__).read_bytes()).hexdigest()[:16]
    app.add_config_value("companion_ext_version", digest, "env")
    app.connect("html-page-context", dedupe_scripts)
    app.connect("html-page-context", html_title)
    app.connect("doctree-resolved", decorate_figures)
    app.add_transform(TitleMath)
    # MathJax on every page: a title whose math is not simple stays math, and every page's sidebar shows it.
    app.set_html_assets_policy("always")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
