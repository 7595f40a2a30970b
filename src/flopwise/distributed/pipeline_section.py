"""The ``pipeline`` report section: every pipeline stage's cost and the schedule's step time.

Plain data (no torch), built by :func:`flopwise.distributed.pipeline.profile_pipeline` and read
back with ``report.section(PipelineSection)``. Each stage records what one micro-batch costs it
(FLOPs forward and backward under the section's convention, the bytes it sends to its
neighbours) and, with a hardware, how long that takes. The step of the non-interleaved 1F1B
schedule (Narayanan et al. 2021) runs m micro-batches through p stages in the time of
m + p − 1 micro-batches of the slowest stage: the bubble is (p − 1)/m of the ideal time.
Point-to-point transfers are added in full (``# NB:`` exposed, as the planner assumes).

>>> stages = (StageCost(0, 0, 2, 100, 30, 60, 64, 1.0),
...           StageCost(1, 2, 2, 110, 40, 80, 64, 2.0))
>>> section = PipelineSection("1F1B", micro_batches=4, micro_batch=1, boundary_bytes=32,
...                           convention="matmul", stages=stages, p2p_s=0.25)
>>> section.bubble_fraction                   # (p - 1) / m = 1 / 4
0.25
>>> section.step_s                            # (4 + 2 - 1) · 2.0 + 2 · 4 · 0.25
12.0
>>> PipelineSection.from_dict(section.to_dict()) == section
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from flopwise.render.units import format_bytes, format_count, format_percent, format_seconds

__all__ = ["StageCost", "PipelineSection"]


@dataclass(frozen=True)
class StageCost:
    """One stage (one pipeline rank): its layers and what one micro-batch costs it."""

    stage: int
    first_layer: int
    layers: int
    params: int
    forward_flops: int
    backward_flops: int
    send_bytes: int
    time_s: float | None = None

    @property
    def flops(self) -> int:
        """Forward + backward FLOPs of one micro-batch."""
        return self.forward_flops + self.backward_flops

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "first_layer": self.first_layer, "layers": self.layers,
                "params": self.params, "forward_flops": self.forward_flops,
                "backward_flops": self.backward_flops, "send_bytes": self.send_bytes,
                "time_s": self.time_s}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StageCost:
        time_s = data.get("time_s")
        return cls(int(data["stage"]), int(data["first_layer"]), int(data["layers"]),
                   int(data["params"]), int(data["forward_flops"]), int(data["backward_flops"]),
                   int(data["send_bytes"]), None if time_s is None else float(time_s))


@dataclass(frozen=True)
class PipelineSection:
    """A pipeline of ``len(stages)`` stages fed ``micro_batches`` micro-batches of
    ``micro_batch`` sequences; ``boundary_bytes`` is one activation (or its gradient) crossing a
    stage boundary for one micro-batch, ``p2p_s`` the time to send it (None without hardware)."""

    KEY: ClassVar[str] = "pipeline"
    schedule: str
    micro_batches: int
    micro_batch: int
    boundary_bytes: int
    convention: str
    stages: tuple[StageCost, ...]
    hardware: str | None = None
    p2p_s: float | None = None

    @property
    def bubble_fraction(self) -> float:
        """(p − 1)/m: the idle share of the ideal time, non-interleaved 1F1B."""
        return (len(self.stages) - 1) / self.micro_batches

    @property
    def step_flops(self) -> list[int]:
        """Each stage's FLOPs per step (all micro-batches)."""
        return [stage.flops * self.micro_batches for stage in self.stages]

    @property
    def step_s(self) -> float | None:
        """(m + p − 1) · the slowest stage's micro-batch + the busiest stage's transfers."""
        times = [stage.time_s for stage in self.stages]
        if self.p2p_s is None or any(time is None for time in times):
            return None
        slowest = max(time for time in times if time is not None)
        sends = max(stage.send_bytes for stage in self.stages) // max(1, self.boundary_bytes)
        return ((self.micro_batches + len(self.stages) - 1) * slowest
                + sends * self.micro_batches * self.p2p_s)

    def title(self) -> str:
        """The heading of the section in the text, tree and Markdown reports."""
        sequences = "sequence" if self.micro_batch == 1 else "sequences"
        return (f"Pipeline ({self.schedule}, {len(self.stages)} stages × {self.micro_batches} "
                f"micro-batches of {self.micro_batch} {sequences})")

    def pairs(self) -> list[tuple[str, str]]:
        """Bubble, boundary bytes, one line per stage (per step) and the step time, as text.

        >>> stages = (StageCost(0, 0, 2, 100, 30, 60, 64), StageCost(1, 2, 2, 110, 40, 80, 64))
        >>> section = PipelineSection("1F1B", 4, 1, 32, "matmul", stages)
        >>> section.title()
        'Pipeline (1F1B, 2 stages × 4 micro-batches of 1 sequence)'
        >>> for label, value in section.pairs(): print(f"{label}: {value}")
        bubble: (p−1)/m = 1/4 = 25.0% of the ideal time
        boundary: 32 B per micro-batch each way (activation forward, its gradient back)
        stage 0: layers 0–1 · 100 params · 360 FLOPs/step (matmul) · sends 256 B/step
        stage 1: layers 2–3 · 110 params · 480 FLOPs/step (matmul) · sends 256 B/step
        step time: add --hardware
        """
        stages, m = len(self.stages), self.micro_batches
        pairs = [
            ("bubble", f"(p−1)/m = {stages - 1}/{m} = {format_percent(stages - 1, m)} of the "
                       "ideal time"),
            ("boundary", f"{format_bytes(self.boundary_bytes)} per micro-batch each way "
                         "(activation forward, its gradient back)"),
        ]
        for stage, flops in zip(self.stages, self.step_flops):
            line = (f"layers {stage.first_layer}–{stage.first_layer + stage.layers - 1} · "
                    f"{format_count(stage.params)} params · {format_count(flops)} FLOPs/step "
                    f"({self.convention}) · sends {format_bytes(stage.send_bytes * m)}/step")
            if stage.time_s is not None:
                line += f" · {format_seconds(stage.time_s)}/micro-batch"
            pairs.append((f"stage {stage.stage}", line))
        step = self.step_s
        pairs.append(("step time", "add --hardware" if step is None else
                      f"{format_seconds(step)} on {self.hardware} ((m+p−1) × slowest stage + "
                      "sends; roofline, α–β)"))
        return pairs

    def to_dict(self) -> dict[str, Any]:
        return {"schedule": self.schedule, "micro_batches": self.micro_batches,
                "micro_batch": self.micro_batch, "boundary_bytes": self.boundary_bytes,
                "convention": self.convention, "hardware": self.hardware, "p2p_s": self.p2p_s,
                "bubble_fraction": self.bubble_fraction, "step_s": self.step_s,
                "stages": [stage.to_dict() for stage in self.stages]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PipelineSection:
        p2p = data.get("p2p_s")
        hardware = data.get("hardware")
        return cls(str(data["schedule"]), int(data["micro_batches"]), int(data["micro_batch"]),
                   int(data["boundary_bytes"]), str(data["convention"]),
                   tuple(StageCost.from_dict(stage) for stage in data["stages"]),
                   None if hardware is None else str(hardware),
                   None if p2p is None else float(p2p))
