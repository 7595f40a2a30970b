"""Keras 3 models on the torch backend: hand-derived MACs, Keras' own parameter count, Keras
layer names in the module tree, loading ``.keras`` files, and the backend check."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

keras = pytest.importorskip("keras")

import flopwise  # noqa: E402
from flopwise.errors import MissingExtraError, ModelLoadError, UsageError  # noqa: E402
from flopwise.keras import (  # noqa: E402
    example_inputs,
    is_keras_model,
    keras_input_shapes,
    load_keras_model,
    profile_keras,
)

pytestmark = pytest.mark.skipif(keras.backend.backend() != "torch",
                                reason="keras was imported with another backend")

B, H, W, C = 2, 8, 8, 3          # batch, image height, width, channels
F, K = 8, 3                      # Conv2D filters, kernel size
L = (H - K + 1) * (W - K + 1)    # 36 positions after a valid convolution = sequence length
HEADS, KEY_DIM = 2, 4            # MultiHeadAttention (output dim = F)
U = 6                            # LSTM units
D = 5                            # Dense units

CONV_MACS = B * L * F * K * K * C                       # 2·36·8·3·3·3 = 15552
PROJECTION_MACS = B * L * F * (HEADS * KEY_DIM)         # one of q, k, v, output: 4608
ATTENTION_MACS = B * HEADS * L * L * KEY_DIM * 2        # QKᵀ + AV: 41472
LSTM_MACS = L * B * 4 * U * (F + U)                     # 4 gates, per step: 24192
DENSE_MACS = B * U * D                                  # 60
TOTAL_MACS = CONV_MACS + 4 * PROJECTION_MACS + ATTENTION_MACS + LSTM_MACS + DENSE_MACS

# Keras before 3.13 (the last releases for Python 3.10): the torch backend's ``rnn`` runs the
# step function once more, on the first time step, "to determine the cell output shape"
# (keras/src/backend/torch/rnn.py), so one more step of LSTM arithmetic really runs, and is
# counted: B·4U·(F+U) = 2·24·14 = 672 MACs.
_KERAS_VERSION = tuple(int(part) for part in keras.__version__.split(".")[:2])
EXTRA_STEP_MACS = B * 4 * U * (F + U) if _KERAS_VERSION < (3, 13) else 0
LSTM_RUN_MACS = LSTM_MACS + EXTRA_STEP_MACS
TOTAL_RUN_MACS = TOTAL_MACS + EXTRA_STEP_MACS

CONV_PARAMS = K * K * C * F + F                                          # 224
MHA_PARAMS = 3 * (F * HEADS * KEY_DIM + HEADS * KEY_DIM) + HEADS * KEY_DIM * F + F   # 288
LSTM_PARAMS = 4 * U * (F + U) + 4 * U                                    # 360
DENSE_PARAMS = U * D + D                                                 # 35


def _model():
    inputs = keras.Input((H, W, C), name="image")
    x = keras.layers.Conv2D(F, K, name="conv")(inputs)
    x = keras.layers.Reshape((L, F), name="to_sequence")(x)
    x = keras.layers.MultiHeadAttention(num_heads=HEADS, key_dim=KEY_DIM, name="mha")(x, x)
    x = keras.layers.LSTM(U, name="lstm")(x)
    outputs = keras.layers.Dense(D, name="dense")(x)
    return keras.Model(inputs, outputs, name="tiny")


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return _model()


@pytest.fixture(scope="module")
def report(model):
    return flopwise.profile(model, torch.randn(B, H, W, C))


def test_hand_derived_macs(report) -> None:
    assert TOTAL_MACS == 99708
    assert report.total.macs == TOTAL_RUN_MACS
    assert report.module("conv").macs == CONV_MACS
    assert report.module("mha").macs == 4 * PROJECTION_MACS + ATTENTION_MACS
    for projection in ("query", "key", "value", "attention_output"):
        assert report.module(f"mha.{projection}").macs == PROJECTION_MACS
    assert report.module("lstm").macs == LSTM_RUN_MACS
    assert report.module("dense").macs == DENSE_MACS
    assert report.unsupported == {}


def test_params_equal_keras_count_params(model, report) -> None:
    assert report.total.params == model.count_params() == (
        CONV_PARAMS + MHA_PARAMS + LSTM_PARAMS + DENSE_PARAMS) == 907
    assert report.total.trainable_params == 907
    assert [report.module(n).params for n in ("conv", "mha", "lstm", "dense")] == [
        CONV_PARAMS, MHA_PARAMS, LSTM_PARAMS, DENSE_PARAMS]
    assert report.module("mha.query").params == F * HEADS * KEY_DIM + HEADS * KEY_DIM


def test_keras_layer_names_form_the_tree(report) -> None:
    rows = {row.name: row for row in report.modules()}
    assert rows[""].type == "Functional"
    assert {"conv", "to_sequence", "mha", "mha.query", "mha.key", "mha.value",
            "mha.attention_output", "lstm", "dense"} <= set(rows)
    assert "lstm.lstm_cell" not in rows           # the cell runs inside the LSTM layer
    assert rows["conv"].type == "Conv2D" and rows["mha.query"].type == "EinsumDense"
    assert "image" not in rows                    # the InputLayer does no work
    assert not any("_torch_params" in name for name in rows)


def test_profile_keras_accepts_numpy_and_conventions(model) -> None:
    x = np.zeros((B, H, W, C), np.float32)
    report = profile_keras(model, x, convention="macs")
    assert report.total.macs == TOTAL_RUN_MACS and report.total.flops == TOTAL_RUN_MACS


def test_non_trainable_weights_count_as_keras_counts_them() -> None:
    model = keras.Sequential([keras.Input((4, 4, 2)), keras.layers.BatchNormalization(name="bn")])
    report = profile_keras(model, torch.ones(1, 4, 4, 2))
    # gamma, beta trainable; moving mean and variance are non-trainable weights: 4·2
    assert report.total.params == model.count_params() == 4 * 2
    assert report.total.trainable_params == 2 * 2


def test_load_keras_model_round_trip(model, report, tmp_path) -> None:
    path = tmp_path / "tiny.keras"
    model.save(path)
    loaded = load_keras_model(path)
    assert keras_input_shapes(loaded) == [(None, H, W, C)]
    x = example_inputs(loaded, batch=B)
    assert tuple(x.shape) == (B, H, W, C)
    again = flopwise.profile(loaded, x)
    assert (again.total.macs, again.total.params) == (report.total.macs, report.total.params)


def test_load_errors(tmp_path) -> None:
    with pytest.raises(ModelLoadError, match="no such file"):
        load_keras_model(tmp_path / "missing.keras")
    bad = tmp_path / "bad.keras"
    bad.write_text("not a zip")
    with pytest.raises(ModelLoadError, match="cannot load Keras model"):
        load_keras_model(bad)


def test_other_backend_is_a_clear_error(monkeypatch, model) -> None:
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(UsageError, match="KERAS_BACKEND=torch") as raised:
        profile_keras(model, torch.ones(1, H, W, C))
    assert "'jax'" in str(raised.value) and "\n" not in str(raised.value)


def test_missing_keras_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "keras", None)
    with pytest.raises(MissingExtraError, match=r"flopwise\[keras\]"):
        load_keras_model("model.keras")


def test_is_keras_model() -> None:
    assert not is_keras_model(torch.nn.Linear(2, 2))
    assert is_keras_model(keras.layers.Dense(2))
    with pytest.raises(UsageError, match="needs a Keras model"):
        profile_keras(torch.nn.Linear(2, 2), torch.ones(1, 2))


def test_command_line_loading_selects_the_torch_backend(model, tmp_path) -> None:
    path = tmp_path / "tiny.keras"
    model.save(path)
    env = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    code = ("import sys; from flopwise.keras import load_keras_model; "
            "m = load_keras_model(sys.argv[1], select_torch_backend=True); import keras; "
            "print(keras.backend.backend(), m.count_params())")
    done = subprocess.run([sys.executable, "-c", code, str(path)], env=env, capture_output=True,
                          text=True, check=True)
    assert done.stdout.split() == ["torch", "907"]
