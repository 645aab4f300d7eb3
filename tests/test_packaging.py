"""The package list in pyproject.toml keeps up with the source tree, so a wheel carries every module."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_every_package_directory_is_listed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    dirs = config["package-dir"]
    listed = set(config["packages"])
    on_disk = set()
    for package, directory in dirs.items():
        for init in (ROOT / directory).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / directory).parts
            if "__pycache__" not in relative:
                on_disk.add(".".join((package, *relative)))
    examples = {p for p in listed if p.endswith(".examples")}
    assert on_disk <= listed, f"not in [tool.setuptools] packages: {sorted(on_disk - listed)}"
    assert listed - examples <= on_disk, f"listed but missing: {sorted(listed - examples - on_disk)}"
