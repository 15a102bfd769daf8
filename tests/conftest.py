"""Shared fixtures: the reference folder and a real mock server per module."""

import os
from pathlib import Path

import pytest

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """../shared/reference (the wire-format reference and the 2024 OpenAPI spec)."""
    if not (REFERENCE / "anthropic-openapi-2024-11.yaml").exists():
        # CI always has shared/ beside the clone: there a missing spec is an error, not a skip.
        if os.environ.get("CI") == "true":
            pytest.fail(f"reference folder not found at {REFERENCE}")
        pytest.skip(f"reference folder not found at {REFERENCE}")
    return REFERENCE
