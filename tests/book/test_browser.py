r"""The built book in a real browser: every page of the smoke-scale book, opened in headless Chromium at
1400 px (a desktop) and 420 px (a phone).

For each page: no JavaScript error (uncaught exception or console error), no request leaves the machine
(the site renders offline: MathJax, fonts and styles are its own), every image loads with a non-zero
size and has alt text (not a file name or hash), math is typeset by MathJax, every internal link points at
an existing page and anchor. What a reader sees is checked too (:data:`PAGE_CHECKS`): every table row has
as many cells as its header and a claims table's result is "pass" or "FAIL"; no notebook output shows a
traceback, a progress bar, a log line, a warning, an absolute path of the build machine or a raw dict; no
TeX outside math (a ``\gamma`` or ``$...$`` left as text, in the page or its title); the page does not
scroll sideways at either width (a wide equation or table scrolls in its own box). A full-page screenshot
of each page at each width is kept in ``build/test-artifacts/screenshots`` (look at them).

Needs Debian's ``chromium`` (``make test`` installs it when run as root) and the Python ``playwright``
package; Playwright never downloads a browser here. Without Chromium the test is skipped, or fails when
``CI`` is set.
"""

from __future__ import annotations

import functools
import html.parser
import time
import urllib.parse
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.book]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "test-artifacts" / "screenshots"
SKIP_DIRS = {"_static", "_images", "_downloads", "_sources", "_sphinx_design_static"}
PAGE_TIMEOUT_MS = 30_000
WIDTHS = (1400, 420)  # a desktop and a phone, in CSS pixels

# What a reader must not see, checked in the browser on the rendered page (returns a list of problems).
PAGE_CHECKS = r"""() => {
  const problems = [];
  const short = (t) => t.replace(/\s+/g, " ").trim().slice(0, 120);
  // Tables: every row as many cells as the header; claims tables' result cells pass/fail.
  document.querySelectorAll("article table").forEach((table, ti) => {
    const rows = Array.from(table.rows);
    if (!rows.length) return;
    const width = (row) => Array.from(row.cells).reduce((n, c) => n + (c.colSpan || 1), 0);
    const head = width(rows[0]);
    const headers = Array.from(rows[0].cells).map(c => c.innerText.trim().toLowerCase());
    const result = headers.indexOf("result");
    rows.slice(1).forEach((row, ri) => {
      if (width(row) !== head)
        problems.push(`table ${ti + 1} row ${ri + 1}: ${width(row)} cells, header has ${head}: ${short(row.innerText)}`);
      else if (result >= 0) {
        const text = row.cells[result].innerText.trim().toLowerCase();
        if (text !== "pass" && text !== "fail")
          problems.push(`table ${ti + 1} row ${ri + 1}: result cell is '${short(text)}', not pass/fail`);
      }
    });
  });
  // Cell outputs: only what a reader should read.
  const patterns = [
    ["a progress bar", /\d+%\s*\||\|[█▉▊▋▌▍▎▏#]{2,}|\d+\/\d+ \[\d+:\d+|\bit\/s\]|s\/it\]/],
    ["a log line", /^\s*\[[\w.-]+\] |\bdone in [\d.]+ ?s\b|^\s*(INFO|DEBUG)\b/m],
    ["a warning", /\b[A-Z]\w*Warning\b|^\s*WARNING\b|warnings\.warn/m],
    ["an absolute path", /(^|[\s'"(=:])\/(home|work|tmp|usr|root|opt|var|mnt|srv|Users)\/|site-packages|\.venv\/|[A-Z]:\\/m],
    ["a raw dict", /^\s*\{'[^']+': /],
    ["a raw parameters object", /^\s*\w+Params\(/],
  ];
  document.querySelectorAll(".cell_output, div.output").forEach((out) => {
    if (out.parentElement && out.parentElement.closest(".cell_output, div.output")) return;
    const text = out.innerText || "";
    for (const [what, re] of patterns) {
      const m = text.match(re);
      if (m) problems.push(`a cell output shows ${what}: '${short(text.slice(Math.max(0, m.index - 30), m.index + 60))}'`);
    }
    if (out.querySelector(".stderr, .output_stderr")) problems.push(`a cell output writes to stderr: '${short(text)}'`);
  });
  // TeX outside math: text nodes outside MathJax, code and scripts.
  const tex = /\\(alpha|beta|gamma|delta|rho|kappa|theta|Theta|Sigma|sigma|frac|tfrac|sqrt|mathcal|mathbb|mathrm|sum|le|ge|cdot|ln|infty|to)\b|\\\(|\\\[|\$[^$\s][^$]{0,80}\$/;
  const skip = "mjx-container, script, style, pre, code, textarea, kbd, .MathJax, mjx-assistive-mml";
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let node, seen = 0;
  while ((node = walker.nextNode()) && seen < 5) {
    const el = node.parentElement;
    if (!el || el.closest(skip)) continue;
    if (el.closest("[hidden], [aria-hidden=true]")) continue;
    const m = node.textContent.match(tex);
    if (m) { problems.push(`TeX outside math: '${short(node.textContent.slice(Math.max(0, m.index - 30), m.index + 50))}'`); seen++; }
  }
  if (/\\[A-Za-z(]|\$/.test(document.title)) problems.push(`TeX in the page title: '${document.title}'`);
  // Images: alt text that describes (not empty, not a file name or hash).
  document.querySelectorAll("article img, .bd-main img").forEach((img) => {
    const alt = (img.getAttribute("alt") || "").trim();
    if (!alt || /^[\w./-]*[0-9a-f]{16,}[\w.-]*$/i.test(alt) || /\.(png|svg|jpe?g|gif)$/i.test(alt))
      problems.push(`image without alt text: ${img.getAttribute("src")} (alt '${short(alt)}')`);
  });
  // Display equations fit the column: each is broken over lines (aligned) rather than scrolled in its box.
  document.querySelectorAll('mjx-container[display="true"]').forEach((eq) => {
    if (eq.scrollWidth > eq.clientWidth + 2) {
      const block = eq.closest(".math, div") || eq;
      const label = (block.id || (block.querySelector(".eqno") || {}).innerText || "").toString().trim();
      const tex = (eq.querySelector("mjx-assistive-mml math") || {}).textContent || eq.innerText || "";
      problems.push(`equation ${label || "(unnumbered)"} is ${eq.scrollWidth} px wide in a ${eq.clientWidth} px column: '${short(tex)}'`);
    }
  });
  // No sideways scrolling of the page, nor of the theme's article column (which would scroll as a whole).
  for (const sel of [".bd-main", ".bd-content", ".bd-article-container", "article.bd-article"]) {
    const el = document.querySelector(sel);
    if (el && el.scrollWidth > el.clientWidth + 1)
      problems.push(`${sel} scrolls sideways: ${el.scrollWidth} px of content in ${el.clientWidth} px`);
  }
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth + 1) {
    let widest = null, right = doc.clientWidth;
    document.querySelectorAll("body *").forEach((el) => {
      const r = el.getBoundingClientRect();
      if (r.right > right + 1 && r.width > 0) { right = r.right; widest = el; }
    });
    const what = widest ? `${widest.tagName.toLowerCase()}.${(widest.className || "").toString().split(" ")[0]}` : "?";
    problems.push(`the page scrolls sideways: ${doc.scrollWidth} px wide in a ${doc.clientWidth} px window (widest: ${what})`);
  }
  return problems;
}"""


def _pages(html_dir: Path) -> list[str]:
    """Every HTML page of the site, relative to its root (``notebooks/01_models.html``)."""
    return sorted(
        p.relative_to(html_dir).as_posix()
        for p in html_dir.rglob("*.html")
        if not SKIP_DIRS.intersection(p.relative_to(html_dir).parts)
    )


class _Anchors(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key == "id" or (tag == "a" and key == "name"):
                self.ids.add(value or "")


@functools.lru_cache(maxsize=None)
def _anchors(path: Path) -> frozenset[str]:
    parser = _Anchors()
    parser.feed(path.read_text(errors="replace"))
    return frozenset(parser.ids)


def _link_problem(href: str, base: str, html_dir: Path) -> str | None:
    """Why an internal link is broken, or None when it resolves (external links are not followed)."""
    if not href.startswith(base):
        return None
    url = urllib.parse.urlsplit(href)
    rel = urllib.parse.unquote(url.path)[len(urllib.parse.urlsplit(base).path) :]
    target = html_dir / rel
    if rel == "" or target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        return f"{href}: no file {target.relative_to(html_dir)}"
    fragment = urllib.parse.unquote(url.fragment)
    if fragment and target.suffix == ".html" and fragment not in _anchors(target):
        return f"{href}: no anchor #{fragment} in {target.relative_to(html_dir)}"
    return None


def _wait_for_images(page) -> list:
    """Load every image (lazy ones too) and return ``[src, naturalWidth, naturalHeight]`` for each."""
    return page.evaluate(
        """async () => {
            const imgs = Array.from(document.images);
            for (const img of imgs) { img.loading = "eager"; }
            await Promise.all(imgs.map(img => img.complete ? null : new Promise(done => {
                img.addEventListener("load", done, {once: true});
                img.addEventListener("error", done, {once: true});
                setTimeout(done, 10000);
            })));
            return imgs.map(img => [img.currentSrc || img.src, img.naturalWidth, img.naturalHeight]);
        }"""
    )


def _typeset(page, timeout_ms: int = PAGE_TIMEOUT_MS) -> dict:
    """Wait for MathJax to finish; count typeset formulas and MathJax errors."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=timeout_ms)
    except PlaywrightTimeout:
        return {"containers": 0, "errors": 0, "raw": -1, "loaded": False}
    page.evaluate("() => MathJax.startup.promise")
    return page.evaluate(
        """() => ({
            containers: document.querySelectorAll("mjx-container").length,
            errors: document.querySelectorAll("mjx-merror, [data-mjx-error]").length,
            raw: Array.from(document.querySelectorAll("span.math, div.math"))
                      .filter(el => !el.querySelector("mjx-container")).length,
        })"""
    )


def check_site(
    base: str, html_dir: Path, chromium: str, chromium_args: list[str], screenshots: Path | None, colab: bool = True,
    math_timeout_ms: int = PAGE_TIMEOUT_MS, widths: tuple[int, ...] = WIDTHS,
) -> dict:
    """Open every page of the site served at ``base`` in headless Chromium at each of ``widths`` and collect
    what is wrong (links, Colab buttons and the page checks once, at the first width; overflow at each).

    Returns ``{"pages", "problems", "external", "math_pages", "seconds"}``.
    """
    from playwright.sync_api import sync_playwright

    pages = _pages(html_dir)
    if screenshots is not None:
        screenshots.mkdir(parents=True, exist_ok=True)
        for old in screenshots.glob("*.png"):
            old.unlink()
    problems: list[str] = []
    external: list[str] = []
    math_pages = 0
    start = time.perf_counter()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=chromium_args, headless=True)
        try:
            for width in widths:
                context = browser.new_context(viewport={"width": width, "height": 900}, service_workers="block")

                def only_local(route):  # the site must not need the network: refuse anything else
                    if route.request.url.startswith(base) or route.request.url.startswith("data:"):
                        route.continue_()
                    else:
                        external.append(route.request.url)
                        route.abort()

                context.route("**/*", only_local)
                for name in pages:
                    first = width == widths[0]  # checks that do not depend on the width run once
                    where = f"{name} @{width}px"
                    page = context.new_page()
                    page.set_default_timeout(PAGE_TIMEOUT_MS)
                    errors: list[str] = []
                    page.on("pageerror", lambda exc, errors=errors: errors.append(f"uncaught: {exc}"))
                    page.on(
                        "console",
                        lambda msg, errors=errors: errors.append(f"console.{msg.type}: {msg.text} ({msg.location.get('url')})")
                        if msg.type == "error" and "favicon" not in str(msg.location.get("url"))
                        else None,
                    )
                    page.on(
                        "response",
                        lambda resp, errors=errors: errors.append(f"HTTP {resp.status}: {resp.url}")
                        if resp.status >= 400 and "favicon" not in resp.url
                        else None,
                    )
                    page.goto(base + name, wait_until="load")
                    if name == "index.html" and "intro.html" in pages:  # the root only redirects to the first page
                        page.wait_for_url("**/intro.html")
                        page.wait_for_load_state("load")

                    if page.locator("span.math, div.math").count() > 0:
                        math_pages += first
                        tex = _typeset(page, math_timeout_ms)
                        if tex.get("loaded") is False:
                            problems.append(f"{where}: math not typeset: MathJax did not load")
                        elif tex["containers"] == 0 or tex["raw"]:
                            problems.append(f"{where}: math not typeset ({tex})")
                        if tex["errors"]:
                            problems.append(f"{where}: {tex['errors']} MathJax error(s)")

                    for src, w, h in _wait_for_images(page):
                        if not (w > 0 and h > 0):
                            problems.append(f"{where}: image did not load: {src}")

                    text = page.evaluate("() => document.body.innerText")
                    if "Traceback (most recent call last)" in text or page.locator(".output.traceback, .output.error").count():
                        problems.append(f"{where}: a notebook output shows a traceback")

                    seen = page.evaluate(PAGE_CHECKS)
                    problems += [f"{where}: {p}" for p in seen if first or "sideways" in p or p.startswith("equation ")]

                    if first:
                        hrefs = page.evaluate("() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
                        problems += [f"{name}: broken link {p}" for h in sorted(set(hrefs)) if (p := _link_problem(h, base, html_dir))]
                        if colab and name.startswith("notebooks/"):
                            chapter = Path(name).stem
                            target = f"colab.research.google.com/github/ntk-companion/resnet-ntk-companion/blob/main/notebooks/{chapter}.ipynb"
                            if not any(target in h for h in hrefs):
                                problems.append(f"{name}: no 'Open in Colab' launch button to {target}")

                    if screenshots is not None:
                        shot = screenshots / (name[: -len(".html")].replace("/", "__") + f"__{width}.png")
                        page.screenshot(path=str(shot), full_page=True)
                    problems += [f"{where}: {e}" for e in errors]
                    page.close()
                context.close()
        finally:
            browser.close()
    return {
        "pages": pages,
        "problems": problems,
        "external": sorted(set(external)),
        "math_pages": math_pages,
        "seconds": time.perf_counter() - start,
    }


@pytest.mark.timeout(900)
def test_every_page_in_chromium(chromium_path, chromium_args, serve_site, smoke_book):
    html_dir = Path(smoke_book)
    with serve_site(html_dir) as base:
        result = check_site(base, html_dir, chromium_path, chromium_args, SCREENSHOTS)
    pages = result["pages"]
    print(f"browser: {len(pages)} pages in {result['seconds']:.1f} s; screenshots in {SCREENSHOTS}")
    assert "intro.html" in pages and "figures.html" in pages and "claims.html" in pages
    assert not result["external"], "the site requests external resources (it must render offline):\n" + "\n".join(
        result["external"]
    )
    assert not result["problems"], "\n".join(result["problems"])
    assert result["math_pages"] >= 1, "no page with math found: MathJax was not exercised"
    assert len(list(SCREENSHOTS.glob("*.png"))) == len(pages) * len(WIDTHS)


@pytest.mark.timeout(300)
def test_the_checks_catch_a_broken_page(chromium_path, chromium_args, serve_site, tmp_path):
    """The checker itself: a page with a JS error, a missing image, a dead link, a traceback, an external
    script, a broken table, build output in cells, raw TeX, an image without alt text, an equation wider than
    its column and a too-wide element
    is reported on every count, and a clean page on none (so a green browser test means something)."""
    (tmp_path / "ok.html").write_text(
        "<html><head><title>Fine: γ</title></head><body><article><p id='here'>fine, $5 is not math</p>"
        "<a href='#here'>self</a><table><tr><th>claim</th><th>result</th></tr><tr><td>a</td><td>pass</td></tr>"
        "<tr><td>b</td><td><strong>FAIL</strong></td></tr></table>"
        "<div class='cell_output'><pre>n = 61, accuracy 0.93</pre></div>"
        "<div style='overflow-x: auto'><div style='width: 3000px'>wide, in its own box</div></div>"
        "<img alt='A described figure' src='data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='>"
        "</article></body></html>")
    (tmp_path / "bad.html").write_text(
        "<html><head><title>Scaling \\(\\gamma\\)</title><script src='https://cdn.example.invalid/x.js'></script></head><body><article>"
        "<script>undefinedFunction()</script>"
        "<img src='_images/missing.png'>"
        "<a href='nowhere.html'>dead</a> <a href='ok.html#absent'>no anchor</a> <a href='ok.html#here'>ok</a>"
        "<div class='output traceback'><pre>Traceback (most recent call last):</pre></div>"
        "<span class='math'>\\(x^2\\)</span>"
        "<table><tr><th>claim</th><th>measured</th><th>result</th></tr><tr><td>|rho_L</td><td>0.1</td></tr>"
        "<tr><td>a</td><td>0.2</td><td>0.3</td></tr></table>"
        "<div class='cell_output'><pre>sweep:  40%|####      | 2/5 [00:01&lt;00:02, 1.5it/s]</pre></div>"
        "<div class='cell_output'><pre>[02-init] computing depth=3\n[02-init] done in 0.41 s</pre></div>"
        "<div class='cell_output'><pre>/work/main/.venv/lib/python3.11/site-packages/nt/branching.py:407: UserWarning: FanIn</pre></div>"
        "<div class='cell_output'><pre>{'diag': 3.3e-16, 'off': 2}</pre></div>"
        "<p>the limit is $\\gamma = 1/2$ and \\alpha stays</p>"
        "<img alt='../_images/f5963a0e7cc028a48b8894297b7aeabca8b85270eb7fcf2a23c57b4be3c0399a.png' src='data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='>"
        "<div style='width: 3000px'>too wide</div>"
        "<mjx-container display='true' style='display: block; overflow-x: auto'><div style='width: 2500px'>"
        "k_L = a very long equation</div></mjx-container>"
        "</article></body></html>"
    )
    with serve_site(tmp_path) as base:
        result = check_site(base, tmp_path, chromium_path, chromium_args, None, colab=False, math_timeout_ms=1500)
    text = "\n".join(result["problems"])
    assert result["external"] == ["https://cdn.example.invalid/x.js"]
    assert "undefinedFunction" in text
    assert "image did not load" in text and "missing.png" in text
    assert "no file nowhere.html" in text and "no anchor #absent" in text
    assert "traceback" in text
    assert "bad.html @1400px: math not typeset" in text
    assert "row 1: 2 cells, header has 3" in text and "result cell is '0.3', not pass/fail" in text
    for what in ("a progress bar", "a log line", "a warning", "an absolute path", "a raw dict"):
        assert f"a cell output shows {what}" in text, what
    assert "TeX outside math: " in text and "TeX in the page title" in text
    assert "image without alt text: _images/missing.png" in text and "f5963a0e7cc0" in text
    for width in WIDTHS:
        assert f"bad.html @{width}px: the page scrolls sideways" in text, width
        assert f"bad.html @{width}px: equation (unnumbered) is" in text and "a very long equation" in text, width
    assert not [p for p in result["problems"] if p.startswith("ok.html")], text


def test_site_references_no_external_script_or_stylesheet(smoke_book):
    """Static check (no browser): every <script src> and stylesheet of every page is local."""
    import re

    html_dir = Path(smoke_book)
    bad = []
    for page in _pages(html_dir):
        text = (html_dir / page).read_text(errors="replace")
        for tag in re.findall(r"<(?:script|link)\b[^>]*>", text):
            is_asset = tag.startswith("<script") or re.search(r"rel=\"(stylesheet|preload|modulepreload)\"", tag)
            url = re.search(r"(?:src|href)=\"([^\"]+)\"", tag)
            if is_asset and url and re.match(r"(https?:)?//", url.group(1)):
                bad.append(f"{page}: {url.group(1)}")
    assert not bad, "external assets (the site must render offline):\n" + "\n".join(bad)
    assert (html_dir / "_static" / "mathjax" / "tex-mml-chtml.js").is_file(), "MathJax not served by the site"
