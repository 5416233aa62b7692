"""The import graph of the lightrnn package, read from its sources with ast: no cycles, and the
layering of docs/DESIGN.md (the reallocation, inference and command-line modules never reach into
the training loop's module for utilities).

Every import counts, at module level or inside a function (a lazy import is still a dependency),
and the package imports nothing by a computed name (importlib, __import__), so the graph read
here is the whole graph.
"""
import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "lightrnn"
MODULES = sorted(p.stem for p in PKG.glob("*.py"))  # "__init__" is the package itself

# Modules that must not import lightrnn.train, and the names each may still take from it: the
# command that runs a round imports the loop itself and nothing else.
LOOP_FREE = ("realloc", "infer", "cli")  # by prefix: realloc.py, infer*.py, cli.py and cli_*.py
LOOP_ALLOWED = {"cli_train": {"train"}}


def imports(module: str) -> list[tuple[str, str | None, int]]:
    """(lightrnn module imported, name taken from it or None, line) for each import of ``module``."""
    tree = ast.parse((PKG / f"{module}.py").read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "lightrnn":
                    found.append((parts[1] if len(parts) > 1 else "__init__", None, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level > 1:
                continue
            base = node.module or ""
            if node.level == 0:
                if base != "lightrnn" and not base.startswith("lightrnn."):
                    continue
                base = base[len("lightrnn."):] if base != "lightrnn" else ""
            if base:
                found += [(base.split(".")[0], alias.name, node.lineno) for alias in node.names]
            else:  # from lightrnn import x: a submodule, or a name of the package's __init__
                found += [(alias.name, None, node.lineno) if alias.name in MODULES
                          else ("__init__", alias.name, node.lineno) for alias in node.names]
    return [(m, name, line) for m, name, line in found if m in MODULES]


def graph() -> dict[str, set[str]]:
    return {m: {target for target, _, _ in imports(m)} - {m} for m in MODULES}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph ``edges`` as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"x": {"a"}, "a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]


def test_the_reader_sees_every_kind_of_import():
    found = {(m, name) for m, name, _ in imports("cli_train")}
    assert ("rounds", None) in found  # from lightrnn import rounds, inside a function
    assert ("train", "train") in found and ("config", "ModelConfig") in found
    assert ("infer", "load") in {(m, name) for m, name, _ in imports("__init__")}  # lazily, in load()


def test_no_import_cycles():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(f"lightrnn.{m}" for m in cycle)


def test_no_imports_by_computed_name():
    for module in MODULES:
        tree = ast.parse((PKG / f"{module}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert "importlib" not in " ".join(names), f"lightrnn/{module}.py:{node.lineno} uses importlib"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__import__":
                raise AssertionError(f"lightrnn/{module}.py:{node.lineno} calls __import__")


def test_reallocation_inference_and_cli_do_not_use_the_training_loop_module():
    bad = []
    for module in MODULES:
        if not module.startswith(LOOP_FREE):
            continue
        for target, name, line in imports(module):
            if target == "train" and name not in LOOP_ALLOWED.get(module, set()):
                bad.append(f"lightrnn/{module}.py:{line} imports {name or 'the module'} from lightrnn.train")
    assert not bad, "\n".join(bad)

