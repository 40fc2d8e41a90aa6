"""Keep environment.yml (conda, mamba, Binder) on the same pins as the pip path.

environment.yml may name only Python and pip; every other version comes from
requirements.txt, which it includes, so the two installs cannot drift apart.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ENVIRONMENT = ROOT / "environment.yml"

PIP_SECTION = ["-r requirements.txt", "-e ."]
MOVE_IT = "add it to requirements.in and re-lock requirements.txt instead, so conda and pip users get the same version"


def canonical(name: str) -> str:
    """Normalise a distribution name the way pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lines(path: Path) -> list[str]:
    """Return the requirement lines of a pip requirements file, without comments or blanks."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def parse_pin(line: str) -> tuple[str, str | None]:
    """Split 'name[extras]==1.2' into ('name', '1.2'); the version is None when not pinned exactly."""
    match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(?:==\s*([^\s;]+))?.*", line)
    assert match, f"cannot read requirement line {line!r}"
    return canonical(match.group(1)), match.group(3)


@pytest.fixture(scope="module")
def environment() -> dict:
    """Load environment.yml as conda would."""
    loaded = yaml.safe_load(ENVIRONMENT.read_text())
    assert isinstance(loaded, dict), "environment.yml must be a mapping with name, channels and dependencies"
    return loaded


def conda_packages(environment: dict) -> list[str]:
    """Return the plain conda dependencies (strings), leaving out the pip section."""
    return [dep for dep in environment["dependencies"] if isinstance(dep, str)]


def test_environment_names_python_pip_and_a_pip_section(environment):
    assert environment["name"] == "resilient-api-workbook"
    assert environment["channels"] == ["conda-forge"]
    pip_sections = [dep for dep in environment["dependencies"] if isinstance(dep, dict)]
    assert len(pip_sections) == 1 and list(pip_sections[0]) == ["pip"]
    assert "pip" in conda_packages(environment), "conda needs pip itself to install the pip section"


def test_pip_section_installs_the_lock_and_the_project(environment):
    (section,) = (dep["pip"] for dep in environment["dependencies"] if isinstance(dep, dict))
    assert section == PIP_SECTION, f"environment.yml's pip section should be exactly {PIP_SECTION}; {MOVE_IT}"
    assert (ENVIRONMENT.parent / "requirements.txt").is_file(), "-r requirements.txt is read beside environment.yml"


def test_conda_adds_no_packages_of_its_own(environment):
    extra = [dep for dep in conda_packages(environment) if re.split(r"[=<>!\s]", dep)[0] not in {"python", "pip"}]
    assert not extra, f"environment.yml pins {extra} through conda; {MOVE_IT}"


def test_python_matches_the_lock_and_pyproject(environment):
    (python,) = [dep for dep in conda_packages(environment) if re.match(r"python\b", dep)]
    assert python == "python=3.11", "requirements.txt was locked on Python 3.11; re-lock before moving"
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11"


def test_every_direct_dependency_is_locked():
    locked = dict(parse_pin(line) for line in requirement_lines(ROOT / "requirements.txt"))
    missing, differ = [], []
    for line in requirement_lines(ROOT / "requirements.in"):
        name, wanted = parse_pin(line)
        if name not in locked:
            missing.append(name)
        elif wanted and wanted != locked[name]:
            differ.append(f"{name} ({wanted} in requirements.in, {locked[name]} in requirements.txt)")
    assert not missing, f"requirements.in names {missing}, which requirements.txt does not pin; re-lock it"
    assert not differ, f"requirements.in and requirements.txt disagree: {differ}; re-lock it"


def test_lock_pins_every_package_exactly():
    loose = [line for line in requirement_lines(ROOT / "requirements.txt") if parse_pin(line)[1] is None]
    assert not loose, f"requirements.txt should pin with == only; loose lines: {loose}"


def test_binder_reads_the_root_environment():
    # repo2docker reads only binder/ when that folder exists, and would then ignore environment.yml.
    assert not (ROOT / "binder").exists() or (ROOT / "binder" / "environment.yml").exists()
