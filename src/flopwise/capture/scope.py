"""Which module is running: global module hooks for forward, autograd sequence numbers for
backward.

Forward: the global forward hooks of :class:`~flopwise.capture.hooks.HookStack` push and pop
the module's name (the pop also when forward raises). When the run has a backward, each push
and pop also records the autograd sequence number at that moment. Every autograd node created
in forward takes the next sequence number, so during backward the node being executed
(``torch._C._current_autograd_node()``) maps back, through those marks, to the innermost module
that was running when the node was created. Nothing is attached to the user's modules or
tensors.

On shadows, the same hooks let the stand-in mode (:mod:`flopwise.capture.stand_in`) step off
the torch-function stack while a plain ``torch.nn`` leaf runs with no hooks of its own and no
other global hooks, and put it back when the leaf returns or raises.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import TYPE_CHECKING, Any

import torch
from torch.nn.modules import module as _module
from torch.utils._pytree import tree_leaves

from flopwise.capture.events import Phase
from flopwise.capture.hooks import HookStack
from flopwise.capture.stand_in import PLAIN_LEAVES

if TYPE_CHECKING:
    from flopwise.capture.stand_in import StandIn

__all__ = ["ModuleScope"]

ROOT = ""


def _output_bytes(output: Any) -> int:
    """The bytes of the tensors in a module's output."""
    if type(output) is torch.Tensor:  # the common case, without a pytree walk
        return output.numel() * output.element_size()
    return sum(t.numel() * t.element_size() for t in tree_leaves(output)
               if isinstance(t, torch.Tensor))


def _hookless(module: Any) -> bool:
    """Whether no code but the module's own forward runs between this scope's global hooks: no
    hooks of its own, and no other global ones."""
    return (not module._forward_pre_hooks and not module._forward_hooks
            and len(_module._global_forward_pre_hooks) == 1
            and len(_module._global_forward_hooks) == 1)


class ModuleScope(HookStack):
    """Tracks the innermost running module and the phase, for one profile run."""

    def __init__(self, names: dict[int, str], backward: bool = True) -> None:
        """``backward``: whether the run may have a backward to attribute (the sequence marks
        are kept only then)."""
        super().__init__(names)
        self._mark_seq: list[int] = []
        self._mark_name: list[str] = []
        self._marks = backward
        self.phase = Phase.FORWARD
        self.calls: dict[str, int] = {}
        self.output_bytes: dict[str, int] = {}
        #: the shadows' stand-in mode, which steps aside while a plain torch.nn leaf runs
        self.stand_in: StandIn | None = None
        self._aside: int | None = None   # id of the module it stepped aside for
        self._mark()

    # -- hooks (HookStack's, specialised: they run around every module call) -------------------
    def _mark(self) -> None:
        self._mark_seq.append(torch._C._autograd._get_sequence_nr())
        self._mark_name.append(self.running[-1] if self.running else ROOT)

    def active(self) -> bool:
        return self.phase is Phase.FORWARD

    def _pre(self, module: Any, args: Any) -> None:
        name = self.names.get(id(module))
        if name is None or self.phase is not Phase.FORWARD:
            return
        self.running.append(name)
        calls = self.calls
        calls[name] = calls.get(name, 0) + 1
        if self._marks:
            self._mark()
        stand_in = self.stand_in
        if (stand_in is not None and self._aside is None and type(module) in PLAIN_LEAVES
                and _hookless(module) and stand_in.step_aside(module)):
            self._aside = id(module)

    def _post(self, module: Any, args: Any, output: Any) -> None:
        name = self.names.get(id(module))
        if name is None or self.phase is not Phase.FORWARD:
            return
        self._pop(name)
        if output is not None:
            sizes = self.output_bytes
            # NB: read with no torch-function mode on the stack (the shadows' stand-in, or the
            # user's own: it must not see these reads, and through a Python mode each numel
            # costs microseconds): after a plain leaf the stand-in is still aside, and usually
            # nothing else is there; else modes are switched off for the read
            if not torch._C._len_torch_function_stack():
                size = _output_bytes(output)
            else:
                with torch._C.DisableTorchFunction():
                    size = _output_bytes(output)
            sizes[name] = sizes.get(name, 0) + size
        if self._aside == id(module) and self.stand_in is not None:
            self.stand_in.step_back()
            self._aside = None
        if self._marks:
            self._mark()

    # -- queries -----------------------------------------------------------------------------
    def current(self) -> str:
        """The module an op running now belongs to."""
        if self.phase is Phase.FORWARD:
            return self.running[-1] if self.running else ROOT
        if self.phase is Phase.BACKWARD:
            node = torch._C._current_autograd_node()
            if node is not None:
                return self.module_of_sequence(node._sequence_nr())
        return ROOT

    def module_of_sequence(self, sequence_nr: int) -> str:
        """The innermost module that was running when the node ``sequence_nr`` was created."""
        index = bisect_right(self._mark_seq, sequence_nr) - 1
        return self._mark_name[index] if index >= 0 else ROOT
