"""Imports follow the pipeline spec -> derive -> compile -> solve -> validate (docs/theory/README.md):
theory never imports ``mftsym.validate``, no stage imports ``mftsym.cli``, and ``mftsym.solve`` has
no import cycle.  Read from the source with :mod:`ast` (module-level and function-level imports)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "mftsym"
THEORY_PACKAGES = ("spec", "gaussian", "layers", "derive", "compile", "solve", "nnft", "scaling", "dynamics")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


MODULES = _modules()


def imports_of(name: str) -> set:
    """Absolute names of the mftsym modules ``name`` imports anywhere in its source."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in MODULES]
        else:
            continue
        out |= {t for t in targets if t == "mftsym" or t.startswith("mftsym.")}
    return out


def _in(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _theory_modules():
    return [m for m in MODULES if any(_in(m, f"mftsym.{p}") for p in THEORY_PACKAGES)]


def test_the_walk_sees_the_package():
    assert {"mftsym.solve.registry", "mftsym.derive.kernels", "mftsym.validate.theory", "mftsym.cli"} <= set(MODULES)
    assert "mftsym.solve.common" in imports_of("mftsym.solve.api")
    assert "mftsym.validate.torch_network" in imports_of("mftsym.validate.theory")


@pytest.mark.parametrize("module", _theory_modules())
def test_theory_does_not_import_validate_or_cli(module):
    bad = sorted(t for t in imports_of(module) if _in(t, "mftsym.validate") or _in(t, "mftsym.cli"))
    assert not bad, f"{module} imports {bad}"


def test_no_module_imports_the_top_level_cli():
    users = sorted(m for m in MODULES if m != "mftsym.cli" and any(_in(t, "mftsym.cli") for t in imports_of(m)))
    assert not users, f"{users} import mftsym.cli; import shared helpers from mftsym.cli_common"


def _cycles(package: str) -> list:
    nodes = [m for m in MODULES if _in(m, package) and m != package]
    graph = {m: sorted(t for t in imports_of(m) if t in nodes and t != m) for m in nodes}
    cycles, state = [], {}

    def visit(m, stack):
        state[m] = "open"
        for t in graph[m]:
            if state.get(t) == "open":
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t, stack + [t])
        state[m] = "done"

    for m in nodes:
        if m not in state:
            visit(m, [m])
    return cycles


def test_solve_has_no_import_cycle():
    assert not _cycles("mftsym.solve"), " ; ".join(" -> ".join(c) for c in _cycles("mftsym.solve"))


def test_the_cycle_finder_finds_a_cycle(monkeypatch):
    fake = {"mftsym.solve.a": {"mftsym.solve.b"}, "mftsym.solve.b": {"mftsym.solve.a"}}
    monkeypatch.setattr("tests.test_import_direction.MODULES", {**MODULES, **dict.fromkeys(fake)})
    monkeypatch.setattr("tests.test_import_direction.imports_of", lambda m: fake.get(m, set()))
    assert ["mftsym.solve.a", "mftsym.solve.b", "mftsym.solve.a"] in _cycles("mftsym.solve")
