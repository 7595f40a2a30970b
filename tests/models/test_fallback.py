"""Retries when the default device or dtype cannot run a model (flopwise.models.fallback)."""

from __future__ import annotations

import pytest
import torch

from flopwise.errors import ModelRunError
from flopwise.models import LoadedModel, fallback
from flopwise.models.fallback import Attempt, model_bytes, needs_half, needs_values, next_attempt

META_ITEM = RuntimeError("Tensor.item() cannot be called on meta tensors")
HALF_ONLY = RuntimeError("Expected mat_a to be BFloat16 or supported Float16 matrix, got "
                         "torch.float32")


def _loaded(declared: str | None = None) -> LoadedModel:
    with torch.device("meta"):
        model = torch.nn.Linear(1024, 1024)            # 1024·1024 + 1024 float32 values
    return LoadedModel("hf:toy", "hf", model, declared_dtype=declared)


@pytest.mark.parametrize(("error", "values", "half"), [
    (META_ITEM, True, False),
    (RuntimeError("Tensor on device cpu is not on the expected device meta!"), True, False),
    (NotImplementedError("The register_meta function for torch.nonzero() raises unimplemented"),
     True, False),
    (HALF_ONLY, False, True),
    (ValueError("Input image size (64*64) doesn't match model (32*32)"), False, False),
], ids=["item", "cpu-made-tensor", "nonzero", "half-only", "shape-mismatch"])
def test_which_errors_ask_for_which_retry(error: Exception, values: bool, half: bool) -> None:
    assert (needs_values(error), needs_half(error)) == (values, half)


def test_meta_falls_back_to_the_cpu_when_the_weights_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = _loaded()
    assert model_bytes(loaded.model) == (1024 * 1024 + 1024) * 4
    monkeypatch.setattr(fallback, "available_bytes", lambda: 2**40)
    retry = next_attempt(META_ITEM, loaded, Attempt("meta"))
    assert retry is not None and retry.device == "cpu" and retry.model_dtype is None
    # cheap hf weights: room for a copy of the one 4 MiB weight (1024 · 1024 · 4 B), no buffers
    assert "rebuilt on the CPU" in retry.reason and "4 MiB" in retry.reason
    assert next_attempt(META_ITEM, loaded, retry) is None       # no second CPU retry


def test_a_model_too_large_for_memory_is_refused_in_one_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fallback, "available_bytes", lambda: 6 * 2**20)  # 4 MiB > half of 6
    with pytest.raises(ModelRunError) as raised:
        next_attempt(META_ITEM, _loaded(), Attempt("meta"))
    message = str(raised.value)
    assert "\n" not in message and "4 MiB" in message and "--device" in message


def test_other_sources_need_all_their_weights_on_the_cpu() -> None:
    loaded = _loaded()
    timm_like = LoadedModel("timm:toy", "timm", loaded.model)
    assert fallback.retry_bytes(timm_like) == (1024 * 1024 + 1024) * 4
    assert fallback.retry_bytes(loaded) == 1024 * 1024 * 4


def _language_model(tied: bool) -> LoadedModel:
    with torch.device("meta"):
        embed, head = torch.nn.Embedding(5000, 64), torch.nn.Linear(64, 5000, bias=False)
        body = torch.nn.Linear(64, 256)
    if tied:
        head.weight = embed.weight
    return LoadedModel("hf:toy", "hf", torch.nn.Sequential(embed, body, head))


@pytest.mark.parametrize(("tied", "expected"), [
    (False, 5000 * 64 * 4),        # the untied head's 5000 × 64 weight (the table: lookups only)
    (True, 5000 * 64 * 4),         # the tied table, copied by the head's matmul
], ids=["untied", "tied"])
def test_the_retry_counts_the_largest_weight_an_op_copies(tied: bool, expected: int) -> None:
    assert fallback.retry_bytes(_language_model(tied)) == expected


def test_an_embedding_table_read_by_lookups_only_needs_no_room() -> None:
    with torch.device("meta"):
        model = torch.nn.Sequential(torch.nn.Embedding(5000, 64), torch.nn.Linear(64, 256))
    # only the 256 × 64 weight is copied whole; the 5000 × 64 table is read a row at a time
    assert fallback.retry_bytes(LoadedModel("hf:toy", "hf", model)) == 256 * 64 * 4


def test_a_backward_retry_needs_room_for_every_gradient(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = _language_model(False)
    params = 5000 * 64 + (64 * 256 + 256) + 64 * 5000          # table, body, head
    assert fallback.retry_bytes(loaded, backward=True) == 5000 * 64 * 4 + params * 4
    monkeypatch.setattr(fallback, "available_bytes", lambda: 2**40)
    retry = next_attempt(META_ITEM, loaded, Attempt("meta"), backward=True)
    assert retry is not None and f"{(5000 * 64 * 4 + params * 4) / 2**20:.0f} MiB" in retry.reason


def test_a_sweep_can_cap_the_cpu_retry_below_half_the_free_memory(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fallback, "available_bytes", lambda: 2**40)
    monkeypatch.setenv("FLOPWISE_FALLBACK_MAX_BYTES", str(2 * 2**20))   # 2 MiB < the 8 MiB
    with pytest.raises(ModelRunError) as raised:
        next_attempt(META_ITEM, _loaded(), Attempt("meta"))
    assert "\n" not in str(raised.value) and "2 MiB the CPU retry may use" in str(raised.value)


@pytest.mark.parametrize(("declared", "chosen"), [(None, "bfloat16"), ("float32", "bfloat16"),
                                                   ("float16", "float16")],
                         ids=["none", "float32", "float16"])
def test_half_only_kernels_take_the_declared_dtype_or_bf16(declared: str | None,
                                                           chosen: str) -> None:
    retry = next_attempt(HALF_ONLY, _loaded(declared), Attempt("meta"))
    assert retry is not None and (retry.device, retry.model_dtype) == ("meta", chosen)
    # the user's own --model-dtype is never overridden
    assert next_attempt(HALF_ONLY, _loaded(declared), Attempt("meta", "float32")) is None
