"""The import-cycle check (`scripts/check_cycles.py`), run as CI runs it: the repository has no
module or package cycle, and a new one, even behind a lazy import, fails the check with the
imports that close it."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "check_cycles.py"


def check(repo: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(repo)], capture_output=True, text=True, timeout=60)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_the_repository_has_no_module_or_package_cycle():
    result = check(REPO)
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip() == "no module or package cycles"


def test_a_lazy_module_cycle_and_a_package_cycle_fail_with_the_imports_that_close_them(tmp_path):
    repo = write(tmp_path, {
        "pyproject.toml": '[tool.setuptools]\npackage-dir = { "demo" = "demo", "demo.tasks" = "tasks" }\n',
        "demo/__init__.py": "",
        # vllm_backend <-> data_parallel as the old layout had it: hidden behind a function-level import.
        "demo/backend.py": "def start():\n    from .parallel import Pool\n    return Pool\n",
        "demo/parallel.py": "from .backend import start\n\nPool = start\n",
        # Three folders in a ring (loop -> signals -> methods -> loop), no two modules importing each other.
        "demo/loop/__init__.py": "",
        "demo/loop/engine.py": "from ..signals.entropy import entropy\n",
        "demo/signals/__init__.py": "",
        "demo/signals/entropy.py": "from ..methods import deer\n\nentropy = deer\n",
        "demo/methods/__init__.py": "",
        "demo/methods/deer.py": "import typing\n\nif typing.TYPE_CHECKING:\n    import demo.loop.engine\n",
        "demo/record.py": "Record = dict\n",
        "tasks/__init__.py": "",
        "tasks/grading.py": "from demo.record import Record\n",  # one way only: no cycle
    })
    result = check(repo)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "module cycle demo.backend <-> demo.parallel: demo.backend:2 imports demo.parallel; demo.parallel:1 imports demo.backend",
        "module cycle demo.loop.engine <-> demo.methods.deer <-> demo.signals.entropy: demo.loop.engine:1 imports demo.signals.entropy; "
        "demo.methods.deer:4 imports demo.loop.engine; demo.signals.entropy:1 imports demo.methods.deer",
        "package cycle in demo: backend <-> parallel: demo.backend:2 imports demo.parallel; demo.parallel:1 imports demo.backend",
        "package cycle in demo: loop <-> methods <-> signals: demo.loop.engine:1 imports demo.signals.entropy; "
        "demo.methods.deer:4 imports demo.loop.engine; demo.signals.entropy:1 imports demo.methods.deer",
    ]
    write(repo, {"demo/parallel.py": "Pool = object\n", "demo/methods/deer.py": "deer = 0\n"})
    assert check(repo).returncode == 0  # the cycles broken, tasks -> demo.record alone is none


def test_a_folder_without_the_package_map_is_one_line(tmp_path):
    result = check(tmp_path)
    assert result.returncode == 2 and result.stderr.strip() == f"check_cycles: {tmp_path / 'pyproject.toml'} not found: expected the repository root"
