"""The memory tracker in a run without backward: no saved tensor kept, the same figures.

Every expectation is arithmetic over the case's dimensions (float32: 4 bytes per element).
"""

from __future__ import annotations

import weakref

import pytest
import torch

from flopwise.capture.mode import CountingMode
from flopwise.capture.scope import ModuleScope
from flopwise.errors import UsageError
from flopwise.formulas import builtin_registry
from flopwise.memory import MemoryTracker

ROWS, WIDTH = 4, 256
BLOCK = ROWS * WIDTH * 4                  # one [4, 256] float32 tensor: 4 KiB


def _run(keep_saved: bool) -> tuple[MemoryTracker, weakref.ref[torch.UntypedStorage], torch.Tensor]:
    """x @ w, relu, × 3, + 1 on real CPU tensors; the relu's output is dropped by the caller
    while relu's graph node still saves it. Returns the tracker, a weak reference to the relu
    output's storage, and the last output (which keeps the graph alive)."""
    torch.manual_seed(0)
    x = torch.randn(ROWS, WIDTH)
    w = torch.randn(WIDTH, WIDTH, requires_grad=True)
    tracker = MemoryTracker(keep_saved=keep_saved)
    with tracker.tracking(state=(w,), inputs=(x,)), \
            CountingMode(builtin_registry(), ModuleScope({}), (tracker,)):
        h = x @ w                # live: h                       = 1 block (mm saves x)
        a = h.relu()             # live: h, a                    = 2 blocks (relu saves a)
        del h
        c = a * 3                # live: a, c                    = 2 blocks (saves nothing)
        storage = weakref.ref(a.untyped_storage())
        del a                    # the model is done with a; relu's graph node saved it
        d = c + 1                # run: a (saved), c, d = 3 blocks; inference: c, d = 2 blocks
    return tracker, storage, d


@pytest.mark.parametrize("keep_saved", [True, False], ids=["keep", "drop"])
def test_the_figures_do_not_depend_on_keeping_saved_tensors(keep_saved: bool) -> None:
    tracker, _, _ = _run(keep_saved)
    trace = tracker.trace()
    assert trace.activation_peak_bytes == 2 * BLOCK
    assert trace.forward_peak_bytes == 3 * BLOCK          # the saved relu output still counts
    assert trace.saved_for_backward_bytes == 2 * BLOCK    # x (an input) and a
    assert trace.saved_tensors == 2


def test_without_backward_the_graph_keeps_no_storage_alive() -> None:
    _, kept, graph = _run(keep_saved=True)
    assert kept() is not None          # the graph's alias holds the relu output's storage
    _, dropped, graph = _run(keep_saved=False)
    assert dropped() is None           # only a token: the storage went with the last tensor
    assert graph.grad_fn is not None   # while the graph itself is still alive


def test_a_forward_that_differentiates_without_backward_is_told_what_to_pass() -> None:
    _, _, d = _run(keep_saved=False)
    with pytest.raises(UsageError, match="backward=True"):
        d.sum().backward()


def test_meta_tensors_keep_their_aliases() -> None:
    x = torch.empty(ROWS, WIDTH, device="meta")
    w = torch.empty(WIDTH, WIDTH, device="meta", requires_grad=True)
    tracker = MemoryTracker(keep_saved=False)
    with tracker.tracking(state=(w,), inputs=(x,)), \
            CountingMode(builtin_registry(), ModuleScope({}), (tracker,)):
        y = (x @ w).relu()
    grad, = torch.autograd.grad(y.sum(), w)          # unpacks the aliases: nothing to hold
    assert grad.shape == (WIDTH, WIDTH)
    assert tracker.trace().saved_for_backward_bytes == 2 * BLOCK   # x and the relu output
