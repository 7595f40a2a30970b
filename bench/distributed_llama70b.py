"""Benchmark: rank 0 of a 1,024-GPU FSDP2 job of Llama-3-70B, simulated on this machine.

Builds Llama-3-70B from its config on the meta device (transformers, no weights), shards every
decoder block and then the root with ``fully_shard`` over 1,024 simulated ranks
(:func:`flopwise.distributed.simulate` with ``fake=False``: FSDP2 cuts every parameter into n
chunks, which costs ~0.2 s per parameter on fake tensors and ~3 ms on meta), materialises rank
0's shards with ``to_empty`` (1/1,024 of the weights: 137 MB, uninitialised), and profiles one
forward + backward of 8,192 tokens with ``fake=True`` (the all-gathered blocks and activations
are fake tensors: nothing is computed or allocated). Prints the wall time (imports, build,
shard, profile), the CPU time, the peak RSS, and rank 0's FLOPs and bytes sent next to the hand
formula for each:

- FLOPs (``matmul`` convention): linear layers 2·T·N_lin forward and twice that backward
  (input and weight gradients), so 6·T·N_lin; attention 2 products of 2·T²·d per layer forward
  (QKᵀ, PV; causal counted as the full square) and 5 backward (the fused kernel recomputes the
  scores), so 14·T²·d·L.
- bytes sent (ring): each block's parameters all-gathered forward and again backward and its
  gradients reduce-scattered, (n-1)/n·P_block three times; the root (embedding, final norm,
  LM head) all-gathered once (it is not resharded after forward) and reduce-scattered once.
  FSDP2 pads each parameter's first dimension to a multiple of n (the 128,256-row vocabulary
  becomes 129,024 rows at n = 1,024).

    nice python bench/distributed_llama70b.py [--ranks 1024] [--tokens 8192] [--layers 80]

Targets on the 2-core reference machine: under 60 s and 4 GiB. Timings are reported, not
asserted; the CPU time is printed too, as on a shared machine the wall time depends on the load.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import time


def _padded(shape: tuple[int, ...], n: int) -> int:
    """Elements of a parameter after FSDP2 pads its first dimension to a multiple of n."""
    return math.ceil(shape[0] / n) * n * math.prod(shape[1:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, default=1024)
    parser.add_argument("--tokens", type=int, default=8192)
    parser.add_argument("--layers", type=int, default=80)
    args = parser.parse_args()
    start = time.perf_counter()

    import torch
    from torch.distributed.fsdp import fully_shard
    from transformers import LlamaConfig, LlamaForCausalLM

    import flopwise
    from flopwise.distributed import simulate

    imported = time.perf_counter()

    config = LlamaConfig(  # Llama-3-70B (meta-llama/Meta-Llama-3-70B config.json)
        vocab_size=128256, hidden_size=8192, intermediate_size=28672,
        num_hidden_layers=args.layers, num_attention_heads=64, num_key_value_heads=8,
        max_position_embeddings=8192, rope_theta=500000.0, rms_norm_eps=1e-5,
        tie_word_embeddings=False, torch_dtype="bfloat16", use_cache=False,
        attn_implementation="sdpa")
    n, tokens = args.ranks, args.tokens
    with simulate(world_size=n, fake=False) as mesh:
        torch.set_default_dtype(torch.bfloat16)
        try:
            with torch.device("meta"):
                model = LlamaForCausalLM(config)
        finally:
            torch.set_default_dtype(torch.float32)
        created = time.perf_counter()
        shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
        for block in model.model.layers:
            fully_shard(block, mesh=mesh)
        fully_shard(model, mesh=mesh)
        model.to_empty(device="cpu")
        ids = torch.randint(0, config.vocab_size, (1, tokens))
        built = time.perf_counter()
        report = flopwise.profile(model, kwargs={"input_ids": ids}, backward=True, fake=True,
                                  loss=lambda out: out.logits.float().mean())
    wall_s = time.perf_counter() - start
    profile_s = time.perf_counter() - built
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_rss_bytes, cpu_s = usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime

    d, layers = config.hidden_size, config.num_hidden_layers
    linear = sum(math.prod(s) for name, s in shapes.items()
                 if name.endswith("proj.weight") or name == "lm_head.weight")
    flops_hand = 6 * tokens * linear + 14 * tokens * tokens * d * layers
    block = [s for name, s in shapes.items() if name.startswith("model.layers.0.")]
    root = [s for name, s in shapes.items() if not name.startswith("model.layers.")]
    block_bytes = 2 * sum(_padded(s, n) for s in block)
    root_bytes = 2 * sum(_padded(s, n) for s in root)
    comm_hand = (n - 1) * (3 * layers * block_bytes + 2 * root_bytes) // n

    flops = report.using("matmul").total.flops
    comm = report.comm
    print(f"Llama-3-70B ({layers} layers), FSDP2 per block, rank 0 of {n}, {tokens} tokens, "
          "forward + backward")
    print(f"wall time            {wall_s:8.1f} s   (target < 60 s): imports {imported - start:.1f} s, "
          f"model {created - imported:.1f} s, fully_shard {built - created:.1f} s, "
          f"profile {profile_s:.1f} s")
    print(f"CPU time             {cpu_s:8.1f} s   (user + system: what a shared machine's load "
          "does not inflate)")
    print(f"peak RSS             {peak_rss_bytes / 2**30:8.2f} GiB (target < 4 GiB)")
    print(f"params (logical)     {report.params:,}   local {comm.local_params:,}")
    print(f"matmul FLOPs         {flops:,}")
    print(f"  hand formula       {flops_hand:,}   ratio {flops / flops_hand:.6f}")
    print(f"bytes sent           {comm.comm_bytes:,}")
    print(f"  hand formula       {comm_hand:,}   ratio {comm.comm_bytes / comm_hand:.6f}")
    for kind in ("all_gather", "reduce_scatter"):
        for phase in ("forward", "backward"):
            rows = comm.select(kind=kind, phase=phase)
            print(f"  {kind:15s}{phase:9s} calls {sum(r.calls for r in rows):4d}  "
                  f"payload {sum(r.payload_bytes for r in rows):,} B")
    print(f"unsupported ops      {report.unsupported or 'none'}")
    return 0 if flops == flops_hand and comm.comm_bytes == comm_hand else 1


if __name__ == "__main__":
    sys.exit(main())
