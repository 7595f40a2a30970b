"""The one global module-hook stack: which of the model's modules is running now.

:class:`HookStack` installs torch's global forward pre-hook and forward hook (``always_call``,
so a module whose forward raised still leaves) for as long as it is entered, maps each module to
its name through the walk's ``{id(module): name}`` and keeps the stack of running names.
Subclasses react to entries and exits (:meth:`entered`, :meth:`left`): counting attributes ops
(:class:`~flopwise.capture.scope.ModuleScope`), timing stamps them
(:mod:`flopwise.timing`). Modules not in the map (another model's) are ignored; nothing is
attached to the user's modules.

>>> import torch
>>> class Seen(HookStack):
...     def entered(self, name, module, args):
...         self.log.append((name, list(self.running)))
>>> model = torch.nn.Sequential(torch.nn.Linear(2, 2))
>>> with Seen({id(m): n for n, m in model.named_modules()}) as seen:
...     seen.log = []
...     _ = model(torch.ones(1, 2))
>>> seen.log
[('', ['']), ('0', ['', '0'])]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self is 3.11+; flopwise supports 3.10

__all__ = ["HookStack"]


class HookStack:
    """Global forward hooks that keep the stack of running module names (see the module)."""

    def __init__(self, names: Mapping[int, str]) -> None:
        self.names = names
        self.running: list[str] = []
        self._handles: list[Any] = []

    # -- what subclasses override ----------------------------------------------------------
    def active(self) -> bool:
        """Whether entries and exits are tracked now (e.g. only during forward)."""
        return True

    def entered(self, name: str, module: Any, args: Any) -> None:
        """Called after ``name`` was pushed."""

    def left(self, name: str, module: Any, output: Any) -> None:
        """Called after ``name`` (and anything a raise left above it) was popped."""

    # -- the hooks -------------------------------------------------------------------------
    def _pre(self, module: Any, args: Any) -> None:
        name = self.names.get(id(module))
        if name is None or not self.active():
            return
        self.running.append(name)
        self.entered(name, module, args)

    def _post(self, module: Any, args: Any, output: Any) -> None:
        name = self.names.get(id(module))
        if name is None or not self.active():
            return
        self._pop(name)
        self.left(name, module, output)

    def _pop(self, name: str) -> None:
        """Pop ``name``: the innermost entry, or (a forward raised inside it) the innermost
        entry for it and everything above."""
        running = self.running
        if running and running[-1] == name:
            running.pop()
            return
        for index in range(len(running) - 1, -1, -1):
            if running[index] == name:
                del running[index:]
                break

    def install(self) -> None:
        """Register the global hooks (undone by :meth:`remove`, always in a ``finally``)."""
        from torch.nn.modules import module

        self._handles = [module.register_module_forward_pre_hook(self._pre),
                         module.register_module_forward_hook(self._post, always_call=True)]

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> Self:
        self.install()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()
