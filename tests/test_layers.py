"""The dependency rule: core (thinseg) <- methods (baselines, research) <- evaluation
(eval) <- orchestration (experiments, scripts). No module imports a higher layer, not
even inside a function; no module names a higher layer's package in import_module."""
import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LAYER = {"thinseg": 0, "baselines": 1, "research": 1, "eval": 2, "experiments": 3, "scripts": 3, "tests": 4}
CHECKED = ("thinseg", "baselines", "research", "eval")


def _module_of(path: Path) -> list[str]:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def imported_packages(path: Path) -> list[tuple[int, str, bool]]:
    """(line, top-level package, inside a function) of every import in a file, relative
    imports resolved, plus string arguments of importlib.import_module / __import__."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _module_of(path) if path.name == "__init__.py" else _module_of(path)[:-1]
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((child.lineno, a.name.split(".")[0], nested) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package[:len(package) - (child.level - 1)] if child.level > 1 else package
                    found.append((child.lineno, (base or [child.module or ""])[0], nested))
                else:
                    found.append((child.lineno, child.module.split(".")[0], nested))
            elif isinstance(child, ast.Call):
                fn = child.func
                name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
                if name in ("import_module", "__import__") and child.args and isinstance(child.args[0], ast.Constant):
                    found.append((child.lineno, str(child.args[0].value).split(".")[0], nested))
            visit(child, nested)

    visit(tree, False)
    return found


def _files():
    return sorted(p for top in CHECKED for p in (REPO / top).rglob("*.py"))


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_upward_import(path):
    own = LAYER[path.relative_to(REPO).parts[0]]
    upward = [f"line {line}: imports {pkg} ({'inside a function' if lazy else 'module level'})"
              for line, pkg, lazy in imported_packages(path) if LAYER.get(pkg, -1) > own]
    assert not upward, f"{path.relative_to(REPO)} imports a higher layer: " + "; ".join(upward)


def test_no_lazy_import_of_the_project():
    """Project modules are imported at the top of a file, where the reader sees them."""
    lazy = [f"{p.relative_to(REPO)}:{line} {pkg}" for p in _files()
            for line, pkg, nested in imported_packages(p) if nested and pkg in LAYER]
    assert not lazy, "imports of project modules inside functions: " + ", ".join(lazy)


def test_the_checker_sees_upward_and_lazy_imports(tmp_path, monkeypatch):
    """The test itself can fail: a lazy upward import is found."""
    bad = REPO / "thinseg" / "x.py"  # only parsed, never written: the path fixes the package
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: "def f():\n    from eval.metrics import x\n"
                        "import importlib\nimportlib.import_module('baselines')\nfrom . import atomic\n")
    assert imported_packages(bad) == [(2, "eval", True), (3, "importlib", False), (4, "baselines", False),
                                      (5, "thinseg", False)]
