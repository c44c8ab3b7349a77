"""The documentation tells the truth: its examples run and the API pages are current."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS_WITH_EXAMPLES = ["README.md", "docs/guide.md", "docs/tutorial.md"]
FENCE = re.compile(r"```python\n(.*?)```", re.DOTALL)


@pytest.mark.parametrize("name", DOCS_WITH_EXAMPLES)
def test_documented_examples_run_in_order(name, capsys):
    """A page's blocks run top to bottom in one namespace, as a reader would type them."""
    namespace = {"__name__": "__doc_example__"}
    for k, block in enumerate(FENCE.findall((ROOT / name).read_text())):
        exec(compile(block, f"<{name} example {k}>", "exec"), namespace)


def test_every_page_with_examples_has_some():
    found = {name for name in DOCS_WITH_EXAMPLES if FENCE.search((ROOT / name).read_text())}
    assert found == set(DOCS_WITH_EXAMPLES)


def test_api_pages_match_the_docstrings():
    spec = importlib.util.spec_from_file_location("build_api", ROOT / "docs" / "build_api.py")
    build_api = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_api)
    for file_name, text in build_api.pages().items():
        page = ROOT / "docs" / "api" / file_name
        assert page.exists(), f"{page} is missing: run python docs/build_api.py"
        assert page.read_text() == text, f"{page} is stale: run python docs/build_api.py"
