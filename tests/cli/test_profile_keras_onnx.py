"""`flopwise profile keras:PATH` and `flopwise profile model.onnx` from the command line."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

FLOPWISE = [sys.executable, "-m", "flopwise"]


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    return subprocess.run([*FLOPWISE, *args], capture_output=True, text=True, env=env)


def test_profile_a_saved_keras_model(tmp_path):
    script = f"""
import os
os.environ["KERAS_BACKEND"] = "torch"
import keras
inputs = keras.Input((8, 8, 3))
x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
x = keras.layers.Flatten()(x)
keras.Model(inputs, keras.layers.Dense(5, name="dense")(x)).save({str(tmp_path / 'm.keras')!r})
"""
    if importlib.util.find_spec("keras") is None:
        pytest.skip("keras is not installed (pip install 'flopwise[keras]')")
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    done = _run("profile", f"keras:{tmp_path / 'm.keras'}", "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    # Conv2D 3→4, 3×3 on 8×8 (valid): 6·6·4 outputs of 27 terms; Dense 144 → 5
    assert report["total"]["macs"] == 6 * 6 * 4 * 27 + 144 * 5
    # params: conv 27·4 + 4, dense 144·5 + 5
    assert report["total"]["params"] == 27 * 4 + 4 + 144 * 5 + 5
    assert [m["name"] for m in report["modules"]] == ["", "conv", "flatten", "dense"]


def test_profile_an_onnx_file_with_a_symbolic_batch(tmp_path):
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((4, 3, 3, 3), dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="/conv/Conv")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weight])
    path = tmp_path / "conv.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    done = _run("profile", str(path), "--input", "x=2,3,8,8", "--format", "json")
    assert done.returncode == 0, done.stderr
    # batch 2, 4 channels of 6×6 outputs, 27 terms each
    assert json.loads(done.stdout)["total"]["macs"] == 2 * 4 * 6 * 6 * 27
    unresolved = _run("profile", str(path))
    assert unresolved.returncode == 2
    assert "batch" in unresolved.stderr and "Traceback" not in unresolved.stderr
