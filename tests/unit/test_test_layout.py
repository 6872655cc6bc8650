"""No file under tests/ imports from a test module (`tests.….test_*`): what two test modules share lives
in tests/support/helpers.py (plain helpers) or a conftest.py / tests/portal_fixtures.py (fixtures)."""
from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _module_of(path: Path) -> list[str]:
    """The dotted name of a file under tests/, as parts: tests/integration/test_x.py → [tests, integration, test_x]."""
    relative = path.relative_to(TESTS.parent).with_suffix("")
    parts = list(relative.parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _is_test_module(dotted: str) -> bool:
    parts = dotted.split(".")
    return parts[0] == "tests" and any(part.startswith("test_") for part in parts[1:])


def imports_of_test_modules(source: str, module: list[str], is_package: bool = False) -> list[tuple[int, str]]:
    """(line, imported module) for every import in `source` that names a test module, absolute or relative."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if _is_test_module(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module if is_package else module[:-1]
                base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if _is_test_module(target):
                found.append((node.lineno, target))
            elif node.level or target == "tests" or target.startswith("tests."):
                # `from tests.integration import test_taxes` names the test module as the imported name
                found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names if alias.name.startswith("test_")]
    return found


def test_the_check_sees_every_spelling_of_a_test_module_import():
    here = ["tests", "web", "test_pages"]
    spellings = {
        "from tests.integration.test_taxes import save_key": "tests.integration.test_taxes",
        "import tests.integration.test_taxes": "tests.integration.test_taxes",
        "from tests.integration import test_taxes": "tests.integration.test_taxes",
        "from .test_other import helper": "tests.web.test_other",
        "from ..integration.test_taxes import selects": "tests.integration.test_taxes",
        "def later():\n    from tests.contract.test_errors import raised\n": "tests.contract.test_errors",
    }
    for source, target in spellings.items():
        assert [name for _, name in imports_of_test_modules(source, here)] == [target], source
    allowed = "from tests.support.helpers import save_key\nfrom tests.integration.conftest import connect\n" \
              "from tests.portal_fixtures import post_form\nfrom tests.contract.target import QboTarget\nimport pytest\n"
    assert imports_of_test_modules(allowed, here) == []


def test_no_file_under_tests_imports_from_a_test_module():
    files = sorted(TESTS.rglob("*.py"))
    assert len(files) > 50  # the whole tree is scanned, not an empty glob
    offenders = [
        f"{path.relative_to(TESTS.parent)}:{line} imports {target}"
        for path in files
        for line, target in imports_of_test_modules(path.read_text(encoding="utf-8"), _module_of(path), path.name == "__init__.py")
    ]
    assert not offenders, "move what is shared into tests/support/helpers.py:\n" + "\n".join(offenders)
