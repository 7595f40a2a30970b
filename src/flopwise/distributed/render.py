"""The ``pipeline`` section as label/value text, for every text renderer.

>>> from flopwise.distributed.pipeline_section import PipelineSection, StageCost
>>> stages = (StageCost(0, 0, 2, 100, 30, 60, 64, None), StageCost(1, 2, 2, 110, 40, 80, 64, None))
>>> section = PipelineSection("1F1B", 4, 1, 32, "matmul", stages)
>>> pipeline_title(section)
'Pipeline (1F1B, 2 stages × 4 micro-batches of 1 sequence)'
>>> for label, value in pipeline_pairs(section): print(f"{label}: {value}")
bubble: (p−1)/m = 1/4 = 25.0% of the ideal time
boundary: 32 B per micro-batch each way (activation forward, its gradient back)
stage 0: layers 0–1 · 100 params · 360 FLOPs/step (matmul) · sends 256 B/step
stage 1: layers 2–3 · 110 params · 480 FLOPs/step (matmul) · sends 256 B/step
step time: add --hardware
"""

from __future__ import annotations

from flopwise.distributed.pipeline_section import PipelineSection
from flopwise.render.units import format_bytes, format_count, format_percent, format_seconds

__all__ = ["pipeline_title", "pipeline_pairs"]


def pipeline_title(section: PipelineSection) -> str:
    sequences = "sequence" if section.micro_batch == 1 else "sequences"
    return (f"Pipeline ({section.schedule}, {len(section.stages)} stages × "
            f"{section.micro_batches} micro-batches of {section.micro_batch} {sequences})")


def pipeline_pairs(section: PipelineSection) -> list[tuple[str, str]]:
    """Bubble, boundary bytes, one line per stage (per step), and the step time."""
    stages, m = len(section.stages), section.micro_batches
    pairs = [
        ("bubble", f"(p−1)/m = {stages - 1}/{m} = "
                   f"{format_percent(stages - 1, m)} of the ideal time"),
        ("boundary", f"{format_bytes(section.boundary_bytes)} per micro-batch each way "
                     "(activation forward, its gradient back)"),
    ]
    for stage, flops in zip(section.stages, section.step_flops):
        last = stage.first_layer + stage.layers - 1
        line = (f"layers {stage.first_layer}–{last} · {format_count(stage.params)} params · "
                f"{format_count(flops)} FLOPs/step ({section.convention}) · "
                f"sends {format_bytes(stage.send_bytes * m)}/step")
        if stage.time_s is not None:
            line += f" · {format_seconds(stage.time_s)}/micro-batch"
        pairs.append((f"stage {stage.stage}", line))
    step = section.step_s
    if step is None:
        pairs.append(("step time", "add --hardware"))
    else:
        pairs.append(("step time", f"{format_seconds(step)} on {section.hardware} "
                                   f"((m+p−1) × slowest stage + sends; roofline, α–β)"))
    return pairs
