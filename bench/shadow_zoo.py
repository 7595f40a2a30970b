"""Shadow counts equal real-run counts over the whole torchvision classification zoo (issue 18,
must-show 1).

    python bench/shadow_zoo.py [NAME ...]      # default: all 80 architectures (about 15 min)

Each model is built with random weights on the CPU (the large ones cheaply: on meta, then
``to_empty`` and a uniform fill; the values do not matter to these models' counts, only that
they are real), then profiled twice: by default (on meta shadows, nothing computed) and with
``execute="always"`` (a real forward). Every op event (op, module, phase, MACs, elementwise work,
bytes read and written, dtype, shapes) must be equal, and so must the parameter counts. A line
per model, then the summary; exit status 1 if any differs. CI runs a deterministic sample of it
(tests/bench/test_shadow_zoo.py).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import torch
import torchvision
from torchvision.models import list_models

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

import flopwise  # noqa: E402
from flopwise.models import build_torchvision  # noqa: E402

NAMES = list_models(module=torchvision.models)
#: The input side each model runs at: 64 px, or the one its architecture accepts (ViTs: the
#: image size their DEFAULT weights were built for).
SIDES = {"inception_v3": 96, "maxvit_t": 224, "vit_h_14": 518}


def side_of(name: str) -> int:
    return SIDES.get(name, 224 if name.startswith("vit_") else 64)


def real_model(name: str) -> torch.nn.Module:
    """``name`` with real (random, finite) weights on the CPU, in eval mode, built on meta and
    filled: floating parameters uniform in ±0.05, floating buffers 1, others 0."""
    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore")
        model = build_torchvision(name)
    model = model.to_empty(device="cpu").eval()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            param.uniform_(-0.05, 0.05, generator=generator)
        for buffer in model.buffers():
            buffer.fill_(1 if buffer.is_floating_point() else 0)
    return model


def compare(name: str) -> tuple[bool, str]:
    """(equal, a one-line summary) for ``name``: shadow vs real-run events and params."""
    model = real_model(name)
    x = torch.randn(1, 3, side_of(name), side_of(name))
    shadow = flopwise.profile(model, x)
    real = flopwise.profile(model, x, execute="always")
    same = (shadow.events == real.events and shadow.total.params == real.total.params
            and shadow.run.executed == "shadow" and real.run.executed == "real")
    first = next((i for i, (a, b) in enumerate(zip(shadow.events, real.events)) if a != b),
                 min(len(shadow.events), len(real.events)))
    detail = "" if same else (
        f" ({shadow.run.executed}; {len(real.events)} real events; first difference at event "
        f"{first}: {shadow.events[first] if first < len(shadow.events) else None!r})")
    return same, (f"{name}: {len(shadow.events)} events, {shadow.total.macs:,} MACs, "
                  f"{'equal' if same else 'DIFFERENT'}{detail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=NAMES)
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    equal = 0
    for name in args.names:
        same, line = compare(name)
        equal += same
        print(line, flush=True)
    print(f"{equal} / {len(args.names)} torchvision models: shadow counts equal real-run counts "
          f"({time.perf_counter() - start:.0f} s)")
    return 0 if equal == len(args.names) else 1


if __name__ == "__main__":
    sys.exit(main())
