"""Shared fixtures: the smoke-scale book (every chapter executed at ``scale="smoke"`` and built once)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


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
