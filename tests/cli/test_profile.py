"""``flopwise profile`` end to end through typer's CliRunner (and a subprocess for ``-m``)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flopwise.cli import app

runner = CliRunner()

# resnet18 at 224: torchvision's published figures (weights enum metadata)
RESNET18_PARAMS = 11_689_512
RESNET18_MACS = 1_814_073_344      # meta["_ops"] = 1.814 GMACs


def invoke(*args: str) -> object:
    return runner.invoke(app, ["profile", *args])


def assert_one_line_error(result: object, code: int, *fragments: str) -> None:
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


def test_torchvision_on_meta_defaults_to_the_eval_crop() -> None:
    result = invoke("torchvision:resnet18", "--depth", "1")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "torchvision:resnet18 (ResNet) · meta · inputs [1, 3, 224, 224] · forward" in out
    assert "Modules (FLOPs: standard)" in out
    assert f"params            11.69 M ({RESNET18_PARAMS:,})" in out
    assert f"MACs              1.81 G ({RESNET18_MACS:,})" in out
    assert "  layer4 " in out and "layer4.0" not in out          # --depth 1
    assert "\x1b[" not in out                                    # no colour when piped


def test_json_has_schema_1_and_the_convention() -> None:
    result = invoke("torchvision:resnet18", "--format", "json", "--convention", "macs")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["schema"] == 2
    assert data["convention"] == "macs"
    assert data["total"]["params"] == RESNET18_PARAMS
    assert data["total"]["macs"] == data["total"]["flops"] == RESNET18_MACS
    assert data["run"]["inputs"] == [[1, 3, 224, 224]]
    assert data["run"]["mode"] == "meta"


def test_backward_shows_phases_and_convention_in_csv(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    result = invoke("torchvision:resnet18", "--input", "2,3,64,64", "--backward",
                    "-f", "csv", "-o", str(out), "--columns", "name,macs,forward_flops,backward_flops")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    lines = out.read_text().splitlines()
    assert lines[0] == "name,macs,forward_flops,backward_flops,called,convention"
    root = lines[1].split(",")
    assert root[0] == "" and root[-1] == "standard"
    assert int(root[3]) > int(root[2]) > 0                       # backward > forward


def test_tree_and_markdown_formats() -> None:
    tree = invoke("torchvision:resnet18", "-f", "tree", "-d", "1")
    assert tree.exit_code == 0, tree.output
    assert "├── layer1 (Sequential)" in tree.stdout
    markdown = invoke("torchvision:resnet18", "-f", "md", "-d", "0")
    assert markdown.exit_code == 0, markdown.output
    assert "### Totals (convention: standard)" in markdown.stdout
    assert "| (root) | ResNet |" in markdown.stdout


def test_malformed_shape_is_a_usage_error() -> None:
    assert_one_line_error(invoke("torchvision:resnet18", "--input", "1,3,two,224"), 2,
                          "malformed shape '1,3,two,224'")


def test_unknown_torchvision_model_suggests_close_names() -> None:
    assert_one_line_error(invoke("torchvision:resnet19"), 1,
                          "unknown torchvision model 'resnet19'", "resnet18")


def test_bare_name_suggests_the_torchvision_spec() -> None:
    assert_one_line_error(invoke("resnet18"), 2, "did you mean torchvision:resnet18?")


def test_shape_the_model_rejects_names_the_module() -> None:
    assert_one_line_error(
        invoke("torchvision:resnet18", "--input", "1,4,64,64"), 1,
        "module 'conv1' (Conv2d) rejected inputs of shapes [[1, 4, 64, 64]]: RuntimeError:")


def test_bad_options_are_usage_errors() -> None:
    assert_one_line_error(invoke("torchvision:resnet18", "--columns", "name,flop"), 2,
                          "did you mean flops")
    assert_one_line_error(invoke("torchvision:resnet18", "-c", "stndard"), 2,
                          "did you mean standard")
    assert_one_line_error(invoke("torchvision:resnet18", "--dtype", "float33", "-i", "1,3,8,8"),
                          2, "unknown dtype 'float33'")
    assert_one_line_error(invoke("torchvision:resnet18", "--device", "tpu"), 2, "unknown device")


def test_missing_file_factory(tmp_path: Path) -> None:
    assert_one_line_error(invoke(f"{tmp_path}/absent.py:build"), 1, "no such file")


FACTORY = textwrap.dedent('''
    import torch


    @torch.library.custom_op("flopwise_cli_test::mystery", mutates_args=())
    def mystery(x: torch.Tensor) -> torch.Tensor:
        return x.clone()


    @mystery.register_fake
    def _(x):
        return torch.empty_like(x)


    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(8, 4)

        def forward(self, x):
            return mystery(self.fc(x)) if x.shape[0] == 3 else self.fc(x)


    def build():
        return Net()


    def build_with_inputs():
        return Net(), torch.randn(2, 8)
''')


@pytest.fixture(scope="module")
def factory_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("factory") / "my_models.py"
    path.write_text(FACTORY)
    return path


def test_file_factory_with_its_own_example_inputs(factory_file: Path) -> None:
    result = invoke(f"{factory_file}:build_with_inputs", "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["run"]["inputs"] == [[2, 8]]
    assert data["total"]["macs"] == 2 * 8 * 4                      # rows · in · out
    assert data["total"]["params"] == 8 * 4 + 4
    assert data["unsupported"] == {}


def test_file_factory_needs_input_without_examples(factory_file: Path) -> None:
    assert_one_line_error(invoke(f"{factory_file}:build"), 2, "pass --input SHAPE")
    result = invoke(f"{factory_file}:build", "--input", "5,8")
    assert result.exit_code == 0, result.output
    assert "MACs              160" in result.stdout                 # 5 · 8 · 4


def test_unknown_factory_name_suggests_close_names(factory_file: Path) -> None:
    assert_one_line_error(invoke(f"{factory_file}:biuld"), 1, "no callable 'biuld'", "build")


def test_strict_exits_3_on_an_op_without_formula(factory_file: Path) -> None:
    lenient = invoke(f"{factory_file}:build", "--input", "3,8")
    assert lenient.exit_code == 0, lenient.output
    assert "flopwise_cli_test.mystery.default       1" in lenient.stdout
    assert "--strict" in lenient.stdout
    strict = invoke(f"{factory_file}:build", "--input", "3,8", "--strict")
    assert_one_line_error(strict, 3, "strict mode", "flopwise_cli_test.mystery.default ×1")


def test_unsupported_ops_warn_on_stderr_for_json(factory_file: Path) -> None:
    result = invoke(f"{factory_file}:build", "--input", "3,8", "-f", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["unsupported"] == {"flopwise_cli_test.mystery.default": 1}
    assert "not counted: flopwise_cli_test.mystery.default ×1" in result.stderr


def test_hf_tiny_gpt2_config_on_meta(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    layers, hidden, heads, vocab, positions, tokens = 2, 64, 4, 1000, 128, 16
    config.write_text(json.dumps({
        "model_type": "gpt2", "n_layer": layers, "n_embd": hidden, "n_head": heads,
        "vocab_size": vocab, "n_positions": positions, "bos_token_id": 0, "eos_token_id": 0,
    }))
    result = invoke(f"hf:{config}", "--input", f"1,{tokens}", "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["run"]["inputs"] == [[1, tokens]]
    # per layer: qkv h·3h, out h·h, MLP 2·h·4h = 12h² MACs per token; attention 2·T·h per token
    layer = tokens * 12 * hidden**2 + 2 * tokens * tokens * hidden
    head = tokens * hidden * vocab                                 # tied LM head
    assert data["total"]["macs"] == layers * layer + head
    per_layer_params = 12 * hidden**2 + 13 * hidden                # weights + biases + 2 LNs
    assert data["total"]["params"] == (vocab + positions) * hidden + layers * per_layer_params + 2 * hidden


def test_hf_backward_counts_both_phases(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_type": "gpt2", "n_layer": 1, "n_embd": 32, "n_head": 2,
                                  "vocab_size": 100, "bos_token_id": 0, "eos_token_id": 0}))
    result = invoke(f"hf:{config}", "--input", "2,8", "--backward", "-f", "json")
    assert result.exit_code == 0, result.output
    phases = json.loads(result.stdout)["phases"]
    assert set(phases) == {"forward", "backward"}
    # no input needs grad, yet every weight does: backward has about twice the forward MACs
    assert phases["forward"]["macs"] < phases["backward"]["macs"] <= 2 * phases["forward"]["macs"]


def test_hf_unknown_model_type_is_not_downloaded() -> None:
    assert_one_line_error(invoke("hf:gpt-2"), 1, "unknown transformers model type 'gpt-2'",
                          "gpt2", "nothing is downloaded")


def test_python_m_flopwise_help() -> None:
    result = subprocess.run([sys.executable, "-m", "flopwise", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "profile" in result.stdout and "ops" in result.stdout


def test_profile_help_lists_every_option() -> None:
    result = runner.invoke(app, ["profile", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in ("--input", "--dtype", "--kwarg", "--device", "--backward", "--convention",
                   "--depth", "--columns", "--format", "--output", "--strict", "--train"):
        assert option in result.stdout


# -- --generate and --batch: the serving section ------------------------------------------
H, HEADS, KV_HEADS, D, FFN, VOCAB, LAYERS = 64, 4, 2, 16, 128, 100, 2


@pytest.fixture(scope="module")
def llama_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("llama") / "config.json"
    path.write_text(json.dumps({
        "model_type": "llama", "hidden_size": H, "intermediate_size": FFN,
        "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS, "vocab_size": VOCAB}))
    return path


def test_generate_json(llama_config: Path) -> None:
    result = runner.invoke(app, ["profile", f"hf:{llama_config}", "--generate", "prompt=10,new=6",
                                 "--batch", "1,4", "--hardware", "h100-sxm", "-c", "matmul",
                                 "-f", "json"])
    assert result.exit_code == 0, result.output
    serving = json.loads(result.stdout)["serving"]
    assert (serving["prompt_tokens"], serving["new_tokens"], serving["cache"]) == (10, 6, "dynamic")
    # 2·(2 layers·(12288 projections + 24576 MLP) + 64·100 head) = 160256, 2·2 layers·2·64 per key
    assert serving["decode"][0]["flops_formula"] == "160256 + 512·c"
    assert serving["kv_bytes_end"] == 2 * LAYERS * KV_HEADS * D * 4 * 15     # c = 10 + 5
    assert [row["batch"] for row in serving["hardware"]["times"]] == [1, 4]


def test_generate_table(llama_config: Path) -> None:
    result = runner.invoke(app, ["profile", f"hf:{llama_config}", "--generate",
                                 "prompt=10,new=6,cache=static", "--hardware", "h100-sxm"])
    assert result.exit_code == 0, result.output
    assert "Serving: 1 × 10 prompt tokens + 6 new, static cache" in result.stdout
    assert "h100-sxm, batch 1" in result.stdout and "TTFT" in result.stdout


@pytest.mark.parametrize(("args", "fragment"), [
    (["--generate", "prompt=10"], "needs both prompt= and new="),
    (["--generate", "prompt=10,new=1"], "new ≥ 2"),
    (["--generate", "prompt=10,new=4,cache=paged"], "cache= is dynamic or static"),
    (["--batch", "1,8"], "add --generate prompt=N,new=M"),
    (["--generate", "prompt=10,new=4", "--batch", "1,x"], "--batch takes batch sizes"),
], ids=["no-new", "one-token", "cache", "batch-alone", "batch-text"])
def test_usage_errors(llama_config: Path, args: list[str], fragment: str) -> None:
    result = runner.invoke(app, ["profile", f"hf:{llama_config}", *args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]


def test_help_lists_generate_and_batch() -> None:
    result = runner.invoke(app, ["profile", "--help"], env={"COLUMNS": "200"})
    assert "--generate" in result.stdout and "--batch" in result.stdout


VALUE_DEPENDENT = textwrap.dedent('''
    import torch

    class Gate(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(8, 8)

        def forward(self, x):
            y = self.linear(x)
            return self.linear(y) if y.abs().sum() >= 0 else y   # always true, read by value

    def build():
        return Gate()
''')


def test_a_cpu_model_is_counted_on_shadows_and_the_cli_says_so() -> None:
    result = invoke("torchvision:resnet18", "--device", "cpu", "-i", "1,3,32,32", "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["run"]["mode"] == "real" and data["run"]["executed"] == "shadow"
    assert "note: counted on shape-only shadows of the cpu model" in result.stderr


def test_execute_picks_how_a_value_dependent_model_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "gate.py"
    path.write_text(VALUE_DEPENDENT)
    auto = invoke(f"{path}:build", "--device", "cpu", "-i", "2,8", "-f", "json")
    assert auto.exit_code == 0, auto.output
    assert json.loads(auto.stdout)["run"]["executed"].startswith("real (fallback: RuntimeError")
    assert "note: counted by running the model on cpu: its code needs tensor values" in auto.stderr
    assert json.loads(auto.stdout)["total"]["macs"] == 2 * (2 * 8 * 8)   # both Linear calls
    always = invoke(f"{path}:build", "--device", "cpu", "-i", "2,8", "-f", "json",
                    "--execute", "always")
    assert json.loads(always.stdout)["run"]["executed"] == "real"
    assert_one_line_error(invoke(f"{path}:build", "--device", "cpu", "-i", "2,8",
                                 "--execute", "never"), 2, "execute='never'")
