"""Shared by the role smoke tests: ``note``, a measured figure printed even under -q."""
import pytest


@pytest.fixture
def note(request, capsys):
    """``note(name, value, unit="", extra="")``: printed as ``[role] name: value unit extra``
    (the role from the module name) and kept in junit.xml as a property of the test."""
    role = request.module.__name__.rpartition(".")[2].removeprefix("test_")

    def _note(name: str, value, unit: str = "", extra: str = "") -> None:
        if isinstance(value, float):
            value = round(value, 4)
        request.node.user_properties.append((name, value))
        with capsys.disabled():
            print(f"\n    [{role}] {name}: {value} {unit} {extra}".rstrip())
    return _note
