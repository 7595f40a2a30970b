"""The source registry: which spec names which source, and `flopwise compare` over sources."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from flopwise.errors import UsageError
from flopwise.models import find_source, load_model, source_and_rest


@pytest.mark.parametrize(
    ("spec", "source", "rest"),
    [("torchvision:resnet18", "torchvision", "resnet18"), ("timm:vit_tiny_patch16_224", "timm",
     "vit_tiny_patch16_224"), ("hf:gpt2", "hf", "gpt2"), ("keras:m.keras", "keras", "m.keras"),
     ("nets/model.ONNX", "onnx", "nets/model.ONNX"), ("nets.py:build", "factory", "nets.py:build"),
     ("pkg.mod:fn", "factory", "pkg.mod:fn")],
    ids=["torchvision", "timm", "hf", "keras", "onnx-suffix", "file-factory", "module-factory"],
)
def test_specs_name_their_source(spec: str, source: str, rest: str) -> None:
    found, after = source_and_rest(spec)
    assert (found.name, after) == (source, rest)


def test_a_prefix_without_a_name_and_a_graph_as_torch_model_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="names no model after 'hf:'"):
        find_source("hf:")
    with pytest.raises(UsageError, match="profile_onnx"):
        load_model("model.onnx")


def _conv_onnx(path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((4, 3, 3, 3), dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="/conv/Conv")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weight])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_compare_takes_an_onnx_file_beside_a_pytorch_model(tmp_path: Path) -> None:
    _conv_onnx(tmp_path / "conv.onnx")
    (tmp_path / "nets.py").write_text(
        "import torch\n\ndef build():\n"
        "    return torch.nn.Conv2d(3, 4, 3, bias=False), (torch.randn(1, 3, 8, 8),)\n")
    done = subprocess.run(
        [sys.executable, "-m", "flopwise", "compare", str(tmp_path / "conv.onnx"),
         f"{tmp_path / 'nets.py'}:build", "--format", "json"],
        capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["models"]
    # both: 4 output channels × 6×6 positions × 27 terms (3 channels × 3×3), 4·27 weights
    assert [row["macs"] for row in rows] == [4 * 6 * 6 * 27] * 2
    assert [row["params"] for row in rows] == [4 * 27] * 2
