"""Run NumPy's linear algebra (OpenBLAS) on a given number of threads, then restore.

Many small eigendecompositions (n ~ 500-2000) run faster on one thread than on several when the machine's
cores are shared with other processes: OpenBLAS's threads then wait for each other, and one call can take
ten times longer. :class:`blas_threads` sets the thread count of every OpenBLAS library loaded in this
process (found in ``/proc/self/maps`` on Linux) and restores it on exit. Without OpenBLAS (another BLAS,
or not on Linux) it does nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from companion.util import validate as check

__all__ = ["blas_threads", "openblas_libraries"]

_SET = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads_64_", "scipy_openblas_set_num_threads",
        "openblas_set_num_threads64_", "openblas_set_num_threads")
_GET = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads_64_", "scipy_openblas_get_num_threads",
        "openblas_get_num_threads64_", "openblas_get_num_threads")


def openblas_libraries() -> list[Any]:
    """The OpenBLAS libraries loaded in this process (Linux: from ``/proc/self/maps``), as ctypes handles;
    ``[]`` where that file cannot be read."""
    import ctypes

    try:
        with open("/proc/self/maps") as f:
            names = {line.split()[-1] for line in f if len(line.split()) >= 6}
    except OSError:
        return []
    paths = sorted(n for n in names if "openblas" in Path(n).name.lower() and ".so" in Path(n).name)
    libs = []
    for path in paths:
        try:
            libs.append(ctypes.CDLL(path))
        except OSError:
            continue
    return libs


def thread_getter(lib: Any) -> Any:
    """The ``get_num_threads`` function of an OpenBLAS handle (returning an int), or ``None``."""
    import ctypes

    get = next((getattr(lib, g) for g in _GET if hasattr(lib, g)), None)
    if get is not None:
        get.restype = ctypes.c_int
    return get


class blas_threads:
    """Context manager: run OpenBLAS (NumPy's linear algebra) on ``n`` threads, then restore.

    Raises:
      ValueError: ``n`` is not an integer >= 1.
    """

    def __init__(self, n: int = 1):
        self.n = check.integer("n", n, minimum=1)
        self._restore: list[tuple[Any, int]] = []

    def __enter__(self) -> "blas_threads":
        import ctypes

        for lib in openblas_libraries():
            get = thread_getter(lib)
            put = next((getattr(lib, p) for p in _SET if hasattr(lib, p)), None)
            if get is None or put is None:
                continue
            before = int(get())
            put.argtypes = [ctypes.c_int]
            put(self.n)
            self._restore.append((put, before))
        return self

    def __exit__(self, *exc: Any) -> bool:
        for put, before in self._restore:
            put(before)
        self._restore = []
        return False
