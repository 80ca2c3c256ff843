"""companion.util.threads: OpenBLAS thread count set and restored."""

import numpy as np
import pytest

from companion.util import threads as T


def test_blas_threads_sets_and_restores():
    np.linalg.eigh(np.eye(3))  # make sure NumPy's BLAS is loaded
    libs = T.openblas_libraries()
    if not libs:
        pytest.skip("no OpenBLAS loaded (another BLAS): blas_threads does nothing")
    get = T.thread_getter(libs[0])
    before = get()
    with T.blas_threads(1):
        assert get() == 1
    assert get() == before
    with pytest.raises(ValueError, match="n=0"):
        T.blas_threads(0)
