"""Blocked and sharded evaluation: 4 forced host devices (subprocess) agree with one device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import companion  # noqa: F401
from companion.kernels import ffnet_kernels, resnet_kernels

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import jax
    import companion
    from companion.kernels import ffnet_kernels, resnet_kernels
    jax.config.update("jax_enable_x64", True)  # as the test session (conftest): float64 results stay on the devices
    assert jax.device_count() == 4, jax.devices()
    x = np.random.default_rng(0).normal(size=(37, 6))
    y = np.random.default_rng(1).normal(size=(23, 6))
    out, info = {}, {}
    for method in ("recursion", "depthfree"):
        for rows in (None, 8):
            for name, fn in (("ff", lambda a, b, **k: ffnet_kernels(a, b, depth=40, **k)),
                             ("res", lambda a, b, **k: resnet_kernels(a, b, depth=40, alpha=0.3, trained="all", **k))):
                for same in (True, False):
                    k = fn(x, None if same else y, method=method, block_rows=rows)
                    key = f"{name}-{method}-{rows}-{same}"
                    out[key + "-nngp"] = np.asarray(k.nngp)
                    out[key + "-ntk"] = np.asarray(k.ntk)
                    info[key] = [type(k.ntk).__name__, len(getattr(k.ntk, "sharding", None).device_set)
                                 if hasattr(k.ntk, "sharding") else 0]
    np.savez(sys.argv[1], **out)
    print(json.dumps(info))
    """
)


def test_four_host_devices_match_one(tmp_path):
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    path = tmp_path / "k.npz"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(path)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    got = np.load(path)
    x = np.random.default_rng(0).normal(size=(37, 6))
    y = np.random.default_rng(1).normal(size=(23, 6))
    for method in ("recursion", "depthfree"):
        for name, fn in (("ff", lambda a, b, **k: ffnet_kernels(a, b, depth=40, **k)),
                         ("res", lambda a, b, **k: resnet_kernels(a, b, depth=40, alpha=0.3, trained="all", **k))):
            for same in (True, False):
                ref = fn(x, None if same else y, method=method)
                for rows in (None, 8):
                    key = f"{name}-{method}-{rows}-{same}"
                    np.testing.assert_allclose(got[key + "-nngp"], np.asarray(ref.nngp), rtol=1e-14, atol=1e-14)
                    np.testing.assert_allclose(got[key + "-ntk"], np.asarray(ref.ntk), rtol=1e-14, atol=1e-14)
                    kind, ndev = info[key]
                    if rows is None:  # one chunk: stays on the devices, sharded over all four
                        assert ndev == 4, (key, info[key])
                    else:  # 37 rows in chunks of 8: assembled in host memory
                        assert kind == "ndarray", (key, info[key])


@pytest.mark.parametrize("rows", [1, 3, 16])
def test_chunked_equals_single_block(rows):
    x = np.random.default_rng(4).normal(size=(19, 4))
    for method in ("recursion", "depthfree"):
        a = resnet_kernels(x, depth=30, alpha=0.5, method=method)
        b = resnet_kernels(x, depth=30, alpha=0.5, method=method, block_rows=rows, out="host")
        assert isinstance(b.ntk, np.ndarray)
        # equal up to the Gram matrix's rounding (a different matmul blocking)
        np.testing.assert_allclose(np.asarray(a.ntk), b.ntk, rtol=1e-14)
        np.testing.assert_allclose(np.asarray(a.nngp), b.nngp, rtol=1e-14)
    with pytest.raises(ValueError, match="^out="):
        ffnet_kernels(x, depth=3, block_rows=4, out="device")
