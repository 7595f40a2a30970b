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


# -- the CPU retry's memory: activations counted, allocation failures in one line ------------
SIDE = 1024
BLOCK = SIDE * SIDE * 4                   # one [1024, 1024] float32 tensor: 4 MiB
WEIGHTS = (SIDE * SIDE + SIDE) * 4        # the Linear's weight and bias


class _Gated(torch.nn.Module):
    """x W + b, relu, then a branch on a value (``.item()``: the shape-only run stops there)."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(SIDE, SIDE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lin(x)
        r = h.relu()
        return r * 2 if r.sum().item() > 0 else r


def _retry(budget: int, weights: int = 0) -> Attempt:
    return Attempt("cpu", budget_bytes=budget, weights_bytes=weights, cause=str(META_ITEM))


@pytest.mark.parametrize(("weights", "budget", "needed"), [
    (0, 2 * BLOCK, "8 MiB"),                       # h and r live at the .item(), plus 4 B
    (WEIGHTS, 3 * BLOCK, "12 MiB"),                # the same and the 4 MiB + 4 KiB of weights
], ids=["activations", "weights-and-activations"])
def test_a_retry_whose_shadow_activations_do_not_fit_is_refused_before_computing(
        weights: int, budget: int, needed: str) -> None:
    import flopwise

    guard = fallback.RetryGuard(_retry(budget, weights), "hf:toy")
    with pytest.raises(ModelRunError) as raised:
        flopwise.profile(_Gated(), torch.randn(SIDE, SIDE), memory=True, observers=(guard,))
    message = str(raised.value)
    assert "\n" not in message and "--device" in message
    assert f"at least {needed}" in message and "the CPU retry may use" in message


def test_a_retry_that_fits_runs_for_real() -> None:
    import flopwise

    guard = fallback.RetryGuard(_retry(2**30, WEIGHTS), "hf:toy")
    report = flopwise.profile(_Gated(), torch.randn(SIDE, SIDE), memory=True,
                              observers=(guard,))
    assert report.run.executed.startswith("real")
    assert report.total.macs == SIDE * SIDE * SIDE               # the one [1024²] × [1024²]


def _resident(monkeypatch: pytest.MonkeyPatch, readings: dict[str, int]) -> None:
    """Resident memory as ``readings["now"]``; a trim frees down to ``readings["freed_to"]``."""
    def trimmed() -> int:
        readings["now"] = readings.pop("freed_to", readings["now"])
        return readings["now"]

    monkeypatch.setattr(fallback, "resident_bytes", lambda: readings["now"])
    monkeypatch.setattr(fallback, "_trimmed_resident_bytes", trimmed)


@pytest.mark.parametrize(("freed_to", "stopped"), [
    (2**30 + 40 * 2**20, True),        # nothing to hand back: 40 MiB grown > the 32 MiB budget
    (2**30 + 10 * 2**20, False),       # the allocator's free pages: 10 MiB really grown
], ids=["grown", "allocator-cache"])
def test_a_retry_growing_past_its_budget_is_stopped_in_one_line(
        monkeypatch: pytest.MonkeyPatch, freed_to: int, stopped: bool) -> None:
    import flopwise

    readings = {"now": 2**30}                                    # 1 GiB when the guard starts
    _resident(monkeypatch, readings)
    guard = fallback.RetryGuard(_retry(8 * BLOCK), "hf:toy")     # a 32 MiB budget
    readings.update(now=2**30 + 40 * 2**20, freed_to=freed_to)  # what the run's op finds
    x = torch.randn(4, 4)
    if not stopped:
        flopwise.profile(lambda t: t * 2, x, memory=True, execute="always", observers=(guard,))
        return
    with pytest.raises(ModelRunError) as raised:
        flopwise.profile(lambda t: t * 2, x, memory=True, execute="always", observers=(guard,))
    message = str(raised.value)
    assert "\n" not in message and "more than 40 MiB by aten.mul.Tensor" in message


@pytest.mark.parametrize("error", [
    RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate "
                 "memory: you tried to allocate 4294967296 bytes. Error code 12"),
    MemoryError(),
], ids=["cpu-allocator", "memory-error"])
def test_an_allocation_failure_in_the_retry_is_one_line(error: Exception) -> None:
    with pytest.raises(ModelRunError) as raised:
        next_attempt(error, _loaded(), _retry(2 * 2**30))
    message = str(raised.value)
    assert "\n" not in message and "2.0 GiB the CPU retry may use" in message
    assert message.startswith("hf:toy needs real values (Tensor.item()") and "--device" in message


def test_a_meta_attempt_has_no_guard() -> None:
    assert not fallback.RetryGuard(Attempt("meta"), "hf:toy").active
