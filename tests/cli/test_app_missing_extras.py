"""A missing optional dependency of flopwise reads as one line naming the extra to install.

torch is installed wherever the tests run, so the import failure is raised by hand here, the way
Python raises it (``ModuleNotFoundError`` with ``name``); the run without torch was checked by
hand in a venv with only typer and rich (``flopwise profile`` → this line, exit 1).
"""

from __future__ import annotations

import pytest
import typer

from flopwise.cli.app import errors_to_exit


@pytest.mark.parametrize(
    ("module", "extra"),
    [("torch", "torch"), ("torch._C", "torch"), ("torchvision", "vision"),
     ("transformers.models", "hf"), ("onnxruntime", "onnx"), ("matplotlib.pyplot", "plot")],
)
def test_missing_optional_package_names_its_extra(
        module: str, extra: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as exit_info, errors_to_exit():
        raise ModuleNotFoundError(f"No module named '{module}'", name=module)
    assert exit_info.value.exit_code == 1
    err = capsys.readouterr().err
    package = module.partition(".")[0]
    assert f"needs the package '{package}'" in err
    assert f"pip install 'flopwise[{extra}]'" in err
    assert len(err.strip().splitlines()) == 1


def test_other_missing_modules_propagate_unchanged() -> None:
    error = ModuleNotFoundError("No module named 'my_private_lib'", name="my_private_lib")
    with pytest.raises(ModuleNotFoundError) as raised, errors_to_exit():
        raise error
    assert raised.value is error
