"""Model specs, shapes, dtypes, inputs and failure location (flopwise.models)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import torch

import flopwise
from flopwise.errors import ConfigError, ModelLoadError, UsageError
from flopwise.models import (
    CallTrace,
    TensorRequest,
    describe_failure,
    load_model,
    make_inputs,
    parse_dtype,
    parse_kwarg,
    parse_shape,
)


@pytest.mark.parametrize(
    ("text", "shape"),
    [("1,3,224,224", (1, 3, 224, 224)), ("8", (8,)), (" 2, 16 ", (2, 16)), ("1x128", (1, 128))],
    ids=["image", "vector", "spaces", "x-separated"],
)
def test_parse_shape(text: str, shape: tuple[int, ...]) -> None:
    assert parse_shape(text) == shape


@pytest.mark.parametrize("text", ["", "1,,3", "1,a", "-1,3", "1.5,2", "1,0", "[1,2]"],
                         ids=["empty", "double-comma", "letter", "negative", "float", "zero", "brackets"])
def test_malformed_shapes_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="malformed shape"):
        parse_shape(text)


def test_parse_kwarg_and_dtype() -> None:
    assert parse_kwarg("mask=1,16") == ("mask", TensorRequest((1, 16)))
    assert parse_kwarg("ids=2,8:long") == ("ids", TensorRequest((2, 8), "int64"))
    assert parse_dtype("BF16") == "bfloat16"
    with pytest.raises(UsageError, match="NAME=SHAPE"):
        parse_kwarg("1,16")
    with pytest.raises(UsageError, match="did you mean"):
        parse_dtype("flaot32")


def test_torchvision_default_inputs_follow_the_weights() -> None:
    inception = load_model("torchvision:inception_v3")
    assert inception.default_shapes == ((1, 3, 299, 299),)            # its eval crop
    video = load_model("torchvision:r3d_18")
    assert video.default_shapes == ((1, 3, 16, 112, 112),)
    segmentation = load_model("torchvision:fcn_resnet50")
    assert segmentation.default_shapes == ((1, 3, 520, 520),)         # its resize size
    assert all(p.is_meta for p in inception.model.parameters())
    assert not inception.model.training


@pytest.mark.parametrize("name", ["googlenet", "vit_h_14", "regnet_y_400mf"])
def test_torchvision_builds_the_architecture_of_its_default_weights(name: str) -> None:
    # googlenet's published weights drop the auxiliary heads; vit_h_14's DEFAULT weights are at
    # 518 px (its default input), not the builder's 224; regnet computes widths with tensor ops
    # (built on the CPU, moved to meta). Each must profile at its default input with the
    # published parameter count.
    from torchvision.models import get_model_weights

    loaded = load_model(f"torchvision:{name}")
    args, kwargs = make_inputs(loaded)
    report = flopwise.profile(loaded.model, args, kwargs)
    assert report.total.params == get_model_weights(name).DEFAULT.meta["num_params"]


def test_detection_models_need_input_and_get_lists() -> None:
    loaded = load_model("torchvision:fasterrcnn_mobilenet_v3_large_320_fpn")
    with pytest.raises(UsageError, match="--input"):
        make_inputs(loaded)
    args, _ = make_inputs(loaded, [TensorRequest((3, 64, 64))])
    assert isinstance(args[0], list) and args[0][0].shape == (3, 64, 64)


def test_hf_inputs_are_token_ids_below_the_vocabulary(tmp_path: Path) -> None:
    config = {"model_type": "gpt2", "n_layer": 1, "n_embd": 32, "n_head": 2, "vocab_size": 50,
              "bos_token_id": 0, "eos_token_id": 0}
    (tmp_path / "config.json").write_text(json.dumps(config))
    loaded = load_model(f"hf:{tmp_path}", device="cpu")              # a folder with config.json
    assert type(loaded.model).__name__ == "GPT2LMHeadModel"          # causal-LM head
    args, kwargs = make_inputs(loaded, device="cpu",
                               kwargs={"attention_mask": TensorRequest((1, 128))})
    ids = args[0]
    assert ids.shape == (1, 128) and ids.dtype == torch.int64        # default: 128 tokens
    assert int(ids.min()) >= 0 and int(ids.max()) < 50
    assert kwargs["attention_mask"].dtype == torch.int64 and bool(kwargs["attention_mask"].all())


def test_hf_image_models_default_to_an_image_of_the_configs_size(tmp_path: Path) -> None:
    config = {"model_type": "vit", "hidden_size": 32, "num_hidden_layers": 1,
              "num_attention_heads": 2, "intermediate_size": 64, "image_size": 32,
              "patch_size": 8, "num_channels": 3}
    (tmp_path / "config.json").write_text(json.dumps(config))
    loaded = load_model(f"hf:{tmp_path}")
    args, kwargs = make_inputs(loaded)
    assert [tuple(a.shape) for a in args] == [(1, 3, 32, 32)] and kwargs == {}
    assert args[0].dtype == torch.float32                             # pixels, not token ids
    # (32/8)² = 16 patches + CLS = 17 tokens of width 32, one layer, MLP 64, pooler on CLS:
    patches = 16 * 32 * (3 * 8 * 8)             # patch embedding conv:   98,304
    projections = 17 * 4 * 32 * 32              # q, k, v, output:       69,632
    attention = 2 * 17 * 17 * 32                # QKᵀ and AV:            18,496
    mlp = 17 * 2 * 32 * 64                      # two linears:           69,632
    pooler = 32 * 32                            # dense on CLS:           1,024
    report = flopwise.profile(loaded.model, args, kwargs)
    assert report.total.macs == patches + projections + attention + mlp + pooler == 257_088


def test_hf_speech_models_default_to_features_or_audio(tmp_path: Path) -> None:
    config = {"model_type": "whisper", "d_model": 32, "encoder_layers": 1, "decoder_layers": 1,
              "encoder_attention_heads": 2, "decoder_attention_heads": 2,
              "encoder_ffn_dim": 64, "decoder_ffn_dim": 64, "num_mel_bins": 8,
              "max_source_positions": 10, "max_target_positions": 32, "vocab_size": 100,
              "pad_token_id": 0, "bos_token_id": 0, "eos_token_id": 0, "decoder_start_token_id": 0}
    (tmp_path / "config.json").write_text(json.dumps(config))
    args, kwargs = make_inputs(load_model(f"hf:{tmp_path}"))
    # 8 mel bins × 2·10 frames (the encoder's stride-2 conv halves them to its 10 positions);
    # decoder tokens: 128, capped at the decoder's 32 positions
    assert tuple(args[0].shape) == (1, 8, 20) and args[0].dtype == torch.float32
    assert tuple(kwargs["decoder_input_ids"].shape) == (1, 32)
    assert kwargs["decoder_input_ids"].dtype == torch.int64
    args, _ = make_inputs(load_model("hf:wav2vec2"))
    assert tuple(args[0].shape) == (1, 16000) and args[0].dtype == torch.float32   # 1 s, 16 kHz


def test_hf_encoder_types_use_the_base_model_and_bad_configs_fail(tmp_path: Path) -> None:
    assert type(load_model("hf:bert").model).__name__ == "BertModel"
    bad = tmp_path / "config.json"
    bad.write_text('{"n_layer": 2}')
    with pytest.raises(ConfigError, match="model_type"):
        load_model(f"hf:{tmp_path}")
    # a hub id is not a local file: the same error as `flopwise llm` gives for it
    with pytest.raises(UsageError, match="nothing is downloaded"):
        load_model("hf:openai-community/gpt2")


def test_package_module_factory_from_the_current_directory(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "flopwise_spec_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "nets.py").write_text(textwrap.dedent('''
        import torch

        def build():
            return torch.nn.Linear(3, 2), (torch.randn(1, 3),), {}

        def broken():
            return "not a model"
    '''))
    monkeypatch.chdir(tmp_path)
    loaded = load_model("flopwise_spec_pkg.nets:build", dtype="bfloat16")
    assert loaded.model.weight.dtype == torch.bfloat16 and loaded.model.weight.is_meta
    args, kwargs = make_inputs(loaded, [], {})
    assert args[0].shape == (1, 3) and args[0].is_meta and kwargs == {}
    with pytest.raises(ModelLoadError, match="not an nn.Module"):
        load_model("flopwise_spec_pkg.nets:broken")
    with pytest.raises(ModelLoadError, match="no module named"):
        load_model("flopwise_spec_absent.nets:build")


def test_float_inputs_follow_the_model_dtype() -> None:
    loaded = load_model("torchvision:resnet18", dtype="float16", train=True)
    args, _ = make_inputs(loaded, [TensorRequest((1, 3, 32, 32))])
    assert args[0].dtype == torch.float16 and loaded.model.training


class Outer(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inner = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(5, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)


def test_call_trace_names_the_innermost_module_and_removes_its_hooks() -> None:
    model = Outer()
    hooks = dict(torch.nn.modules.module._global_forward_pre_hooks)
    with CallTrace(model) as trace, pytest.raises(RuntimeError) as raised:
        model(torch.randn(3, 4))
    assert trace.innermost == ("inner.1", "Linear", ((3, 4),))
    assert dict(torch.nn.modules.module._global_forward_pre_hooks) == hooks
    message = describe_failure(raised.value, trace, "cpu")
    assert message.startswith("module 'inner.1' (Linear) rejected inputs of shapes [[3, 4]]: "
                              "RuntimeError: ")
    assert "\n" not in message


def test_describe_failure_outside_modules_and_on_meta() -> None:
    with CallTrace(Outer()) as trace:
        pass                                       # nothing running: the error came from elsewhere
    error = RuntimeError("Tensor.item() cannot be called on meta tensors\nmore detail")
    message = describe_failure(error, trace, "meta")
    assert message == ("the model failed outside any module's forward: RuntimeError: "
                       "Tensor.item() cannot be called on meta tensors; the model needs real "
                       "values here, try --device cpu")


def test_describe_failure_suggests_half_precision_for_half_only_kernels() -> None:
    with CallTrace(Outer()) as trace:
        pass
    # the message of torch's grouped GEMM (transformers' Mixtral experts) on float32 weights
    error = RuntimeError("Expected mat_a to be BFloat16 or supported Float16 matrix, got torch.float32.")
    assert describe_failure(error, trace, "meta").endswith("try --model-dtype bfloat16")
    assert "model-dtype" not in describe_failure(RuntimeError("shape mismatch"), trace, "meta")


def test_describe_failure_at_the_root_names_the_model_class() -> None:
    class Picky(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise ValueError(f"expected 2 dims, got {x.dim()}")

    model = Picky()
    with CallTrace(model) as trace, pytest.raises(ValueError) as raised:
        model(torch.zeros(1, 2, 3))
    assert describe_failure(raised.value, trace, "cpu") == (
        "the model (Picky) rejected inputs of shapes [[1, 2, 3]]: ValueError: expected 2 dims, got 3")


def test_keyword_inputs_add_to_defaults_or_replace_them(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(
        {"model_type": "gpt2", "n_layer": 1, "n_embd": 32, "n_head": 2, "vocab_size": 50}))
    loaded = load_model(f"hf:{tmp_path}")
    args, kwargs = make_inputs(loaded, kwargs={"input_ids": TensorRequest((2, 7))})
    assert args == () and kwargs["input_ids"].shape == (2, 7)        # replaces the default
    assert make_inputs(loaded)[0][0].shape == (1, 128)


def test_describe_failure_says_how_to_pass_missing_forward_arguments() -> None:
    trace = CallTrace(torch.nn.Linear(2, 2))
    error = TypeError("Net.forward() missing 2 required positional arguments: 'a' and 'b'")
    message = describe_failure(error, trace, "meta")
    assert message.startswith("the model failed outside any module's forward: TypeError: ")
    assert "'a' and 'b'; pass each with --kwarg NAME=SHAPE[:DTYPE]" in message
    assert "\n" not in message
    assert "--kwarg" not in describe_failure(TypeError("unsupported operand"), trace, "meta")
