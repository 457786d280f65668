"""protocol/ depends on the standard library only, so it runs on any Python (and, for the
MicroPython core, on a microcontroller); two modules have a documented exception."""

import ast
import sys
from pathlib import Path

import pytest

PROTOCOL = Path(__file__).resolve().parents[2] / "protocol"
#: module file -> the third-party top-level packages it may import.
ALLOWED_EXTRA = {"signing.py": {"cryptography", "nacl"}, "cli.py": {"click"}}
MODULES = sorted(PROTOCOL.glob("*.py"))


def imported_top_levels(source: str) -> set[str]:
    """Top-level package names of every absolute import in ``source``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_imported_top_levels_sees_every_import_form() -> None:
    source = "import a.b, c\nfrom d.e import f\nfrom . import g\nif x:\n    import h\n"
    assert imported_top_levels(source) == {"a", "c", "d", "h"}


@pytest.mark.parametrize("path", MODULES, ids=[path.name for path in MODULES])
def test_module_imports_only_stdlib(path: Path) -> None:
    allowed = set(sys.stdlib_module_names) | {"protocol"} | ALLOWED_EXTRA.get(path.name, set())
    foreign = imported_top_levels(path.read_text(encoding="utf-8")) - allowed
    assert not foreign, path.name + " imports " + ", ".join(sorted(foreign))
