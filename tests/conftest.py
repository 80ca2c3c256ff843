"""Shared fixtures: the smoke-scale book (every chapter executed at ``scale="smoke"`` and built once)."""

from __future__ import annotations

import os
from pathlib import Path

import jax
import pytest

ROOT = Path(__file__).resolve().parents[1]

# Importing companion no longer switches JAX's x64 mode on (issue 12). The package code outside the
# kernels (finite networks, regression, chapters) and its tests were written for float64 JAX arrays,
# so the whole test session runs with x64 on, set here once before any test module creates an array.
# Tests of the x64-off behaviour use the ``x64_off`` fixture, which switches it off and restores it.
jax.config.update("jax_enable_x64", True)


def _x64(value: bool):
    """Switch ``jax_enable_x64`` to ``value`` for one test, restoring the previous value afterwards."""
    before = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", value)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", before)


@pytest.fixture
def x64_off():
    """Run one test with ``jax_enable_x64`` off (as in a fresh process), restoring the previous value."""
    yield from _x64(False)


@pytest.fixture
def x64_on():
    """Run one test with ``jax_enable_x64`` on, restoring the previous value."""
    yield from _x64(True)


@pytest.fixture(scope="session")
def smoke_chapters(tmp_path_factory):
    """Every chapter executed at smoke scale into a fresh cache: ``{chapter: Executed}``."""
    from companion.book import build

    cache = tmp_path_factory.mktemp("chapter-cache")
    return {name: build.execute(name, "smoke", cache_dir=cache) for name in build.chapter_names()}


@pytest.fixture(scope="session")
def smoke_book(smoke_chapters, tmp_path_factory):
    """The HTML book built strictly (-W -n) from the smoke chapters; returns the html folder."""
    from companion.book import build

    stage = build.stage(list(smoke_chapters.values()), tmp_path_factory.mktemp("stage") / "book")
    index = build.build_html(stage, tmp_path_factory.mktemp("out"), strict=True)
    return index.parent


def pytest_configure(config):
    # Chapters executed by tests must not pick up a developer's output folder.
    os.environ.setdefault("COMPANION_OUTPUT", str(ROOT / "build" / "test-output"))
