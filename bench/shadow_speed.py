"""Counting on shadows vs one plain forward pass (issue 18, must-show 2), measured in one run.

    python bench/shadow_speed.py [--repeats 21] [--models NAME ...] [--skip-llama]
                                [--skip-llama-forward] [--write-docs]

1. real ResNet-50, MobileNetV3-Large and ViT-B/16 (random weights, batch 1, 224 px) on the CPU,
   one thread: ``flopwise.profile(model, x)`` (the default: meta shadows, nothing computed) ÷
   one forward ``model(x)``, both under ``torch.no_grad()`` as bench/peers times every tool
   (targets ≤ 0.3×, ≤ 1.0×, ≤ 0.3×); beside it, both with grad enabled (autograd records on
   both), and the count with grad enabled against the forward under no_grad (the count then
   also records autograd's own clones and detaches); ``execute="always"`` (a real run, the old
   default) and ``fake=True`` against the forward under no_grad. Each ratio is
   measured in rounds of its own after a warm-up, the two sides run side by side in
   alternating order (:class:`Pairs`), and is the median of the rounds' ratios: this machine's
   speed changes by up to 2× from one second to the next, which hits both sides of a round
   alike; and the first count in the process, before the metadata cache knows the model's
   kernels (cold);
2. a real, randomly initialised 1.1B-parameter Llama-style model (TinyLlama-1.1B's shape: 22
   layers, hidden 2048) at 2,048 tokens: the counting call once (target < 10 s) and its forward
   once (skip it with ``--skip-llama-forward``; minutes on one thread). Built cheaply: on meta,
   ``to_empty`` on the CPU, parameters filled uniform, buffers with 1 (values do not change the
   count). Needs about 6 GB;
3. where that leaves flopwise against the fastest peer of ``bench/peers`` on these models (every
   peer runs at least one forward; their ratios are read from docs/benchmarks.md).

The machine is shared: only the ratios within one run mean something.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

import flopwise  # noqa: E402

MODELS = {"resnet50": 0.3, "mobilenet_v3_large": 1.0, "vit_b_16": 0.3}   # name -> target ratio
DOCS = REPO / "docs" / "benchmarks.md"
BEGIN, END = "<!-- shadow-speed:begin -->", "<!-- shadow-speed:end -->"


class Pairs:
    """Two functions timed side by side: ``repeats`` rounds, each running both once, in
    alternating order (A B, B A, ...), so that a change of the machine's speed (here the same
    code runs up to twice as fast from one second to the next) hits both sides of a round
    alike. The ratio is the median of the rounds' ratios."""

    def __init__(self, a: Callable[[], object], b: Callable[[], object], repeats: int) -> None:
        self.a: list[float] = []
        self.b: list[float] = []
        self.a_cpu: list[float] = []
        self.b_cpu: list[float] = []
        a(), b()   # warm-up
        for index in range(repeats):
            order = ((a, self.a, self.a_cpu), (b, self.b, self.b_cpu))
            for fn, wall, cpu in order if index % 2 == 0 else order[::-1]:
                start, start_cpu = time.perf_counter(), time.process_time()
                fn()
                wall.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)

    def ratio(self) -> float:
        """Median over the rounds of b's time ÷ a's."""
        return statistics.median(b / a for a, b in zip(self.a, self.b))

    def cpu_ratio(self) -> float:
        return statistics.median(b / a for a, b in zip(self.a_cpu, self.b_cpu) if a > 0)


def vision_ratios(name: str, repeats: int) -> dict[str, float]:
    """The ratios of one vision model, each measured in rounds of its own (a real or fake run
    allocates and frees hundreds of MB, which would disturb the others): the count against one
    forward both under no_grad (the main ratio: what bench/peers measures for every tool);
    both with grad enabled; the count with grad enabled against the forward under no_grad;
    ``execute="always"`` and ``fake=True`` against the forward under no_grad (a third as many
    rounds)."""
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None).eval()
    x = torch.randn(1, 3, 224, 224)

    def forward() -> None:
        with torch.no_grad():
            model(x)

    def count() -> None:
        flopwise.profile(model, x)

    def count_no_grad() -> None:
        with torch.no_grad():
            flopwise.profile(model, x)

    forward()
    start = time.perf_counter()
    count()   # the first count in the process: torch's Python meta kernels, once each
    first = time.perf_counter() - start
    # NB: the main pairs come first, in a process that has run only no_grad forwards, as in
    # bench/peers; a forward with grad enabled (run below for its own ratio) leaves glibc's
    # allocator holding more memory, which makes later no_grad forwards faster
    main = Pairs(forward, count_no_grad, repeats)
    few = max(3, repeats // 3)
    result = {
        "forward": statistics.median(main.a), "shadow": statistics.median(main.b),
        "ratio": main.ratio(), "cpu_ratio": main.cpu_ratio(), "first": first,
        "cross_ratio": Pairs(forward, count, repeats).ratio(),
        "grad_ratio": Pairs(lambda: model(x), count, repeats).ratio(),
        "after_grad_ratio": Pairs(forward, count_no_grad, repeats).ratio(),
        "always_ratio": Pairs(forward, lambda: flopwise.profile(model, x, execute="always"),
                              few).ratio(),
        "fake_ratio": Pairs(forward, lambda: flopwise.profile(model, x, fake=True), few).ratio(),
    }
    assert flopwise.profile(model, x).run.executed == "shadow"
    return result


def tiny_llama() -> torch.nn.Module:
    import transformers

    config = transformers.LlamaConfig(
        hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
        num_key_value_heads=4, vocab_size=32000, max_position_embeddings=2048)
    with torch.device("meta"):
        model = transformers.LlamaForCausalLM(config)
    model = model.to_empty(device="cpu").eval()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            param.uniform_(-0.02, 0.02, generator=generator)
        for buffer in model.buffers():
            buffer.fill_(1)
    return model


def llama(skip_forward: bool) -> list[str]:
    start = time.perf_counter()
    model = tiny_llama()
    built = time.perf_counter() - start
    ids = torch.randint(0, 32000, (1, 2048))
    start = time.perf_counter()
    report = flopwise.profile(model, (), {"input_ids": ids})
    count_s = time.perf_counter() - start
    lines = [f"Llama-style {report.total.params / 1e9:.2f}B params (built in {built:.0f} s), "
             f"2,048 tokens: counted in {count_s:.2f} s ({report.run.executed}; "
             f"{report.total.flops / 1e12:.2f} TFLOPs, target < 10 s)"]
    if skip_forward:
        return [*lines, "  its forward: skipped (--skip-llama-forward)"]
    start = time.perf_counter()
    with torch.no_grad():
        model(input_ids=ids)
    forward_s = time.perf_counter() - start
    return [*lines, f"  its forward: {forward_s:.1f} s, {forward_s / count_s:.0f}× the count"]


def fastest_peers() -> dict[str, tuple[str, float]]:
    """model -> (fastest peer, its ratio to one forward) from the peers' speed table."""
    found: dict[str, tuple[str, float]] = {}
    text = DOCS.read_text()
    header = next(line for line in text.splitlines()
                  if line.startswith("| model | forward ms |"))
    column = [cell.strip() for cell in header.split("|")].index("fastest peer")
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) > column and cells[1] in MODELS:
            match = re.fullmatch(r"(\S+) ([\d.]+)×", cells[column])
            if match:
                found[cells[1]] = (match.group(1), float(match.group(2)))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--skip-llama-forward", action="store_true")
    parser.add_argument("--skip-llama", action="store_true")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS),
                        help="the vision models to measure (default: all three)")
    parser.add_argument("--write-docs", action="store_true",
                        help="also write the results into docs/benchmarks.md")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.child:   # one model, in this process: its lines only
        for line in model_lines(args.models[0], args.repeats):
            print(line, flush=True)
        return
    lines = [f"{time.strftime('%Y-%m-%d %H:%M')}: {os.cpu_count()} cores, load "
             f"{os.getloadavg()[0]:.1f}, one thread, torch {torch.__version__}; each model in a "
             f"process of its own; each ratio the median of {args.repeats} rounds' ratios "
             f"(count and forward side by side, in alternating order); ms are medians; the "
             f"main ratio has both sides under torch.no_grad(), as bench/peers times every tool"]
    print(lines[0], flush=True)
    for name in args.models:
        # NB: a process of its own, so that one model's runs (hundreds of MB allocated and
        # freed with grad enabled) leave the next one's allocator as a fresh process has it
        child = subprocess.run([sys.executable, __file__, "--child", "--models", name,
                                "--repeats", str(args.repeats)],
                               capture_output=True, text=True, check=True)
        found = child.stdout.strip().splitlines()
        print("\n".join(found), flush=True)
        lines += found
    if not args.skip_llama:
        for line in llama(args.skip_llama_forward):
            lines.append(line)
            print(line, flush=True)
    if args.write_docs:
        write_docs(lines)


def model_lines(name: str, repeats: int) -> list[str]:
    """The lines of one vision model (see :func:`vision_ratios`)."""
    lines: list[str] = []
    peers = fastest_peers()
    target = MODELS[name]
    t = vision_ratios(name, repeats)
    ratio = t["ratio"]
    lines.append(
        f"{name}: forward {t['forward'] * 1e3:.0f} ms, count on shadows "
        f"{t['shadow'] * 1e3:.0f} ms, both under no_grad: {ratio:.2f}× "
        f"({'≤' if ratio <= target else '>'} {target}× target; in CPU time "
        f"{t['cpu_ratio']:.2f}×)")
    lines.append(
        f"  both with grad enabled (the default; autograd records on both): "
        f"{t['grad_ratio']:.2f}×; the count with grad enabled ÷ the forward under no_grad "
        f"(it also records autograd's clones and detaches): {t['cross_ratio']:.2f}×; both "
        f"under no_grad again after the forwards with grad enabled: "
        f"{t['after_grad_ratio']:.2f}×")
    lines.append(
        f"  ÷ the forward under no_grad: execute='always' {t['always_ratio']:.2f}×, fake "
        f"{t['fake_ratio']:.2f}×, the first count in the process (torch's Python meta "
        f"kernels, before the metadata cache has them) {t['first'] * 1e3:.0f} ms = "
        f"{t['first'] / t['forward']:.2f}×")
    if name in peers:
        peer, peer_ratio = peers[name]
        lines.append(f"  fastest peer ({DOCS.name}, all need a forward; both under "
                     f"no_grad there too): {peer} {peer_ratio:.2f}×; flopwise takes "
                     f"{ratio / peer_ratio:.2f}× its time")
    return lines


def write_docs(lines: list[str]) -> None:
    text = DOCS.read_text()
    body = "\n".join([BEGIN, "```", *lines, "```", END])
    head, rest = text.split(BEGIN, 1)
    DOCS.write_text(head + body + rest.split(END, 1)[1])


if __name__ == "__main__":
    main()
