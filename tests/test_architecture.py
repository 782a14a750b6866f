"""The workspace's boundaries, checked on the source.

- no service imports another service, and `libs/common` imports no service;
- every package declares each third-party distribution it imports.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from dataclasses import dataclass
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Package:
    name: str  # distribution name, e.g. "session-gateway"
    module: str  # import name, e.g. "session_gateway"
    root: Path  # the package's folder (holding pyproject.toml)

    @property
    def declared(self) -> set[str]:
        project = tomllib.loads((self.root / "pyproject.toml").read_text())["project"]
        requirements = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            requirements.extend(extra)
        return {_normalise(Requirement(r).name) for r in requirements}

    def sources(self, *, include_tests: bool) -> list[Path]:
        files = sorted((self.root / "src").rglob("*.py"))
        if include_tests and (self.root / "tests").exists():
            files += sorted((self.root / "tests").rglob("*.py"))
        return files


def workspace_packages() -> list[Package]:
    packages = [Package("jarvis-common", "jarvis_common", ROOT / "libs" / "common")]
    for service in sorted((ROOT / "services").iterdir()):
        if (service / "pyproject.toml").exists():
            packages.append(Package(service.name, service.name.replace("-", "_"), service))
    return packages


def imported_modules(path: Path) -> set[str]:
    """Top-level names of absolute imports anywhere in the file, lazy imports included."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def boundary_violations(packages: list[Package]) -> list[str]:
    services = {p.module: p for p in packages if p.root.parent.name == "services"}
    violations = []
    for package in packages:
        for source in package.sources(include_tests=True):
            for module in imported_modules(source) & set(services):
                if module != package.module:
                    violations.append(
                        f"{source.relative_to(package.root.parent.parent)} "
                        f"imports the service {module}"
                    )
    return violations


def undeclared_imports(package: Package, workspace: list[Package]) -> list[str]:
    own_modules = {p.module: p.name for p in workspace}
    distributions = packages_distributions()
    declared = package.declared
    missing = []
    for source in package.sources(include_tests=False):
        for module in imported_modules(source):
            if module in sys.stdlib_module_names or module == package.module:
                continue
            providers = {_normalise(d) for d in distributions.get(module, [])}
            if module in own_modules:
                providers = {own_modules[module]}
            if not providers:
                missing.append(f"{source.name}: {module} (no installed distribution provides it)")
            elif not providers & declared:
                missing.append(f"{source.name}: {module} (from {', '.join(sorted(providers))})")
    return missing


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-")


def test_no_service_imports_another_and_common_imports_none() -> None:
    assert boundary_violations(workspace_packages()) == []


@pytest.mark.parametrize("package", workspace_packages(), ids=lambda p: p.name)
def test_every_import_is_declared(package: Package) -> None:
    assert undeclared_imports(package, workspace_packages()) == []


def test_the_boundary_check_catches_a_crossing(tmp_path: Path) -> None:
    for name in ("alpha-service", "beta-service"):
        src = tmp_path / "services" / name / "src" / name.replace("-", "_")
        src.mkdir(parents=True)
        (tmp_path / "services" / name / "pyproject.toml").write_text(
            f'[project]\nname = "{name}"\ndependencies = []\n'
        )
    (tmp_path / "services/alpha-service/src/alpha_service/leak.py").write_text(
        "def f():\n    from beta_service.secrets import x\n    return x\n"
    )
    common = tmp_path / "libs" / "common" / "src" / "jarvis_common"
    common.mkdir(parents=True)
    (common / "bad.py").write_text("import alpha_service\n")
    packages = [Package("jarvis-common", "jarvis_common", tmp_path / "libs" / "common")] + [
        Package(n, n.replace("-", "_"), tmp_path / "services" / n)
        for n in ("alpha-service", "beta-service")
    ]
    violations = boundary_violations(packages)
    assert any("imports the service beta_service" in v for v in violations)
    assert any("bad.py imports the service alpha_service" in v for v in violations)


def test_the_declaration_check_catches_an_undeclared_import(tmp_path: Path) -> None:
    root = tmp_path / "services" / "gamma"
    (root / "src" / "gamma").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "gamma"\ndependencies = []\n')
    (root / "src" / "gamma" / "db.py").write_text("import sqlalchemy\n")
    package = Package("gamma", "gamma", root)
    assert undeclared_imports(package, [package]) == ["db.py: sqlalchemy (from sqlalchemy)"]
