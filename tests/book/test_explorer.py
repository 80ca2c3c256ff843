"""The depth explorer page: its data equal ``companion.kernels`` (fast), and the built page in Chromium.

Fast tests compute the explorer's tables at three chosen settings on a small grid and compare every
stored value (after the float32 round trip the page reads) with the package to 1e-6. The browser test
opens the page of the smoke book offline, moves every control, reads the plotted values from Plotly's
graph state and compares them with the package at that setting; it also checks the page's total size,
the 420 px layout and dark mode, and keeps screenshots in ``build/test-artifacts/screenshots/explorer``
(look at them).
"""

from __future__ import annotations

import math
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
import yaml

from companion import kernels as K
from companion.book import explorer as E

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "test-artifacts" / "screenshots" / "explorer"  # not beside test_browser's: it clears those
TOL = 1e-6
PAGE_BUDGET = 5_000_000  # bytes, every setting visited: the explorer's own files, and the whole page as served

# Three settings, one per regime the page explains: a deep FFNet (1/4 + nugget), the ResNet at the
# ODE scaling, and the ResNet with gamma > 1/2 and every layer trained (linear-kernel limit).
CHOSEN = [(E.Setting("ffnet"), 1000), (E.Setting("resnet", 0.5, "hidden"), 100), (E.Setting("resnet", 0.75, "all"), 10_000)]


@pytest.fixture(scope="module")
def images():
    return E.mnist_images()


def _package(setting: E.Setting, rho, depth: int):
    if setting.arch == "ffnet":
        k = K.ffnet_normalized(rho, depth)
    else:
        k = K.resnet_normalized(rho, depth, depth ** -setting.gamma, setting.trained)
    return np.asarray(k.nngp), np.asarray(k.ntk)


def _gram_by_matrix_api(setting: E.Setting, x: np.ndarray, depth: int) -> np.ndarray:
    """The normalised NTK Gram matrix through the package's matrix path (an independent route)."""
    if setting.arch == "ffnet":
        k = K.ffnet_kernels(x, depth=depth)
    else:
        k = K.resnet_kernels(x, depth=depth, alpha=depth ** -setting.gamma, trained=setting.trained)
    return K.normalize_kernel(np.asarray(k.ntk))


# ------------------------------------------------------------------------------------------ data


def test_stored_values_equal_the_package_at_three_settings(tmp_path, images):
    depths = np.array(sorted({d for _, d in CHOSEN}))
    E.write(tmp_path, depths=depths, gammas=[0.5, 0.75], cache_dir=None, images=images, log=None)
    manifest, tables = E.read(tmp_path)
    rho = np.asarray(manifest["rho"])
    assert rho.shape == (E.RHO_POINTS,) and rho[0] == -1 and rho[-1] == 1
    assert manifest["images"]["labels"] == sorted(manifest["images"]["labels"])
    entries = {e["id"]: e for e in manifest["settings"]}
    for setting, depth in CHOSEN:
        i = manifest["depths"].index(depth)
        table, entry = tables[setting.id], entries[setting.id]
        nngp, ntk = _package(setting, rho, depth)
        np.testing.assert_allclose(table["ntk"][i], ntk, rtol=0, atol=TOL, err_msg=f"{setting.id} L={depth} NTK")
        np.testing.assert_allclose(table["nngp"][i], nngp, rtol=0, atol=TOL, err_msg=f"{setting.id} L={depth} NNGP")
        gram = E.gram_from_pairs(table["gram"][i], images.n)
        reference = _gram_by_matrix_api(setting, images.x, depth)
        np.testing.assert_allclose(gram, reference, rtol=0, atol=TOL, err_msg=f"{setting.id} L={depth} Gram")
        assert entry["effective_rank"][i] == pytest.approx(K.effective_rank(reference), abs=TOL)
        assert entry["constant"][i] == pytest.approx(reference[~np.eye(images.n, dtype=bool)].mean(), abs=TOL)
        assert entry["nugget_distance"][i] == pytest.approx(K.constant_kernel_distance(reference), abs=TOL)
        _, limit = (K.ffnet_limit(rho) if setting.arch == "ffnet" else K.resnet_limit(rho, setting.gamma, setting.trained))
        keep = (rho >= -0.9) & (rho <= 0.99)
        assert entry["distance"][i] == pytest.approx(np.max(np.abs(ntk - np.asarray(limit))[keep]), abs=TOL)
        if setting.arch == "resnet":
            assert entry["alpha"][i] == pytest.approx(depth ** -setting.gamma, rel=1e-12)


def test_limits_and_regimes_of_the_reference_lines(tmp_path, images):
    E.write(tmp_path, depths=np.array([1, 2]), gammas=[0.25], cache_dir=None, images=images, log=None)
    manifest, _ = E.read(tmp_path)
    rho = np.asarray(manifest["rho"])
    lim = manifest["limits"]
    np.testing.assert_allclose(lim["quarter"]["ntk"][:-1], 0.25)
    assert lim["quarter"]["ntk"][-1] == 1.0
    np.testing.assert_allclose(lim["ode-hidden"]["ntk"], np.asarray(K.ode_limit(rho, "hidden").ntk), atol=1e-8)
    np.testing.assert_allclose(lim["ode-all"]["ntk"], np.asarray(K.ode_limit(rho, "all").ntk), atol=1e-8)
    np.testing.assert_allclose(lim["depth1-hidden"]["ntk"], np.asarray(K.depth1_limit(rho).ntk), atol=1e-8)
    np.testing.assert_allclose(lim["depth1-all"]["ntk"], rho, atol=1e-8)
    # the spec's tabulated ODE values at rho0 = 0 and 0.5
    assert np.interp(0.0, rho, lim["ode-hidden"]["ntk"]) == pytest.approx(0.1928, abs=1e-4)
    assert np.interp(0.5, rho, lim["ode-hidden"]["ntk"]) == pytest.approx(0.4399, abs=1e-4)


def test_grids():
    d = E.depth_grid()
    assert d.shape == (60,) and d[0] == 1 and d[-1] == 100_000 and np.all(np.diff(d) > 0)
    ratios = d[1:] / d[:-1]
    assert ratios[-1] == pytest.approx(10 ** (5 / 59), rel=0.01)  # log-spaced where integers allow
    assert 0.25 in E.GAMMAS and 0.5 in E.GAMMAS and 0.75 in E.GAMMAS and E.GAMMAS[0] == 0 and E.GAMMAS[-1] == 1
    assert len(E.settings()) == 1 + 2 * len(E.GAMMAS)
    assert E.Setting("resnet", 0.25, "all").id == "resnet-g0.25-all"


def test_encode_decode_round_trip(images):
    """Curves round-trip float32-exactly; the Gram entries come back from their Chebyshev series."""
    rng = np.random.default_rng(0)
    basis = E.gram_basis(images)
    pairs = images.pairs()
    gram = np.stack([np.cos(pairs), 0.25 + 0.1 * pairs**3])  # two smooth "depths"
    table = {"ntk": rng.uniform(-1, 1, (2, 5)), "nngp": rng.uniform(-1, 1, (2, 5)), "gram": gram}
    payload = E.encode(table, basis, pairs)
    assert payload == E.encode(table, basis, pairs)  # reproducible bytes (no time stamp)
    back = E.decode(payload, 2, 5, basis, pairs)
    for key in ("ntk", "nngp"):
        np.testing.assert_array_equal(back[key], table[key].astype(np.float32))
    np.testing.assert_allclose(back["gram"], gram, rtol=0, atol=E.GRAM_TOLERANCE)
    assert back["coef"].shape == (2, E.GRAM_DEGREE + 1)
    with pytest.raises(ValueError, match=r"payload='416 bytes uncompressed' is invalid; allowed: 4 \* 2 \* 2 \* 6"):
        E.decode(payload, 2, 6, basis, pairs)
    with pytest.raises(ValueError, match="not gzip"):
        E.decode(b"plain bytes", 2, 5, basis, pairs)
    rough = dict(table, gram=np.stack([np.abs(pairs - 0.1), np.sign(pairs)]))  # kinks: no short series fits
    with pytest.raises(ValueError, match=r"table\['gram'\]=.*error .* is invalid; allowed: an error <= 1e-09"):
        E.encode(rough, basis, pairs)


@pytest.mark.parametrize(
    "call, pattern",
    [
        (lambda: E.Setting("cnn"), r"arch='cnn' is invalid; allowed: one of 'ffnet', 'resnet'"),
        (lambda: E.Setting("resnet", 1.5, "hidden"), r"gamma=1.5 is invalid; allowed: a finite real number in \[0, 1\]"),
        (lambda: E.Setting("resnet", float("nan"), "hidden"), r"gamma=nan is invalid"),
        (lambda: E.Setting("resnet", 0.5, "some"), r"trained='some' is invalid; allowed: one of 'hidden', 'all'"),
        (lambda: E.Setting("ffnet", 0.5), r"gamma=0.5 is invalid; allowed: None with trained='all' for the FFNet"),
        (lambda: E.Setting("resnet", 0.5, "hidden").kernels([0.0], 0), r"depth=0 is invalid; allowed: an integer >= 1"),
        (lambda: E.Setting("resnet", 0.5, "hidden").kernels([1.5], 3), r"rho=.* is invalid; allowed: .*in \[-1, 1\]"),
        (lambda: E.depth_grid(1), r"n=1 is invalid; allowed: an integer >= 2"),
        (lambda: E.depth_grid(60, 50), r"max_depth=50 is invalid; allowed: an integer >= 60"),
        (lambda: E.rho_grid(2), r"points=2 is invalid; allowed: an integer >= 3"),
        (lambda: E.mnist_images(0), r"per_class=0 is invalid; allowed: an integer >= 1 and <= 50"),
        (lambda: E.gram_from_pairs([0.1, 0.2], 3), r"pairs=.* is invalid; allowed: n \(n - 1\) / 2 = 3 entries"),
        (lambda: E.gram_basis(E.mnist_images(1), 0), r"degree=0 is invalid; allowed: an integer >= 1 and <= 60"),
        (lambda: E.gram_basis(E.mnist_images(1), 50), r"degree=50 is invalid; allowed: fewer than the 45 distinct"),
        (lambda: E.write("/nonexistent-never-written", depths=np.array([3, 2])), r"depths=\[3, 2\] is invalid; allowed: a 1-D increasing"),
        (lambda: E.write("/nonexistent-never-written", gammas=[2.0]), r"gamma=2.0 is invalid"),
        (lambda: E.write("/nonexistent-never-written", gammas=[0.5, 0.5]), r"gammas=\[0.5, 0.5\] is invalid; allowed: distinct"),
    ],
)
def test_bad_input_names_the_argument_value_and_range(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_install_needs_plotly_and_says_how(tmp_path):
    with pytest.raises(FileNotFoundError, match="npm ci"):
        E.install(tmp_path / "book", plotly_package=tmp_path / "nowhere")


def test_page_is_wired_into_the_book():
    page = (ROOT / "book" / "explorer.md").read_text()
    static = ROOT / "book" / "_extra" / "_static" / "explorer"
    for asset in ("explorer.js", "explorer.css"):
        assert f"_static/explorer/{asset}" in page and (static / asset).is_file()
    assert f"_static/explorer/{E.PLOTLY_FILE}" in page
    # Jupyter Book loads every .js under book/_static on every page: only the site-wide scroll hint may be there
    site_wide = [p.name for p in (ROOT / "book" / "_static").rglob("*.js")]
    assert site_wide == ["scroll-hint.js"], f"a .js under book/_static is loaded on every page: {site_wide}"
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert "explorer" in files
    assert "explorer.md" in (ROOT / "book" / "intro.md").read_text()
    for chapter in ("03_degeneracy", "04_alpha_scaling"):
        assert "{doc}`depth explorer </explorer>`" in (ROOT / "notebooks" / f"{chapter}.md").read_text()
    # the page speaks about the science, not about how it was built
    for word in ("build time", "Plotly", "JSON", "float32", "companion."):
        assert word not in page.split("```{raw} html")[0] + page.split("```\n", 2)[-1], word


# --------------------------------------------------------------------------------------- browser

def _expected(setting: E.Setting, depth: int, rho: np.ndarray, images: E.Images) -> dict:
    """What the page must show at this setting, straight from companion.kernels (float64)."""
    nngp, ntk = _package(setting, rho, depth)
    _, gram_ntk = _package(setting, images.rho.ravel(), depth)
    gram = np.array(gram_ntk).reshape(images.n, images.n)
    np.fill_diagonal(gram, 1.0)
    return {"ntk": ntk, "nngp": nngp, "gram": gram, "effective_rank": K.effective_rank(gram),
            "constant": gram[~np.eye(images.n, dtype=bool)].mean(), "nugget_distance": K.constant_kernel_distance(gram)}


def _plotted(page) -> dict:
    """The values in Plotly's graph state (the curves are the last trace of each plot) and the numbers shown."""
    return page.evaluate(
        """() => {
            const last = (id) => { const d = document.getElementById(id).data; return d[d.length - 1]; };
            const num = (id) => Number(document.getElementById(id).dataset.value);
            const s = window.depthExplorer.shown();
            return {ntk: last("dx-plot-ntk").y, nngp: last("dx-plot-nngp").y, rho: last("dx-plot-ntk").x,
                    gram: document.getElementById("dx-plot-gram").data[0].z,
                    effective_rank: num("dx-rank"), constant: num("dx-constant"), nugget_distance: num("dx-nugget"),
                    distance: num("dx-distance"), depth: s.depth, id: s.id, title: document.getElementById("dx-plot-ntk").layout.title.text,
                    depthText: document.getElementById("dx-depth-value").textContent,
                    fontColor: document.getElementById("dx-plot-ntk")._fullLayout.font.color};
        }"""
    )


def _sizes(path: Path) -> tuple[int, int]:
    """``(bytes on disk, bytes as a static host serves it)``: text assets gzip-compressed (as GitHub Pages
    and other hosts do), already compressed files (fonts, images, the explorer's data) as they are."""
    import gzip

    data = path.read_bytes()
    if path.suffix in {".woff2", ".woff", ".png", ".jpg", ".bin", ".gz"}:
        return len(data), len(data)
    return len(data), len(gzip.compress(data, compresslevel=6))


def _settle(page) -> None:
    page.evaluate("() => window.depthExplorer.ready.then(() => window.depthExplorer.settled())")


def _check_values(page, setting: E.Setting, images: E.Images, rho: np.ndarray) -> dict:
    shown = _plotted(page)
    assert shown["id"] == setting.id, (shown["id"], setting.id)
    depth = int(shown["depth"])
    assert shown["depthText"] == f"L = {depth:,}"
    assert f"L = {depth:,}" in shown["title"]
    exp = _expected(setting, depth, rho, images)
    np.testing.assert_allclose(shown["rho"], rho, atol=1e-12)
    for key in ("ntk", "nngp", "gram"):
        np.testing.assert_allclose(np.asarray(shown[key], dtype=float), exp[key], rtol=0, atol=TOL,
                                   err_msg=f"{setting.id} L={depth}: plotted {key}")
    for key in ("effective_rank", "constant", "nugget_distance"):
        assert shown[key] == pytest.approx(exp[key], abs=TOL), (setting.id, depth, key)
    _, limit = setting.limit(rho)
    keep = (rho >= -0.9) & (rho <= 0.99)
    assert shown["distance"] == pytest.approx(np.max(np.abs(exp["ntk"] - limit)[keep]), abs=TOL)
    return shown


@pytest.mark.browser
@pytest.mark.book
@pytest.mark.timeout(3600)  # includes building the smoke book when this test is the first to need it
def test_explorer_page_in_chromium(chromium_path, chromium_args, serve_site, smoke_book, images):
    from playwright.sync_api import sync_playwright

    html_dir = Path(smoke_book)
    assert (html_dir / "explorer.html").is_file()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    rho = E.rho_grid()
    errors: list[str] = []
    external: list[str] = []
    requested: set[str] = set()
    with serve_site(html_dir) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=chromium_args, headless=True)
        try:
            def only_local(route):
                url = route.request.url
                if url.startswith(base) or url.startswith("data:") or url.startswith("blob:"):
                    requested.add(url.split("#")[0])
                    route.continue_()
                else:
                    external.append(url)
                    route.abort()

            def watch(page, tag):
                page.on("pageerror", lambda exc: errors.append(f"{tag}: uncaught: {exc}"))
                page.on("console", lambda msg: errors.append(f"{tag}: console.{msg.type}: {msg.text}")
                        if msg.type == "error" and "favicon" not in str(msg.location.get("url")) else None)
                page.on("response", lambda r: errors.append(f"{tag}: HTTP {r.status}: {r.url}")
                        if r.status >= 400 and "favicon" not in r.url else None)

            # ---- desktop, light: move every control and compare with the package
            ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, color_scheme="light", service_workers="block")
            ctx.route("**/*", only_local)
            page = ctx.new_page()
            watch(page, "1400px")
            page.goto(base + "explorer.html", wait_until="load")
            _settle(page)
            manifest = page.evaluate("() => window.depthExplorer.manifest")
            assert manifest["images"]["mnist_test_index"] == images.index.tolist()
            depths = manifest["depths"]
            ffnet = E.Setting("ffnet")
            first = _check_values(page, ffnet, images, rho)  # the page opens on the FFNet at L = 1
            assert first["depth"] == 1
            assert page.locator("#dx-gamma").is_disabled() and page.locator("input[name=dx-trained][value=all]").is_disabled()
            page.screenshot(path=str(SCREENSHOTS / "explorer-1400-light.png"), full_page=True)

            slider = page.locator("#dx-depth")
            slider.focus()
            page.keyboard.press("End")  # deepest: L = 10^5
            _settle(page)
            deep = _check_values(page, ffnet, images, rho)
            assert deep["depth"] == depths[-1] == 100_000 and deep["ntk"] != first["ntk"]
            page.screenshot(path=str(SCREENSHOTS / "explorer-1400-ffnet-deep.png"), full_page=True)
            for _ in range(12):  # back to L = 10^4
                page.keyboard.press("ArrowLeft")
            _settle(page)
            assert _check_values(page, ffnet, images, rho)["depth"] == depths[-13]

            page.locator("input[name=dx-arch][value=resnet]").check()
            _settle(page)
            quarter = _check_values(page, E.Setting("resnet", 0.25, "hidden"), images, rho)  # gamma starts at 1/4
            assert not page.locator("#dx-gamma").is_disabled()
            gamma = page.locator("#dx-gamma")
            gamma.focus()
            page.keyboard.press("ArrowRight")
            page.keyboard.press("ArrowRight")  # 1/4 -> 1/2
            _settle(page)
            ode = _check_values(page, E.Setting("resnet", 0.5, "hidden"), images, rho)
            assert ode["ntk"] != quarter["ntk"]
            page.keyboard.press("ArrowRight")
            page.keyboard.press("ArrowRight")  # 3/4
            _settle(page)
            _check_values(page, E.Setting("resnet", 0.75, "hidden"), images, rho)
            page.screenshot(path=str(SCREENSHOTS / "explorer-1400-resnet.png"), full_page=True)

            page.locator("input[name=dx-trained][value=all]").check()
            _settle(page)
            trained_all = _check_values(page, E.Setting("resnet", 0.75, "all"), images, rho)
            assert page.locator("#dx-limit-name").inner_text().startswith("linear kernel")

            slider.focus()
            page.keyboard.press("Home")  # L = 1
            _settle(page)
            shallow = _check_values(page, E.Setting("resnet", 0.75, "all"), images, rho)
            assert shallow["depth"] == 1 and shallow["ntk"] != trained_all["ntk"]
            for _ in range(40):
                page.keyboard.press("ArrowRight")
            _settle(page)
            assert _check_values(page, E.Setting("resnet", 0.75, "all"), images, rho)["depth"] == depths[40]

            # every setting once: the whole page with everything it can load stays within the budget
            for s in E.settings(manifest["gammas"]):
                page.evaluate("(p) => window.depthExplorer.set(p)",
                              {"arch": s.arch, "trained": s.trained if s.arch == "resnet" else "hidden",
                               "gammaIndex": manifest["gammas"].index(s.gamma) if s.gamma is not None else 0})
                _settle(page)
            local = sorted({urllib.parse.unquote(urllib.parse.urlsplit(u).path).lstrip("/") for u in requested})
            sizes = {p: _sizes(html_dir / p) for p in local if (html_dir / p).is_file()}
            raw = sum(r for r, _ in sizes.values())
            served = sum(g for _, g in sizes.values())
            own = sum(r for p, (r, _) in sizes.items() if p.startswith("_static/explorer/") or p == "explorer.html")
            print(f"explorer page, every setting visited: {len(sizes)} files, {raw / 1e6:.2f} MB "
                  f"({served / 1e6:.2f} MB gzip-served); the explorer's own files (plot library, data, "
                  f"page) {own / 1e6:.2f} MB, the rest is the book theme and MathJax that every page loads")
            assert own < PAGE_BUDGET, f"the explorer's own files are {own / 1e6:.2f} MB (budget {PAGE_BUDGET / 1e6} MB)"
            assert served < PAGE_BUDGET, f"the page transfers {served / 1e6:.2f} MB gzip-served (budget {PAGE_BUDGET / 1e6} MB)"
            ctx.close()

            # ---- phone width and dark mode
            for width, scheme in ((420, "dark"), (420, "light"), (1400, "dark")):
                ctx = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme,
                                          service_workers="block", device_scale_factor=1)
                ctx.route("**/*", only_local)
                page = ctx.new_page()
                watch(page, f"{width}px {scheme}")
                page.goto(base + "explorer.html", wait_until="load")
                _settle(page)
                assert page.evaluate("() => document.documentElement.dataset.theme") == scheme
                shown = _check_values(page, E.Setting("ffnet"), images, rho)
                overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 1, f"{width}px: the page is {overflow}px wider than the screen"
                box = page.locator("#dx-plot-ntk").bounding_box()
                assert box["width"] <= width and box["x"] >= 0
                r, g, b = (int(v) for v in shown["fontColor"].strip("rgb()").split(",")[:3]) if shown["fontColor"].startswith("rgb") \
                    else tuple(int(shown["fontColor"].lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
                light_text = (r + g + b) / 3 > 128
                assert light_text == (scheme == "dark"), f"{scheme}: plot text colour {shown['fontColor']}"
                page.screenshot(path=str(SCREENSHOTS / f"explorer-{width}-{scheme}.png"), full_page=True)
                ctx.close()
        finally:
            browser.close()
    assert not external, "the page requested external resources:\n" + "\n".join(external)
    assert not errors, "\n".join(errors)
    assert math.isfinite(raw)
