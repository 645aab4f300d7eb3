"""The import contracts of pyproject.toml ([tool.importlinter]: fronts > services > providers, arrows down only) hold
on a regular install of this tree, as CI runs them (.ci/lint-imports); a bad import breaks the contract named for
it; and a worker's job code loads no front."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import parts

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
LINT = REPO / ".ci" / "lint-imports"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
CONTRACTS = {c["id"]: c for c in PYPROJECT["tool"]["importlinter"]["contracts"]}
FRONTS = ("coditect_magics.magics", "coditect_magics.widgets")


def require_import_linter() -> None:
    """In CI (CI=true) a missing import-linter fails the test; elsewhere the test skips, saying why."""
    parts.require("import-linter", importlib.util.find_spec("importlinter") is not None,
                  "pip install 'import-linter>=2.16' (the dev extra has it)")


def lint(tree: Path, *options: str) -> subprocess.CompletedProcess:
    """.ci/lint-imports on `tree`, with this interpreter; its report unwrapped (one chain link a line)."""
    require_import_linter()
    env = {**os.environ, "PYTHON": sys.executable, "COLUMNS": "400"}
    return subprocess.run(["bash", str(LINT), str(tree), *options], capture_output=True, text=True, env=env,
                          timeout=300)


def copy_tree(destination: Path) -> Path:
    """This tree as it stands (uncommitted work too), without what is not source."""
    shutil.copytree(REPO, destination, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "artifacts"))
    return destination


def test_the_tree_keeps_its_import_contracts():
    result = lint(REPO)
    assert result.returncode == 0, f"broken import contracts:\n{result.stdout}{result.stderr}"
    for contract in CONTRACTS.values():
        assert f"{contract['name']} KEPT" in result.stdout


@pytest.mark.parametrize("module, bad_import, contract, chain", [
    ("coditect_magics/costs/frame.py", "import coditect_magics.magics", "services-not-fronts",
     "coditect_magics.costs.frame -> coditect_magics.magics"),
    ("coditect_magics/workers/jobs.py", "from coditect_magics.widgets import shared", "services-not-fronts",
     "coditect_magics.workers.jobs -> coditect_magics.widgets.shared"),
    ("providers/types.py", "import coditect_magics.costs", "providers-alone",
     "coditect_magics.providers.types -> coditect_magics.costs"),
    ("widgets/shared.py", "from coditect_magics.magics import args", "panels-not-magics",
     "coditect_magics.widgets.shared -> coditect_magics.magics.args"),
], ids=["service-imports-magics", "worker-imports-widgets", "providers-import-a-service", "panel-imports-magics"])
def test_a_bad_import_breaks_the_contract_named_for_it(tmp_path, module, bad_import, contract, chain):
    tree = copy_tree(tmp_path / "tree")
    source = tree / module
    text = source.read_text(encoding="utf-8")
    if not text.endswith("\n"):
        text += "\n"
    line = text.count("\n") + 1
    source.write_text(f"{text}{bad_import}  # a floor standing on a higher one\n", encoding="utf-8")
    result = lint(tree)
    report = result.stdout
    assert result.returncode == 1, f"{result.stdout}{result.stderr}"
    assert f"{CONTRACTS[contract]['name']} BROKEN" in report
    assert f"{CONTRACTS['floors']['name']} BROKEN" in report
    # the injected import itself is named, under its own contract and under the floors contract
    links = re.findall(rf"{re.escape(chain)} \(l\.{line}\)", report)
    assert len(links) >= 2, report
    section = report.split(f"\n{CONTRACTS[contract]['name']}\n", 1)[1]
    assert re.search(rf"{re.escape(chain)} \(l\.{line}\)", section), report


def test_the_services_contract_lists_every_service():
    """The forbidden contract names each module of the services floor that exists, so that none escapes it."""
    floors = CONTRACTS["floors"]["layers"]
    services = {tail.strip().strip("()") for tail in floors[2].split(":")}
    present = {name for name in services
               if (REPO / "coditect_magics" / f"{name}.py").is_file()
               or (REPO / "coditect_magics" / name / "__init__.py").is_file()}
    listed = {name.removeprefix("coditect_magics.") for name in CONTRACTS["services-not-fronts"]["source_modules"]}
    assert listed <= services, f"not on the services floor: {sorted(listed - services)}"
    assert present <= listed, (f"add to the 'services-not-fronts' contract's source_modules in pyproject.toml (and a "
                               f"package to [tool.setuptools] packages): {sorted(present - listed)}")


@pytest.mark.parametrize("module", ["coditect_magics.workers.spec", "coditect_magics.workers.worker"])
def test_a_worker_loads_no_front(tmp_path, module):
    """What a worker imports to run a job does not load the magics or the panels."""
    code = (f"import sys, {module}\n"
            f"print(*(m for m in sys.modules if any(m == f or m.startswith(f + '.') for f in {FRONTS!r})))")
    # from a folder of its own: the kit as installed, not the source folder as the current directory
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [], f"{module} loaded fronts: {result.stdout.split()}"
