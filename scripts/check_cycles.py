"""Module and package import cycles in cotbench, read from the source (AST), lazy imports included.

Why: a cycle, even one hidden behind a function-level import, couples two files both ways, so
neither can be read without the other open, and data no longer flows one way (task → adapter →
loop → record → metrics → report). Every `import` and `from … import` counts, at any depth
(inside functions, `if TYPE_CHECKING:`, `try:`); names built at run time
(`importlib.import_module(f"…")`, as `register_all` does) cannot be read and do not count. A
package cycle is two children of one package (sub-packages or modules) that import each other,
directly or through their siblings: `cotbench`'s `harness_tasks` and `cot_methods`, or
`cot_methods`' `loop` and `signals`. Packages and their folders come from pyproject's
`[tool.setuptools] package-dir`, the map the install uses.

    python scripts/check_cycles.py [REPO]   # one line per cycle with the imports that close it; exit 1 if any (2: bad REPO)

The test suite runs it (tests/scripts/test_check_cycles.py), so CI fails on a new cycle.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the tomli package, where installed
    try:
        import tomli as tomllib
    except ModuleNotFoundError:
        tomllib = None

REPO = Path(__file__).resolve().parents[1]


def _bad_input(message: str):
    """One line on stderr and exit 2 (1 means cycles were found)."""
    print(f"check_cycles: {message}", file=sys.stderr)
    raise SystemExit(2)


def package_dirs(repo: Path) -> dict[str, Path]:
    """Installed package name -> its folder, from pyproject's `package-dir`."""
    pyproject = repo / "pyproject.toml"
    if tomllib is None:
        _bad_input("reading pyproject.toml needs Python 3.11+ (tomllib) or `pip install tomli`")
    if not pyproject.is_file():
        _bad_input(f"{pyproject} not found: expected the repository root")
    setuptools = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {}).get("setuptools", {})
    if "package-dir" not in setuptools:
        _bad_input(f"{pyproject} has no [tool.setuptools] package-dir: expected the package map")
    return {name: repo / folder for name, folder in setuptools["package-dir"].items()}


def module_files(repo: Path) -> dict[str, Path]:
    """Every module of the distribution: dotted name -> file (a package is its `__init__.py`)."""
    found = {}
    for package, folder in package_dirs(repo).items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found.setdefault(".".join((package, *parts)), path)  # a nested package-dir entry names the same file
    return found


def imports_of(name: str, path: Path, modules: set[str]) -> dict[str, int]:
    """The distribution's modules that module `name` imports (at any depth), each with a line that does."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: `.` is this package, `..` its parent
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                stem = ".".join([*base, node.module] if node.module else base)
            else:
                stem = node.module or ""
            # `from package import module` imports the module; `from module import name`, the module.
            candidates = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in modules else stem for alias in node.names]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in modules:  # `import a.b.c` where c is a name: the module a.b
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                targets.setdefault(candidate, node.lineno)
    return targets


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one member, each sorted (iterative:
    no recursion limit on a deep import chain)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def enter(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)

    for root in sorted(graph):
        if root in index:
            continue
        enter(root)
        work = [(root, iter(sorted(graph.get(root, ()))))]
        while work:
            current, children = work[-1]
            for child in children:
                if child not in index:
                    enter(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[current] = min(low[current], index[child])
            else:  # every child seen: close `current`
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[current])
                if low[current] == index[current]:
                    component = []
                    while not component or component[-1] != current:
                        component.append(stack.pop())
                        on_stack.discard(component[-1])
                    if len(component) > 1:
                        found.append(sorted(component))
    return sorted(found)


def _child_of(package: str, module: str) -> str | None:
    """The direct child of `package` that holds `module` (the package's own `__init__` is itself)."""
    if module == package:
        return package
    if not module.startswith(package + "."):
        return None
    return package + "." + module[len(package) + 1 :].split(".")[0]


def module_cycles(graph: dict[str, dict[str, int]]) -> list[str]:
    lines = []
    for component in strongly_connected({name: set(targets) for name, targets in graph.items()}):
        members = set(component)
        evidence = sorted(f"{a}:{graph[a][b]} imports {b}" for a in component for b in graph[a] if b in members)
        lines.append(f"module cycle {' <-> '.join(component)}: {'; '.join(evidence)}")
    return lines


def package_cycles(graph: dict[str, dict[str, int]], packages: list[str]) -> list[str]:
    """Per package: cycles among its direct children, with the imports that make them."""
    lines = []
    for package in packages:
        children: dict[str, set[str]] = defaultdict(set)
        witness: dict[tuple[str, str], str] = {}
        for module, targets in graph.items():
            source = _child_of(package, module)
            for target, line in targets.items():
                sink = _child_of(package, target)
                if source is not None and sink is not None and sink != source:
                    children[source].add(sink)
                    witness.setdefault((source, sink), f"{module}:{line} imports {target}")
        for component in strongly_connected(children):
            members = set(component)
            evidence = sorted(witness[(a, b)] for a in component for b in children[a] if b in members)
            short = [member[len(package) + 1 :] or member for member in component]
            lines.append(f"package cycle in {package}: {' <-> '.join(short)}: {'; '.join(evidence)}")
    return lines


def find_cycles(repo: Path = REPO) -> list[str]:
    """One line per module cycle and per package cycle, with the imports that close it."""
    files = module_files(repo)
    graph = {name: imports_of(name, path, set(files)) for name, path in files.items()}
    packages = sorted(name for name, path in files.items() if path.name == "__init__.py")
    return module_cycles(graph) + package_cycles(graph, packages)


def main() -> int:
    cycles = find_cycles(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else REPO)
    print("\n".join(cycles) if cycles else "no module or package cycles")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
