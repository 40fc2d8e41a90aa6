"""Fixtures shared by the test files: fresh copies of the learner's oas3/ folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def copy_oas3(source: Path, target: Path) -> Path:
    """Copy `source`/oas3 into `target`/oas3 (caches left behind) and return `target`."""
    shutil.copytree(source / "oas3", target / "oas3", ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.fixture
def starter_copy(tmp_path: Path) -> Path:
    """A folder holding a copy of the untouched starter oas3/, as a learner first gets it."""
    return copy_oas3(REPO / "notebooks", tmp_path / "starter")


@pytest.fixture
def solution_copy(tmp_path: Path) -> Path:
    """A folder holding a copy of the finished oas3/ from solutions/."""
    return copy_oas3(REPO / "solutions", tmp_path / "solution")
