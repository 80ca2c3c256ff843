"""The Colab notebooks stay in sync with the chapter sources and start with the install cell."""

from __future__ import annotations

import json

from companion.book import build
from companion.book import colab


def test_every_chapter_has_an_up_to_date_colab_notebook():
    assert build.chapter_names(), "no chapters found"
    assert colab.stale() == [], "run `make colab` to regenerate the Colab notebooks"


def test_install_cell_first_and_pins_jax():
    for chapter in build.chapter_names():
        nb = json.loads(colab.path(chapter).read_text())
        first = "".join(nb["cells"][0]["source"])
        assert '"jax==0.5.3"' in first and '"jaxlib==0.5.3"' in first and "google.colab" in first
        assert "remove-cell" in nb["cells"][0]["metadata"]["tags"]
        assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb["cells"])
        assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")
