"""The library does not depend on the experiments: someone who uses dist as a renderer imports none of them."""

import ast
from pathlib import Path

import dist_core

PACKAGE = Path(dist_core.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    """Absolute names of the dist_core modules that ``path`` imports (relative imports resolved)."""
    module = ".".join(("dist_core",) + path.relative_to(PACKAGE).with_suffix("").parts)
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module.removesuffix(".__init__")
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            names.add(prefix)
            names.update(f"{prefix}.{alias.name}" for alias in node.names)
    return {n for n in names if n.startswith("dist_core")}


def test_no_library_module_imports_an_experiment():
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        if "experiments" in path.relative_to(PACKAGE).parts:
            continue
        bad = sorted(n for n in _imported_modules(path) if n.startswith("dist_core.experiments"))
        if bad:
            offenders[str(path.relative_to(PACKAGE))] = bad
    assert offenders == {}


def test_the_import_scan_sees_relative_imports_of_experiments():
    # The scan itself must catch what it is meant to catch: an experiment module importing its siblings.
    names = _imported_modules(PACKAGE / "experiments" / "table2.py")
    assert "dist_core.fit" in names and "dist_core.render" in names
