"""The package's layers: imports point down only (data -> analysis -> present -> report/cli), no cycles.

The graph is read from the source (every ``import`` and ``from ... import``, lazy ones inside
functions included), so an upward arrow is caught even where it is only taken at run time.
"""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "telesales_lab"

#: layer of each top-level part; a module may import its own layer (without cycles) or a lower one
LAYERS = {"exceptions": 0, "labels": 0, "config": 0, "lazy": 0, "data": 1, "analysis": 2, "present": 3, "report": 4, "cli": 4}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    return {m for m in found if m in known and m != name}


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return -1  # the package's own __init__: lazy re-exports of the public surface
    return LAYERS[parts[1]]


def _graph():
    mods = _modules()
    return {name: _imports(name, path, set(mods)) for name, path in mods.items()}


def test_every_module_belongs_to_a_layer():
    for name in _modules():
        parts = name.split(".")
        assert len(parts) == 1 or parts[1] in LAYERS, f"{name} is in no layer; add it to one"


def test_imports_point_down_only():
    upward = [(a, b) for a, deps in _graph().items() for b in deps
              if _layer(a) >= 0 and _layer(b) > _layer(a)]
    assert upward == [], "upward imports: " + ", ".join(f"{a} -> {b}" for a, b in upward)


def test_no_import_cycle():
    graph = {a: {b for b in deps if b != "telesales_lab"} for a, deps in _graph().items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_every_module_imports_in_a_fresh_interpreter():
    names = sorted(_modules())
    code = "import importlib\nfor n in %r:\n    importlib.import_module(n)\n" % names
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
