/* Depth explorer: normalised NTK / NNGP against the input correlation, and the NTK Gram matrix of MNIST
 * test images, at a chosen depth, branch scaling and trained setting.
 *
 * Every value comes from the files in data/ (written at build time by companion.book.explorer): the page
 * only looks values up at the tabulated depths (the depth slider snaps to them), it computes nothing.
 * Plotly (cartesian bundle) is served by the site itself; no request leaves the site.
 *
 * For tests and the curious: window.depthExplorer = {ready, state, manifest, shown(), set(partial)}.
 */
(function () {
  "use strict";

  const FORMAT = 2;
  const root = document.getElementById("dx-root");
  if (!root) return;
  const base = root.dataset.src || "_static/explorer/data/";
  const $ = (id) => document.getElementById(id);
  const plots = { ntk: $("dx-plot-ntk"), nngp: $("dx-plot-nngp"), gram: $("dx-plot-gram") };
  const controls = {
    depth: $("dx-depth"), gamma: $("dx-gamma"),
    arch: Array.from(root.querySelectorAll("input[name=dx-arch]")),
    trained: Array.from(root.querySelectorAll("input[name=dx-trained]")),
  };
  const state = { arch: "ffnet", trained: "hidden", gammaIndex: 0, depthIndex: 0 }; // start: FFNet, L = 1
  const files = new Map(); // setting id -> Promise<Float32Array>
  let manifest = null;
  let drawing = Promise.resolve();
  let lastShown = null;

  // ------------------------------------------------------------------------------------------ data
  async function gunzip(buffer) {
    const bytes = new Uint8Array(buffer);
    if (!(bytes[0] === 0x1f && bytes[1] === 0x8b)) return bytes; // a server already decoded it
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  // The file holds, gzip-compressed, a float32 array (the curves) and a float64 array (the Chebyshev
  // coefficients of the Gram entries), each split into byte planes (companion.book.explorer.encode).
  function unplanes(bytes, offset, count, size) {
    const out = new Uint8Array(count * size);
    for (let b = 0; b < size; b++) {
      const plane = bytes.subarray(offset + b * count, offset + (b + 1) * count);
      for (let i = 0; i < count; i++) out[size * i + b] = plane[i];
    }
    const view = new DataView(out.buffer);
    const values = size === 4 ? new Float32Array(count) : new Float64Array(count);
    for (let i = 0; i < count; i++) values[i] = size === 4 ? view.getFloat32(4 * i, true) : view.getFloat64(8 * i, true);
    return values;
  }

  function load(entry) {
    if (!files.has(entry.id)) {
      const nd = manifest.depths.length, nr = manifest.rho.length, nc = manifest.gram.degree + 1;
      const p = fetch(base + entry.file)
        .then((r) => { if (!r.ok) throw new Error(`HTTP ${r.status} for ${entry.file}`); return r.arrayBuffer(); })
        .then(gunzip)
        .then((bytes) => {
          const expected = 4 * nd * 2 * nr + 8 * nd * nc;
          if (bytes.length !== expected) throw new Error(`${entry.file}: ${bytes.length} bytes, expected ${expected}`);
          return { curves: unplanes(bytes, 0, nd * 2 * nr, 4), coef: unplanes(bytes, 4 * nd * 2 * nr, nd * nc, 8) };
        });
      p.catch(() => files.delete(entry.id)); // retry on the next change
      files.set(entry.id, p);
    }
    return files.get(entry.id);
  }


  function currentEntry() {
    const gamma = manifest.gammas[state.gammaIndex];
    return manifest.settings.find((s) => (state.arch === "ffnet" ? s.arch === "ffnet"
      : s.arch === "resnet" && s.gamma === gamma && s.trained === state.trained));
  }

  function slice(values, depthIndex) {
    const nr = manifest.rho.length, nc = manifest.gram.degree + 1;
    const row = values.curves.subarray(depthIndex * 2 * nr, (depthIndex + 1) * 2 * nr);
    return { ntk: Array.from(row.subarray(0, nr)), nngp: Array.from(row.subarray(nr, 2 * nr)),
             coef: values.coef.subarray(depthIndex * nc, (depthIndex + 1) * nc) };
  }

  // Gram entries: the normalised kernel is a function of the pair correlation alone; at each depth it is
  // stored as a Chebyshev series on the range of the images' correlations (Clenshaw's recurrence).
  function chebyshev(coef, t) {
    let b1 = 0, b2 = 0;
    for (let k = coef.length - 1; k >= 1; k--) { const b0 = 2 * t * b1 - b2 + coef[k]; b2 = b1; b1 = b0; }
    return t * b1 - b2 + coef[0];
  }

  function gram(coef) {
    const n = manifest.images.n, rho = manifest.images.pairs_rho, g = manifest.gram;
    const z = Array.from({ length: n }, () => new Array(n).fill(1));
    let k = 0;
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const v = chebyshev(coef, (2 * rho[k] - (g.lo + g.hi)) / (g.hi - g.lo));
        z[i][j] = v; z[j][i] = v; k++;
      }
    }
    return z;
  }

  // ---------------------------------------------------------------------------------------- labels
  const FRACTIONS = { 0: "0", 0.125: "1/8", 0.25: "1/4", 0.375: "3/8", 0.5: "1/2", 0.625: "5/8", 0.75: "3/4", 0.875: "7/8", 1: "1" };
  const gammaText = (g) => FRACTIONS[g] || String(g);
  const fmtDepth = (L) => L.toLocaleString("en-US");
  function fmt(x, digits = 4) {
    if (x === null || x === undefined || Number.isNaN(x)) return "–";
    if (x === 0) return "0";
    const a = Math.abs(x);
    if (a >= 1e-3 && a < 1e4) return x.toPrecision(digits).replace(/\.?0+$/, (m) => (m.includes(".") ? "" : m));
    const [m, e] = x.toExponential(digits - 1).split("e");
    return `${m} × 10<sup>${Number(e)}</sup>`;
  }

  // Which depth limit applies (chapters 3 and 4): name and key into manifest.limits.
  function regime() {
    if (state.arch === "ffnet") return { key: "quarter", name: "1/4 + nugget (FFNet limit)" };
    const g = manifest.gammas[state.gammaIndex];
    if (g < 0.5) return { key: "quarter", name: "1/4 + nugget (γ < 1/2 limit)" };
    if (g === 0.5) return { key: `ode-${state.trained}`, name: "ODE limit (γ = 1/2)" };
    return state.trained === "hidden"
      ? { key: "depth1-hidden", name: "depth-1 kernel (γ > 1/2 limit)" }
      : { key: "depth1-all", name: "linear kernel ρ (γ > 1/2 limit, all layers trained)" };
  }

  // --------------------------------------------------------------------------------------- colours
  function theme() {
    const css = getComputedStyle(document.documentElement);
    const v = (name, fallback) => (css.getPropertyValue(name) || "").trim() || fallback;
    const dark = document.documentElement.dataset.theme === "dark";
    return {
      dark,
      text: v("--pst-color-text-base", dark ? "#ced6dd" : "#222832"),
      muted: v("--pst-color-text-muted", dark ? "#9ca4af" : "#5d6672"),
      grid: dark ? "rgba(255,255,255,0.12)" : "rgba(0,0,0,0.10)",
      curve: dark ? "#ff9f5a" : "#d2500f",
      nngp: dark ? "#7cc4ff" : "#1f5fa8",
      ref: { quarter: dark ? "#e0e0e0" : "#333333", ode: dark ? "#c39bff" : "#7b3fb8", depth1: dark ? "#5fd3a5" : "#18805a" },
    };
  }

  function axisLayout(t, title, extra) {
    return Object.assign({ title: { text: title, font: { size: 13 } }, gridcolor: t.grid, zerolinecolor: t.grid,
                           linecolor: t.muted, tickfont: { color: t.text }, color: t.text }, extra || {});
  }

  function baseLayout(t, title) {
    const narrow = root.clientWidth < 560;
    return {
      title: { text: title, font: { size: 14, color: t.text }, x: 0, xanchor: "left" },
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: t.text, family: "inherit" },
      margin: { l: 52, r: 12, t: 36, b: 40 },
      legend: { orientation: "h", x: 0, y: -0.2, yanchor: "top", font: { size: 11 } },
      height: narrow ? 440 : 420,
      hovermode: "x unified",
    };
  }

  // ------------------------------------------------------------------------------------------ draw
  function referenceTraces(kind, t, applies) {
    const rho = manifest.rho, L = manifest.limits;
    const tr = state.arch === "ffnet" ? "hidden" : state.trained;
    const refs = [
      ["quarter", kind === "ntk" ? "1/4 + nugget" : "1 (FFNet, γ < 1/2)", t.ref.quarter, "dash"],
      [`ode-${tr}`, "ODE limit, γ = 1/2", t.ref.ode, "dot"],
      [`depth1-${tr}`, kind === "ntk" && tr === "hidden" ? "depth-1 kernel, γ > 1/2" : "ρ, γ > 1/2", t.ref.depth1, "dashdot"],
    ];
    return refs.map(([key, name, color, dash]) => {
      let x = rho, y = L[key][kind];
      const nugget = key === "quarter" && kind === "ntk";
      if (nugget) { // 1/4 off the diagonal, 1 at rho = 1: a gap, then the nugget as a dot
        x = rho.slice(0, -1).concat([null, 1]);
        y = y.slice(0, -1).concat([null, 1]);
      }
      const here = key === applies;
      return { x, y, type: "scatter", mode: nugget ? "lines+markers" : "lines",
               name: here ? `${name} (limit here)` : name,
               line: { color, dash, width: here ? 2.6 : 1.3 }, opacity: here ? 1 : 0.75,
               marker: { size: x.map((_, k) => (k === x.length - 1 ? 7 : 0)), color },
               hoverinfo: "skip", connectgaps: false };
    });
  }

  function curveTrace(y, name, color) {
    return { x: manifest.rho, y, type: "scatter", mode: "lines", name, line: { color, width: 3 },
             hovertemplate: "ρ = %{x:.2f}<br>" + name + " = %{y:.6f}<extra></extra>" };
  }

  async function draw() {
    const entry = currentEntry();
    const values = await load(entry);
    const L = manifest.depths[state.depthIndex];
    const s = slice(values, state.depthIndex);
    const t = theme();
    const reg = regime();
    const archName = state.arch === "ffnet" ? "FFNet" : "ResNet";
    const config = { responsive: true, displaylogo: false, scrollZoom: false,
                     modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"] };
    const who = `${archName}, L = ${fmtDepth(L)}`;

    const ntkLayout = Object.assign(baseLayout(t, `Normalised NTK, ${who}`), {
      xaxis: axisLayout(t, "input correlation ρ = ⟨x, x′⟩", { range: [-1.02, 1.02] }),
      yaxis: axisLayout(t, "Θ(x, x′) / √(Θ(x, x) Θ(x′, x′))", { range: [-0.12, 1.04] }),
    });
    const nngpLayout = Object.assign(baseLayout(t, `Normalised NNGP, ${who}`), {
      xaxis: axisLayout(t, "input correlation ρ = ⟨x, x′⟩", { range: [-1.02, 1.02] }),
      yaxis: axisLayout(t, "Σ(x, x′) / √(Σ(x, x) Σ(x′, x′))", { range: [-1.04, 1.04] }),
    });
    await Plotly.react(plots.ntk, [...referenceTraces("ntk", t, reg.key), curveTrace(s.ntk, "NTK", t.curve)], ntkLayout, config);
    await Plotly.react(plots.nngp, [...referenceTraces("nngp", t, reg.key), curveTrace(s.nngp, "NNGP", t.nngp)], nngpLayout, config);

    const n = manifest.images.n, labels = manifest.images.labels;
    const idx = Array.from({ length: n }, (_, i) => i);
    const firsts = idx.filter((i) => i === 0 || labels[i] !== labels[i - 1]);
    const centres = firsts.map((f, k) => ((k + 1 < firsts.length ? firsts[k + 1] : n) - 1 + f) / 2); // mid-block ticks
    const narrow = root.clientWidth < 560;
    const z = gram(s.coef);
    const gramLayout = {
      title: { text: `NTK Gram matrix of ${n} MNIST test images, ${who}`, font: { size: 14, color: t.text }, x: 0, xanchor: "left" },
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", font: { color: t.text, family: "inherit" },
      margin: { l: 60, r: 12, t: 40, b: 44 }, height: narrow ? 400 : 470,
      xaxis: axisLayout(t, "image (sorted by digit)", { tickvals: centres, ticktext: firsts.map((i) => String(labels[i])),
                        showgrid: false, zeroline: false, constrain: "domain" }),
      yaxis: axisLayout(t, "image (sorted by digit)", { tickvals: centres, ticktext: firsts.map((i) => String(labels[i])), autorange: "reversed",
                        showgrid: false, zeroline: false, scaleanchor: "x", constrain: "domain" }),
    };
    const heat = { z, x: idx, y: idx, type: "heatmap", zmin: manifest.gram.zmin, zmax: manifest.gram.zmax, colorscale: "Viridis",
                   customdata: idx.map((i) => idx.map((j) => [labels[i], labels[j]])),
                   hovertemplate: "digits %{customdata[0]} and %{customdata[1]}<br>normalised NTK = %{z:.6f}<extra></extra>",
                   // one colour range for every setting and depth (the off-diagonal entries'), so that a matrix
                   // washing out is seen as such; the diagonal, always 1, is drawn in the top colour (said on the bar)
                   colorbar: { thickness: 12, len: 0.9, tickfont: { color: t.text }, outlinewidth: 0,
                               title: { text: "normalised NTK (diagonal: 1, top colour)", side: "right", font: { color: t.text, size: 12 } } } };
    await Plotly.react(plots.gram, [heat], gramLayout, config);

    // numbers
    const i = state.depthIndex;
    const alpha = entry.alpha[i];
    const shown = {
      id: entry.id, arch: state.arch, trained: entry.trained, gamma: entry.gamma, depth: L,
      depthIndex: i, alpha, regime: reg.key, ntk: s.ntk, nngp: s.nngp, gram: z,
      distance: entry.distance[i], effective_rank: entry.effective_rank[i],
      effective_rank_nngp: entry.effective_rank_nngp[i], nugget_distance: entry.nugget_distance[i],
      constant: entry.constant[i],
    };
    setText("dx-depth-value", `L = ${fmtDepth(L)}`);
    setText("dx-gamma-value", state.arch === "ffnet" ? "(none in an FFNet)" :
      `γ = ${gammaText(entry.gamma)}: α = L<sup>−γ</sup> = ${fmt(alpha)}`);
    setNumber("dx-distance", shown.distance);
    setText("dx-limit-name", reg.name);
    setNumber("dx-rank", shown.effective_rank, 3);
    setNumber("dx-rank-nngp", shown.effective_rank_nngp, 3);
    setNumber("dx-constant", shown.constant);
    setNumber("dx-nugget", shown.nugget_distance);
    root.querySelectorAll(".dx-n").forEach((el) => { el.textContent = String(n); });
    lastShown = shown;
    root.dataset.shown = entry.id + "@" + L;
    root.classList.remove("dx-loading");
    return shown;
  }

  function setText(id, html) { const el = $(id); if (el) el.innerHTML = html; }
  function setNumber(id, value, digits) {
    const el = $(id);
    if (!el) return;
    el.innerHTML = fmt(value, digits || 4);
    el.dataset.value = String(value);
  }

  // -------------------------------------------------------------------------------------- controls
  function syncControls() {
    controls.depth.value = String(state.depthIndex);
    controls.gamma.value = String(state.gammaIndex);
    controls.arch.forEach((r) => { r.checked = r.value === state.arch; });
    controls.trained.forEach((r) => { r.checked = r.value === state.trained; r.disabled = state.arch === "ffnet"; });
    controls.gamma.disabled = state.arch === "ffnet";
    root.classList.toggle("dx-ffnet", state.arch === "ffnet");
    controls.depth.setAttribute("aria-valuetext", `depth ${fmtDepth(manifest.depths[state.depthIndex])}`);
    controls.gamma.setAttribute("aria-valuetext", `gamma ${gammaText(manifest.gammas[state.gammaIndex])}`);
  }

  function update() {
    syncControls();
    const next = drawing.catch(() => null).then(draw); // one draw at a time, in order
    drawing = next;
    next.catch(fail);
    return next;
  }

  function fail(err) {
    const box = $("dx-error");
    if (box) { box.hidden = false; box.textContent = `The explorer could not show this setting: ${err.message || err}`; }
    console.error("depth explorer:", err);
  }

  function set(partial) {
    Object.assign(state, partial);
    return update();
  }

  async function init() {
    const r = await fetch(base + "manifest.json");
    if (!r.ok) throw new Error(`HTTP ${r.status} for manifest.json`);
    manifest = await r.json();
    if (manifest.format !== FORMAT) throw new Error(`data format ${manifest.format}, this page reads ${FORMAT}`);
    controls.depth.max = String(manifest.depths.length - 1);
    controls.gamma.max = String(manifest.gammas.length - 1);
    state.depthIndex = 0;
    state.gammaIndex = Math.max(0, manifest.gammas.indexOf(0.25));
    const ticks = $("dx-gamma-ticks");
    if (ticks) ticks.innerHTML = manifest.gammas.map((g) => `<option value="${manifest.gammas.indexOf(g)}" label="${gammaText(g)}"></option>`).join("");
    controls.depth.addEventListener("input", () => set({ depthIndex: Number(controls.depth.value) }));
    controls.gamma.addEventListener("input", () => set({ gammaIndex: Number(controls.gamma.value) }));
    controls.arch.forEach((el) => el.addEventListener("change", () => el.checked && set({ arch: el.value })));
    controls.trained.forEach((el) => el.addEventListener("change", () => el.checked && set({ trained: el.value })));
    // Redraw in the other colours when the reader switches the theme (light / dark).
    new MutationObserver(() => update()).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
    await update();
    return manifest;
  }

  const ready = init().catch((err) => { fail(err); throw err; });
  window.depthExplorer = {
    ready,
    state,
    get manifest() { return manifest; },
    shown: () => lastShown,
    set,
    settled: () => drawing,
  };
})();
