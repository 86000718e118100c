"""The repository package loads its concern modules on first use: what it promises must resolve."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from functions.core import repository

INIT = Path(repository.__file__)


def _type_checking_imports() -> dict[str, list[str]]:
    tree = ast.parse(INIT.read_text())
    (block,) = [n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"]
    return {
        node.module.rsplit(".", 1)[1]: [alias.name for alias in node.names]
        for node in block.body
        if isinstance(node, ast.ImportFrom) and node.module
    }


def test_the_lazy_table_says_what_the_type_checker_reads() -> None:
    lazy = {module: sorted(names.split()) for module, names in repository._LAZY.items()}
    assert lazy == {module: sorted(names) for module, names in _type_checking_imports().items()}


def test_every_exported_name_resolves_to_its_concern_modules_object() -> None:
    home = {name: module for module, names in repository._LAZY.items() for name in names.split()}
    assert set(repository.__all__) >= set(home)
    for name in repository.__all__:
        value = getattr(repository, name)
        if name in home:
            assert value is getattr(sys.modules[f"functions.core.repository.{home[name]}"], name)
    assert callable(repository.unit_of_work)  # the function, though a submodule has its name


def test_a_concern_module_is_an_attribute_of_the_package_even_before_use() -> None:
    code = "from functions.core import repository\nprint(repository.outbox.__name__)\n"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=INIT.parents[3], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "functions.core.repository.outbox"


def test_importing_the_package_loads_no_concern_module_until_used() -> None:
    code = (
        "import sys\n"
        "from functions.core import repository\n"
        "print(sorted(m for m in sys.modules if m.startswith('functions.core.repository.')))\n"
        "repository.get_case\n"
        "print('functions.core.repository.aftersales' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=INIT.parents[3], capture_output=True, text=True, check=True
    )
    loaded, used = done.stdout.splitlines()
    assert "aftersales" not in loaded
    assert "shipping" not in loaded
    assert used == "True"
