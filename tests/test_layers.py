"""The package's modules import one way: no cycle among them, and no import of one of them
hidden inside a function (the usual way to dodge a cycle) — in the pure layers as in gdbside.

The one exception is the package root, whose two entry points import gdbside only when
called, so that `import gdb_plugin` works where there is no `gdb` module (tests, the agent)."""
import ast
from pathlib import Path
from typing import Dict, List, Set

PACKAGE = Path(__file__).resolve().parent.parent / "gdb_plugin"
ROOT = "gdb_plugin"
LAZY_ENTRY_POINTS = {ROOT}  # modules allowed to import the project inside functions


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> Dict[str, Path]:
    return {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _imported(node, module: str, is_package: bool, known) -> List[str]:
    """The project modules an import statement names (relative ones resolved)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            anchor = module.split(".")
            anchor = anchor[:len(anchor) - node.level + (1 if is_package else 0)]
            base = ".".join(anchor + ([base] if base else []))
        names = []
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            names.append(submodule if submodule in known else base)
    return [name for name in names if name in known]


def _imports(modules) -> Dict[str, Dict[str, List[str]]]:
    """For each module: "top" -> modules imported at module level, "inner" -> inside a body."""
    found = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == "__init__.py"
        top = [name for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
               for name in _imported(node, module, is_package, modules)]
        inner = {name for node in ast.walk(tree)
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                 for child in ast.walk(node) if isinstance(child, (ast.Import, ast.ImportFrom))
                 for name in _imported(child, module, is_package, modules)}
        found[module] = {"top": top, "inner": sorted(inner)}
    return found


def _cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected components of more than one module, or with a self-import."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, ()):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_no_import_cycle():
    modules = _modules()
    imports = _imports(modules)
    graph = {module: {name for name in found["top"]
                      if not module.startswith(name + ".") and name != module}
             for module, found in imports.items()}
    assert _cycles(graph) == []


def test_no_project_import_inside_a_function():
    modules = _modules()
    hidden = {module: found["inner"] for module, found in _imports(modules).items()
              if found["inner"] and module not in LAZY_ENTRY_POINTS}
    assert hidden == {}


def test_the_checks_see_a_cycle_and_a_hidden_import(tmp_path):
    """The two checks above on a made-up package, so that they cannot pass by seeing nothing."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    source = "from . import b\ndef f():\n    from .c import g\n"
    tree_module = "gdb_plugin.gdbside.a"
    known = {tree_module: None, "gdb_plugin.gdbside.b": None, "gdb_plugin.gdbside.c": None}
    tree = ast.parse(source)
    top = _imported(tree.body[0], tree_module, False, known)
    inner = _imported(tree.body[1].body[0], tree_module, False, known)
    assert (top, inner) == (["gdb_plugin.gdbside.b"], ["gdb_plugin.gdbside.c"])
