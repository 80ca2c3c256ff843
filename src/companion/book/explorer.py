"""Data of the book's "Depth explorer" page: normalised kernels tabulated over depth, branch scaling and
trained setting, plus the normalised NTK Gram matrix of real MNIST test images at every tabulated depth.

The page lets a reader move through depth ``L`` (1 to 10^5, log scale), the branch-scaling exponent
``gamma`` (``alpha = L^-gamma``), the architecture and the trained setting without any server: every
value it plots is computed here, at build time, by :mod:`companion.kernels`, and stored in compact
binary files. The browser only looks values up (it snaps to the tabulated depths; it
never interpolates between depths), so the curves it shows equal the package's float64 values to
float32 rounding (``<= 6e-8`` for values in ``[-1, 1]``) and the Gram entries to ``GRAM_TOLERANCE``.

Files written by :func:`write` into one folder (the site serves it as ``_static/explorer/data``):

``manifest.json``
    ``format`` (:data:`FORMAT`), the grids (``depths``, ``gammas``, ``trained``, ``rho``), the images
    (MNIST test indices and labels, sorted by class, and their pair correlations), the Gram series'
    range and degree (``gram``; ``zmin``/``zmax``: the off-diagonal entries' range over every setting, to
    0.05), the reference curves (depth limits), and one entry
    per setting: its file, sha256, ``alpha`` at each depth and the numbers the page prints
    (``distance``, ``effective_rank``, ``effective_rank_nngp``, ``nugget_distance``, ``constant``; one
    per depth).
``<setting id>.bin``
    per depth, the normalised NTK and NNGP on the ``rho`` grid (float32), and the Chebyshev coefficients
    (float64) of the normalised NTK Gram entries as a function of the pair correlation, which reproduce
    every entry to ``GRAM_TOLERANCE`` (see :func:`encode` and :class:`GramBasis`).

Settings: the FFNet (all ``L + 1`` weight matrices trained; ``gamma`` does not apply) and the ResNet
"model H" for every ``gamma`` in :data:`GAMMAS` and ``trained`` in ``("hidden", "all")``.

Source of the kernels and limits: the closed forms of chapters 2 to 4 (Huang et al. 2020; Tian & Yu 2024),
as implemented in :func:`companion.kernels.ffnet_normalized`, :func:`~companion.kernels.resnet_normalized`,
:func:`~companion.kernels.ffnet_limit`, :func:`~companion.kernels.resnet_limit`,
:func:`~companion.kernels.depth1_limit` and :func:`~companion.kernels.ode_limit`.
"""

from __future__ import annotations

import gzip
import hashlib
import inspect
import json
import math
import numbers
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from companion import data
from companion import kernels as K
from companion.book.paths import BUILD, ROOT
from companion.util.storage import Cache, atomic_write_bytes, atomic_write_text

FORMAT = 2  # bump when the file layout changes (the page checks it)
TABLE_VERSION = 1  # bump when what a setting's table holds changes (part of the cache key)
GAMMAS: tuple[float, ...] = tuple(i / 8 for i in range(9))  # 0, 1/8, ..., 1: includes 1/4, 1/2, 3/4, 1
TRAINED: tuple[str, ...] = ("hidden", "all")
ARCHS: tuple[str, ...] = ("ffnet", "resnet")
N_DEPTHS = 60
MAX_DEPTH = 100_000
RHO_POINTS = 201
PER_CLASS = 3  # MNIST test images per digit: 30 images, 435 distinct pairs
DISTANCE_RHO = (-0.9, 0.99)  # the correlations over which the distance to the limit is taken (as chapter 3)
SEED = 0
N_TRAIN_MEAN = 1000  # training images whose mean image is subtracted before projecting onto the sphere

CACHE = BUILD / "cache" / "explorer"
PLOTLY_PACKAGE = ROOT / "node_modules" / "plotly.js-cartesian-dist-min"
PLOTLY_FILE = "plotly-cartesian.min.js"


# --------------------------------------------------------------------------------------------- checks


def _fail(name: str, value: Any, allowed: str) -> ValueError:
    text = repr(value)
    return ValueError(f"{name}={text if len(text) <= 80 else text[:77] + '...'} is invalid; allowed: {allowed}")


def _integer(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    ok = isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))
    allowed = f"an integer >= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
    if not ok or value < minimum or (maximum is not None and value > maximum):
        raise _fail(name, value, allowed)
    return int(value)


def _gamma(value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise _fail("gamma", value, "a finite real number in [0, 1]")
    g = float(value)
    if not (math.isfinite(g) and 0.0 <= g <= 1.0):
        raise _fail("gamma", value, "a finite real number in [0, 1]")
    return g


def _rho(name: str, value: Any) -> np.ndarray:
    r = np.asarray(value, dtype=np.float64)
    if r.ndim != 1 or r.size == 0 or not np.all(np.isfinite(r)) or r.min() < -1.0 or r.max() > 1.0:
        raise _fail(name, f"array of shape {r.shape} in [{np.nanmin(r) if r.size else 'empty'}, "
                    f"{np.nanmax(r) if r.size else 'empty'}]", "a non-empty 1-D array of finite values in [-1, 1]")
    return r


# ------------------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Setting:
    """One curve family of the page: ``arch`` "ffnet" or "resnet"; for the ResNet the branch scaling
    ``alpha = L^-gamma`` (``gamma`` in [0, 1]) and which weights are trained ("hidden": only the blocks'
    ``W_l, V_l``, the papers' setting; "all": also the input and readout layers). The FFNet trains all
    its layers; its ``gamma`` is ``None`` and ``trained`` is "all".

    Raises:
      ValueError: unknown ``arch`` or ``trained``, ``gamma`` outside [0, 1], or a ``gamma`` for the FFNet.
    """

    arch: str
    gamma: float | None = None
    trained: str = "all"

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise _fail("arch", self.arch, "one of " + ", ".join(map(repr, ARCHS)))
        if self.trained not in TRAINED:
            raise _fail("trained", self.trained, "one of " + ", ".join(map(repr, TRAINED)))
        if self.arch == "ffnet":
            if self.gamma is not None or self.trained != "all":
                raise _fail("gamma", self.gamma, "None with trained='all' for the FFNet (every layer is trained; "
                            "it has no branch scaling)")
        else:
            object.__setattr__(self, "gamma", _gamma(self.gamma))

    @property
    def id(self) -> str:
        """File-name-safe id: ``"ffnet"`` or ``"resnet-g0.25-hidden"``."""
        return "ffnet" if self.arch == "ffnet" else f"resnet-g{self.gamma:g}-{self.trained}"

    def alpha(self, depth: int) -> float:
        """The branch scaling ``L^-gamma`` at ``depth`` (``nan`` for the FFNet, which has none)."""
        depth = _integer("depth", depth, 1)
        return math.nan if self.arch == "ffnet" else float(depth) ** -self.gamma

    def kernels(self, rho, depth: int) -> tuple[np.ndarray, np.ndarray]:
        """Normalised ``(nngp, ntk)`` at input correlations ``rho`` (1-D, in [-1, 1]) and ``depth >= 1``,
        float64 arrays of ``rho``'s shape, from :func:`companion.kernels.ffnet_normalized` /
        :func:`companion.kernels.resnet_normalized` (layer recursion)."""
        depth = _integer("depth", depth, 1)
        r = _rho("rho", rho)
        if self.arch == "ffnet":
            k = K.ffnet_normalized(r, depth)
        else:
            k = K.resnet_normalized(r, depth, self.alpha(depth), self.trained)
        return np.asarray(k.nngp, dtype=np.float64), np.asarray(k.ntk, dtype=np.float64)

    def limit(self, rho) -> tuple[np.ndarray, np.ndarray]:
        """Depth limit ``(nngp, ntk)`` of the normalised kernels at ``rho`` (eq-03-limits and eq-04-ode):
        FFNet and ResNet ``gamma < 1/2``: 1/4 + nugget; ``gamma = 1/2``: the ODE limit; ``gamma > 1/2``:
        the depth-1 kernel (hidden) or ``rho`` (all)."""
        r = _rho("rho", rho)
        k = K.ffnet_limit(r) if self.arch == "ffnet" else K.resnet_limit(r, self.gamma, self.trained)
        return np.asarray(k.nngp, dtype=np.float64), np.asarray(k.ntk, dtype=np.float64)


def settings(gammas: Sequence[float] = GAMMAS) -> list[Setting]:
    """The FFNet, then the ResNet for each ``gamma`` (outer) and trained setting (inner)."""
    return [Setting("ffnet")] + [Setting("resnet", g, t) for g in gammas for t in TRAINED]


def depth_grid(n: int = N_DEPTHS, max_depth: int = MAX_DEPTH) -> np.ndarray:
    """``n`` distinct integer depths from 1 to ``max_depth``, as evenly spaced in ``log L`` as integers
    allow: ``L_i = max(round(max_depth^(i / (n - 1))), L_(i-1) + 1)``. Shape ``(n,)``, int64.

    Raises:
      ValueError: ``n < 2``, or ``max_depth < n`` (not enough distinct integers).
    """
    n = _integer("n", n, 2)
    max_depth = _integer("max_depth", max_depth, n)
    out = [1]
    for i in range(1, n):
        out.append(max(int(round(max_depth ** (i / (n - 1)))), out[-1] + 1))
    if out[-1] != max_depth:  # pragma: no cover - the spacing grows geometrically, so the last is exact
        raise RuntimeError(f"depth grid ends at {out[-1]}, not {max_depth}")
    return np.array(out, dtype=np.int64)


def rho_grid(points: int = RHO_POINTS) -> np.ndarray:
    """``points`` input correlations evenly spaced in [-1, 1] (both ends included), shape ``(points,)``."""
    return np.linspace(-1.0, 1.0, _integer("points", points, 3))


# --------------------------------------------------------------------------------------------- images


@dataclass(frozen=True)
class Images:
    """MNIST test images on the unit sphere, sorted by digit.

    ``x`` ``(n, 784)`` float64 unit rows; ``labels`` ``(n,)`` digits; ``index`` ``(n,)`` positions in the
    MNIST test set; ``rho`` ``(n, n)`` their correlations ``<x_i, x_j>`` (clipped to [-1, 1]);
    ``describe``: one line on where they come from and how they were preprocessed.
    """

    x: np.ndarray
    labels: np.ndarray
    index: np.ndarray
    rho: np.ndarray
    describe: str
    preprocessing: str

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    def pairs(self) -> np.ndarray:
        """The correlations of the distinct pairs ``i < j`` in ``numpy.triu_indices(n, 1)`` order."""
        i, j = np.triu_indices(self.n, 1)
        return self.rho[i, j]


def mnist_images(per_class: int = PER_CLASS, seed: int = SEED, raw=None) -> Images:
    """``per_class`` MNIST test images of each digit (drawn with ``seed``), preprocessed as in chapter 3:
    pixels / 255, flattened, centred by the mean of ``N_TRAIN_MEAN`` training images, projected onto the
    unit sphere (:func:`companion.data.prepare`); sorted by digit (stable within a digit).

    Raises:
      ValueError: ``per_class`` not in 1..50, or ``seed`` negative.
      companion.data.DataNotFoundError: no verified MNIST copy (see :func:`companion.data.load`).
    """
    per_class = _integer("per_class", per_class, 1, 50)
    seed = _integer("seed", seed, 0)
    ds = data.prepare("mnist", None, N_TRAIN_MEAN, 10 * per_class, seed=seed, balanced=True, raw=raw)
    order = np.argsort(ds.labels_test, kind="stable")
    x = np.asarray(ds.x_test, dtype=np.float64)[order]
    rho = np.clip(x @ x.T, -1.0, 1.0)
    np.fill_diagonal(rho, 1.0)
    return Images(x, np.asarray(ds.labels_test)[order].astype(np.int64), np.asarray(ds.index_test)[order].astype(np.int64),
                  rho, ds.describe(), ds.meta["preprocessing"])


def gram_from_pairs(pairs: np.ndarray, n: int) -> np.ndarray:
    """The symmetric ``(n, n)`` matrix with ones on the diagonal and ``pairs`` (``n (n - 1) / 2`` entries in
    ``numpy.triu_indices(n, 1)`` order) off it.

    Raises:
      ValueError: ``pairs`` has the wrong length.
    """
    n = _integer("n", n, 1)
    p = np.asarray(pairs, dtype=np.float64).ravel()
    if p.size != n * (n - 1) // 2:
        raise _fail("pairs", f"array of {p.size} entries", f"n (n - 1) / 2 = {n * (n - 1) // 2} entries for n = {n}")
    g = np.eye(n)
    i, j = np.triu_indices(n, 1)
    g[i, j] = p
    g[j, i] = p
    return g


# ---------------------------------------------------------------------------------------------- tables


def distance_to_limit(ntk: np.ndarray, limit: np.ndarray, rho: np.ndarray, lo: float = DISTANCE_RHO[0],
                      hi: float = DISTANCE_RHO[1]) -> float:
    """``max |ntk - limit|`` over the grid points with ``lo <= rho <= hi`` (normalised units; the sup
    distance of chapter 3). Excluding ``rho`` near 1 leaves out the boundary layer of width ~ ``1/L^2``
    next to the diagonal, where every kernel is 1.

    Raises:
      ValueError: shapes differ, or no grid point lies in ``[lo, hi]``.
    """
    ntk, limit, rho = (np.asarray(a, dtype=np.float64) for a in (ntk, limit, rho))
    if not (ntk.shape == limit.shape == rho.shape):
        raise _fail("ntk", f"arrays of shapes {ntk.shape}, {limit.shape}, {rho.shape}", "ntk, limit and rho of one shape")
    keep = (rho >= lo) & (rho <= hi)
    if not keep.any():
        raise _fail("rho", f"no point in [{lo}, {hi}]", "a grid with at least one point in [lo, hi]")
    return float(np.max(np.abs(ntk[keep] - limit[keep])))


def setting_table(setting: Setting, depths: np.ndarray, rho: np.ndarray, images: Images,
                  log: Callable[[str], None] | None = None) -> dict[str, np.ndarray]:
    """Every value the page shows for one setting, in float64.

    Returns ``{"ntk", "nngp"}`` ``(len(depths), len(rho))``, ``"gram"`` ``(len(depths), n_pairs)`` (the
    normalised NTK of each image pair), ``"distance"`` (sup distance of the NTK to its depth limit over
    ``DISTANCE_RHO``), ``"effective_rank"`` (entropy effective rank of the normalised NTK Gram matrix,
    between 1 and ``n``), ``"effective_rank_nngp"`` (the same for the normalised NNGP Gram matrix),
    ``"nugget_distance"`` (its RMS distance from "constant + nugget",
    :func:`companion.kernels.constant_kernel_distance`), ``"constant"`` (its mean off-diagonal entry) and
    ``"alpha"``, each ``(len(depths),)``.
    """
    pairs = images.pairs()
    points = np.concatenate([rho, pairs])
    _, lim_ntk = setting.limit(rho)
    out: dict[str, list] = {k: [] for k in ("ntk", "nngp", "gram", "distance", "effective_rank", "effective_rank_nngp",
                                            "nugget_distance", "constant", "alpha")}
    for L in depths:
        nngp, ntk = setting.kernels(points, int(L))
        curve = ntk[: rho.size]
        gram = gram_from_pairs(ntk[rho.size :], images.n)
        out["ntk"].append(curve)
        out["nngp"].append(nngp[: rho.size])
        out["gram"].append(ntk[rho.size :])
        out["distance"].append(distance_to_limit(curve, lim_ntk, rho))
        out["effective_rank"].append(K.effective_rank(gram))
        out["effective_rank_nngp"].append(K.effective_rank(gram_from_pairs(nngp[rho.size :], images.n)))
        out["nugget_distance"].append(K.constant_kernel_distance(gram))
        out["constant"].append(float(gram[~np.eye(images.n, dtype=bool)].mean()))
        out["alpha"].append(setting.alpha(int(L)))
    if log is not None:
        log(f"[explorer] {setting.id}: {len(depths)} depths")
    return {k: np.array(v, dtype=np.float64) for k, v in out.items()}


def _kernel_code_fingerprint() -> str:
    """sha256 over the source of :mod:`companion.kernels` and of the functions here that compute a table
    (part of the cache key: a change to either recomputes; editing a docstring elsewhere does not)."""
    h = hashlib.sha256()
    for p in sorted(Path(K.__file__).parent.glob("*.py")):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    for obj in (Setting, setting_table, distance_to_limit, gram_from_pairs, mnist_images, _rho, _gamma, _integer):
        h.update(inspect.getsource(obj).encode() + b"\0")
    return h.hexdigest()


# ------------------------------------------------------------------------------------------- writing


def _round(values, digits: int = 8) -> list:
    return [round(float(v), digits) for v in np.asarray(values, dtype=np.float64).ravel()]


def _limits(rho: np.ndarray) -> dict[str, Any]:
    """Reference curves: the three depth limits of the normalised NTK and NNGP for both trained settings."""
    ff = K.ffnet_limit(rho)
    out: dict[str, Any] = {"quarter": {"ntk": _round(ff.ntk), "nngp": _round(ff.nngp)}}
    for trained in TRAINED:
        ode, d1 = K.ode_limit(rho, trained), K.depth1_limit(rho, trained)
        out[f"ode-{trained}"] = {"ntk": _round(ode.ntk), "nngp": _round(ode.nngp)}
        out[f"depth1-{trained}"] = {"ntk": _round(d1.ntk), "nngp": _round(d1.nngp)}
    return out


def _planes(a: np.ndarray) -> bytes:
    """The bytes of ``a`` (little-endian) split into ``itemsize`` planes: every value's byte 0, then every
    byte 1, ...; smooth values share their high bytes, which then compress well."""
    a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
    return a.view(np.uint8).reshape(-1, a.itemsize).T.tobytes()


def _unplanes(data: bytes, dtype: str, count: int) -> np.ndarray:
    size = np.dtype(dtype).itemsize
    raw = np.frombuffer(data, dtype=np.uint8).reshape(size, count).T.copy()
    return raw.view(dtype).ravel()


@dataclass(frozen=True)
class GramBasis:
    """How the page evaluates the Gram entries: a Chebyshev series in the pair correlation.

    The normalised kernel of two unit inputs is a function of their correlation alone, so at each depth
    the ``n (n - 1) / 2`` off-diagonal entries are ``k_L(rho_ij)``. On ``[lo, hi]`` (the range of the
    ``rho_ij``, far from the singular points ``rho = +-1``) ``k_L`` is analytic and a degree-``degree``
    Chebyshev series in ``t = (2 rho - lo - hi) / (hi - lo)`` fitted by least squares to the exact values
    reproduces every entry to ``max_error`` (checked at every depth of every setting; about 1e-11).
    """

    lo: float
    hi: float
    degree: int

    def t(self, rho) -> np.ndarray:
        """The Chebyshev variable of correlations ``rho`` (``[lo, hi]`` -> ``[-1, 1]``)."""
        return (2.0 * np.asarray(rho, dtype=np.float64) - (self.lo + self.hi)) / (self.hi - self.lo)

    def fit(self, values: np.ndarray, rho: np.ndarray) -> tuple[np.ndarray, float]:
        """Coefficients ``(depths, degree + 1)`` fitted to ``values`` ``(depths, pairs)`` at ``rho``
        ``(pairs,)``, and the largest error of the series at those points."""
        t = self.t(rho)
        coef = np.polynomial.chebyshev.chebfit(t, np.asarray(values, dtype=np.float64).T, self.degree).T
        err = float(np.max(np.abs(self.evaluate(coef, rho) - values))) if values.size else 0.0
        return np.ascontiguousarray(coef), err

    def evaluate(self, coef: np.ndarray, rho: np.ndarray) -> np.ndarray:
        """The series ``(depths, pairs)`` at ``rho`` (Clenshaw, float64, as the page computes it)."""
        return np.polynomial.chebyshev.chebval(self.t(rho), np.asarray(coef, dtype=np.float64).T)


GRAM_DEGREE = 20
GRAM_TOLERANCE = 1e-9  # largest error allowed of the Gram series at the images' correlations


def gram_basis(images: Images, degree: int = GRAM_DEGREE) -> GramBasis:
    """The :class:`GramBasis` spanning the images' pair correlations (``degree`` in 1..60).

    Raises:
      ValueError: ``degree`` out of range, or fewer than ``degree + 1`` distinct pairs.
    """
    degree = _integer("degree", degree, 1, 60)
    pairs = images.pairs()
    if np.unique(pairs).size <= degree:
        raise _fail("degree", degree, f"fewer than the {np.unique(pairs).size} distinct pair correlations")
    return GramBasis(float(pairs.min()), float(pairs.max()), degree)


def encode(table: dict[str, np.ndarray], basis: GramBasis, rho_pairs: np.ndarray) -> bytes:
    """The ``.bin`` payload of one setting: gzip (level 9, no time stamp, so the bytes are reproducible) of

    1. the float32 array ``[ntk | nngp]``, shape ``(depths, 2 rho)``, as byte planes (:func:`_planes`);
    2. the float64 Chebyshev coefficients of the Gram entries, shape ``(depths, degree + 1)``, as byte
       planes (see :class:`GramBasis`).

    Raises:
      ValueError: the series misses a Gram entry at ``rho_pairs`` by more than ``GRAM_TOLERANCE``.
    """
    curves = np.concatenate([table["ntk"], table["nngp"]], axis=1).astype("<f4")
    coef, err = basis.fit(table["gram"], rho_pairs)
    if not err <= GRAM_TOLERANCE:
        raise _fail("table['gram']", f"a Chebyshev series of degree {basis.degree} with error {err:.3g}",
                    f"an error <= {GRAM_TOLERANCE} (raise GRAM_DEGREE)")
    return gzip.compress(_planes(curves) + _planes(coef.astype("<f8")), compresslevel=9, mtime=0)


def decode(payload: bytes, n_depths: int, n_rho: int, basis: GramBasis, rho_pairs: np.ndarray) -> dict[str, np.ndarray]:
    """Inverse of :func:`encode`, exactly as the page decodes the file: ``{"ntk", "nngp"}`` float32
    ``(n_depths, n_rho)``, ``"coef"`` ``(n_depths, degree + 1)`` and ``"gram"`` ``(n_depths, pairs)``
    (the series evaluated at ``rho_pairs``, float64).

    Raises:
      ValueError: the payload is not gzip data or its size does not match the shapes.
    """
    n_coef = basis.degree + 1
    try:
        data = gzip.decompress(payload)
    except (OSError, EOFError) as exc:
        raise _fail("payload", f"{len(payload)} bytes that are not gzip data ({exc})", "a file written by encode()") from None
    n_curves = n_depths * 2 * n_rho
    expected = 4 * n_curves + 8 * n_depths * n_coef
    if len(data) != expected:
        raise _fail("payload", f"{len(data)} bytes uncompressed",
                    f"4 * {n_depths} * 2 * {n_rho} + 8 * {n_depths} * {n_coef} = {expected} bytes")
    curves = _unplanes(data[: 4 * n_curves], "<f4", n_curves).reshape(n_depths, 2 * n_rho)
    coef = _unplanes(data[4 * n_curves :], "<f8", n_depths * n_coef).reshape(n_depths, n_coef)
    return {"ntk": curves[:, :n_rho], "nngp": curves[:, n_rho:], "coef": coef,
            "gram": basis.evaluate(coef, rho_pairs)}


def write(folder: Path, *, depths: np.ndarray | None = None, gammas: Sequence[float] = GAMMAS,
          rho_points: int = RHO_POINTS, per_class: int = PER_CLASS, cache_dir: Path | None = CACHE,
          images: Images | None = None, log: Callable[[str], None] | None = print) -> Path:
    """Compute (or take from the cache) every setting's table and write the page's data into ``folder``.

    Args:
      folder: output folder (created); its ``manifest.json`` and ``*.bin`` files are replaced atomically.
      depths: increasing integer depths >= 1 (default :func:`depth_grid`: 60 depths, 1 to 10^5).
      gammas: distinct ResNet exponents in [0, 1] (default :data:`GAMMAS`).
      rho_points: size of the correlation grid in [-1, 1] (>= 3).
      per_class: MNIST test images per digit (the Gram matrix has ``10 per_class`` rows).
      cache_dir: a :class:`companion.util.storage.Cache` folder keyed by the inputs and the kernel code (``None``:
        no cache).
      images: the images to use (default :func:`mnist_images`).
      log: progress messages (``None``: silent).

    Returns:
      The path of ``manifest.json``.

    Raises:
      ValueError: a bad argument (named with its value and the allowed range).
      companion.data.DataNotFoundError: MNIST is not available offline and cannot be downloaded.
    """
    folder = Path(folder)
    depths = depth_grid() if depths is None else np.asarray(depths)
    if depths.ndim != 1 or depths.size < 1 or not np.issubdtype(depths.dtype, np.integer) or depths.min() < 1 \
            or np.any(np.diff(depths) <= 0):
        raise _fail("depths", depths.tolist() if depths.size < 10 else f"array of shape {depths.shape}",
                    "a 1-D increasing array of integers >= 1")
    gammas = [_gamma(g) for g in gammas]
    if len(set(gammas)) != len(gammas):
        raise _fail("gammas", gammas, "distinct values in [0, 1]")
    rho = rho_grid(rho_points)
    images = mnist_images(per_class) if images is None else images
    cache = Cache(cache_dir) if cache_dir is not None else None
    code = _kernel_code_fingerprint()
    basis = gram_basis(images)
    rho_pairs = images.pairs()
    entries = []
    zmin, zmax = math.inf, -math.inf
    names = []
    for s in settings(gammas):
        inputs = {"format": TABLE_VERSION, "setting": [s.arch, s.gamma, s.trained], "depths": depths, "rho": rho,
                  "pairs": images.pairs(), "n": images.n, "code": code}
        compute = lambda s=s: setting_table(s, depths, rho, images, log)  # noqa: E731
        table = cache.get_or_compute(inputs, compute) if cache is not None else compute()
        payload = encode(table, basis, rho_pairs)
        zmin, zmax = min(zmin, float(table["gram"].min())), max(zmax, float(table["gram"].max()))
        name = f"{s.id}.bin"
        atomic_write_bytes(folder / name, payload)
        names.append(name)
        entries.append({
            "id": s.id, "arch": s.arch, "gamma": s.gamma, "trained": s.trained, "file": name,
            "sha256": hashlib.sha256(payload).hexdigest(),
            "alpha": [None if math.isnan(a) else float(a) for a in table["alpha"]],
            "distance": _round(table["distance"]), "effective_rank": _round(table["effective_rank"], 6),
            "effective_rank_nngp": _round(table["effective_rank_nngp"], 6),
            "nugget_distance": _round(table["nugget_distance"]), "constant": _round(table["constant"]),
        })
    manifest = {
        "format": FORMAT,
        "depths": [int(d) for d in depths],
        "gammas": gammas,
        "trained": list(TRAINED),
        "rho": _round(rho, 12),
        "distance_rho": list(DISTANCE_RHO),
        "images": {"n": images.n, "labels": images.labels.tolist(), "mnist_test_index": images.index.tolist(),
                   "pairs_rho": [float(r) for r in rho_pairs], "source": images.describe,
                   "preprocessing": images.preprocessing},
        "gram": {"lo": basis.lo, "hi": basis.hi, "degree": basis.degree,
                 "zmin": math.floor(zmin * 20) / 20, "zmax": math.ceil(zmax * 20) / 20,
                 "t": "(2 rho - lo - hi) / (hi - lo)", "pairs": "numpy.triu_indices(n, 1) order"},
        "layout": "gzip of: float32 [ntk(rho) | nngp(rho)] per depth, then float64 Chebyshev coefficients of the "
                  "Gram entries per depth; each array little-endian, split into byte planes",
        "limits": _limits(rho),
        "settings": entries,
    }
    for old in folder.glob("*.bin"):  # files of settings no longer on the grid
        if old.name not in names:
            old.unlink()
    return atomic_write_text(folder / "manifest.json", json.dumps(manifest, separators=(",", ":")))


def read(folder: Path) -> tuple[dict, dict[str, dict[str, np.ndarray]]]:
    """Read what :func:`write` wrote: ``(manifest, {setting id: decoded table})`` (see :func:`decode`),
    checking each file's sha256.

    Raises:
      FileNotFoundError: no manifest; ValueError: a file does not match its recorded sha256 or size.
    """
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    g = manifest["gram"]
    basis = GramBasis(g["lo"], g["hi"], g["degree"])
    rho_pairs = np.asarray(manifest["images"]["pairs_rho"], dtype=np.float64)
    tables = {}
    for e in manifest["settings"]:
        payload = (folder / e["file"]).read_bytes()
        digest = hashlib.sha256(payload).hexdigest()
        if digest != e["sha256"]:
            raise _fail(f"{e['file']} sha256", digest, f"the recorded {e['sha256']}")
        tables[e["id"]] = decode(payload, len(manifest["depths"]), len(manifest["rho"]), basis, rho_pairs)
    return manifest, tables


# ----------------------------------------------------------------------------------------- the site


def install(stage: Path, *, plotly_package: Path | None = None, log: Callable[[str], None] | None = print,
            **kwargs) -> Path:
    """Put the explorer's data and Plotly into a staged book ``stage``: ``_extra/_static/explorer/data``
    (:func:`write`) and ``_extra/_static/explorer/plotly-cartesian.min.js`` with its licence. Sphinx copies
    ``_extra`` into the site's root (``html_extra_path``), so the page loads them from the site's own
    ``_static/explorer`` (offline). Not ``_static`` itself: Jupyter Book adds every ``.js`` there to every
    page. ``kwargs`` go to :func:`write`. Returns the data folder.

    Raises:
      FileNotFoundError: the Plotly npm package is missing; the message says how to install it.
    """
    pkg = Path(plotly_package) if plotly_package is not None else PLOTLY_PACKAGE
    if not (pkg / PLOTLY_FILE).is_file():
        raise FileNotFoundError(
            f"Plotly not found at {pkg / PLOTLY_FILE}: the depth explorer page serves Plotly itself so that it "
            "works offline. Run `npm ci` in the repository root (`make book` and `make test` do), which installs "
            "the `plotly.js-cartesian-dist-min` package pinned in package-lock.json."
        )
    target = Path(stage) / "_extra" / "_static" / "explorer"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(pkg / PLOTLY_FILE, target / PLOTLY_FILE)
    shutil.copy2(pkg / "LICENSE", target / "plotly-LICENSE.txt")
    folder = target / "data"
    write(folder, log=log, **kwargs)
    return folder


__all__ = ["FORMAT", "GAMMAS", "GramBasis", "Images", "Setting", "decode", "depth_grid", "distance_to_limit", "encode", "gram_basis",
           "gram_from_pairs", "install", "mnist_images", "read", "rho_grid", "setting_table", "settings", "write"]
