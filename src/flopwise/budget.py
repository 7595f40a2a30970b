"""Cost budgets for CI: fail a pipeline when a model grows past its FLOPs, MACs, parameter,
memory or latency budget.

A :class:`Budget` holds upper limits; :func:`check_budget` compares a report (live or its saved
JSON form) against them and returns one :class:`BudgetCheck` per limit. A figure equal to its
limit is within budget. ``flopwise check report.json --max-gflops N ...`` and the same flags on
``flopwise profile`` exit with status 1 and one line per exceeded budget.

Where the figures come from: FLOPs (under the report's convention, named in every line), MACs
and parameters from the totals; memory from ``memory.peak_bytes``; latency measured
(``--time``) when the report has it, else the calibrated estimate (``--calibration``), else
the roofline (``--hardware``) — see
:mod:`flopwise.saved`.

>>> budget = Budget.parse(max_gflops=8.0, max_params="30M")
>>> data = {"schema": 1, "convention": "standard", "modules": [],
...         "total": {"params": 25_557_032, "macs": 4_089_184_256, "flops": 8_239_861_248}}
>>> result = check_budget(data, budget)
>>> result.ok
False
>>> print("\\n".join(result.failure_lines()))
budget exceeded: FLOPs (standard) 8.24 G > 8.00 G (--max-gflops 8)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flopwise.errors import UsageError
from flopwise.render.units import (
    format_bytes,
    format_count,
    format_number,
    format_seconds,
    parse_bytes,
    parse_count,
)
from flopwise.saved import (
    ReportLike,
    as_dict,
    estimated_latency_s,
    measured_latency_s,
    peak_memory_bytes,
    roofline_device,
    roofline_latency_s,
)

__all__ = ["BUDGET_HELP", "NO_BUDGET", "Budget", "BudgetCheck", "BudgetResult", "check_budget"]

#: Help texts of the budget flags of ``flopwise check`` and ``flopwise profile``.
BUDGET_HELP = {
    "gflops": "Fail (exit 1) when FLOPs, under the report's convention, exceed N·10⁹.",
    "flops": "Fail when FLOPs exceed COUNT (SI prefixes: 500M, 4.1G, 2T).",
    "macs": "Fail when MACs exceed COUNT (SI prefixes: 500M, 4.1G).",
    "params": "Fail when parameters exceed COUNT (SI prefixes: 25.5M, 7G).",
    "memory": "Fail when peak memory exceeds SIZE (2GiB, 512MiB, 1.5GB).",
    "latency": "Fail when latency exceeds MS milliseconds (measured with --time, else "
               "the --calibration estimate, else the --hardware roofline).",
}

NO_BUDGET = ("no budget given: pass at least one of --max-gflops, --max-flops, --max-macs, "
             "--max-params, --max-memory, --max-latency-ms")


@dataclass(frozen=True)
class Budget:
    """Upper limits; ``None`` means no limit. Counts are ints, latency is in seconds.

    ``flags`` records how each limit was given (``--max-gflops 8``) for the messages.
    """

    max_flops: int | None = None
    max_macs: int | None = None
    max_params: int | None = None
    max_memory_bytes: int | None = None
    max_latency_s: float | None = None
    flags: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, *, max_gflops: float | None = None, max_flops: str | None = None,
              max_macs: str | None = None, max_params: str | None = None,
              max_memory: str | None = None, max_latency_ms: float | None = None) -> Budget:
        """A budget from command-line values: ``max_params="25.5M"``, ``max_memory="2GiB"``.

        Counts take SI prefixes (K M G T P), memory IEC or SI units (``2GiB``, ``512MB``).
        Raises :class:`~flopwise.UsageError` for an unreadable or non-positive value, or for
        ``--max-gflops`` together with ``--max-flops``.

        >>> Budget.parse(max_memory="2GiB", max_macs="4.1G").max_memory_bytes
        2147483648
        """
        if max_gflops is not None and max_flops is not None:
            raise UsageError("give the FLOPs budget once: --max-gflops N or --max-flops COUNT")
        flags: list[tuple[str, str]] = []

        def read(flag: str, text: str | None, parse: Callable[[str], int]) -> int | None:
            if text is None:
                return None
            try:
                value = parse(text)
            except ValueError as error:
                raise UsageError(f"{flag}: {error}") from None
            if value <= 0:
                raise UsageError(f"{flag} must be positive, got {text!r}")
            flags.append((flag.removeprefix("--max-"), f"{flag} {text}"))
            return value

        def positive(flag: str, value: float | None) -> float | None:
            if value is None:
                return None
            if not value > 0:
                raise UsageError(f"{flag} must be positive, got {value!r}")
            flags.append((flag.removeprefix("--max-"), f"{flag} {format_number(value)}"))
            return value

        gflops = positive("--max-gflops", max_gflops)
        flops = round(gflops * 1e9) if gflops is not None else read("--max-flops", max_flops,
                                                                   parse_count)
        latency_ms = positive("--max-latency-ms", max_latency_ms)
        return cls(
            max_flops=flops,
            max_macs=read("--max-macs", max_macs, parse_count),
            max_params=read("--max-params", max_params, parse_count),
            max_memory_bytes=read("--max-memory", max_memory, parse_bytes),
            max_latency_s=latency_ms / 1e3 if latency_ms is not None else None,
            flags=tuple(flags),
        )

    @property
    def empty(self) -> bool:
        return all(limit is None for limit in (self.max_flops, self.max_macs, self.max_params,
                                               self.max_memory_bytes, self.max_latency_s))

    def flag(self, key: str, default: str) -> str:
        for name, text in self.flags:
            if name == key or (key == "flops" and name == "gflops"):
                return text
        return default


@dataclass(frozen=True)
class BudgetCheck:
    """One figure against its limit, with the texts the messages use."""

    figure: str
    actual: float
    limit: float
    actual_text: str
    limit_text: str
    flag: str

    @property
    def ok(self) -> bool:
        return self.actual <= self.limit

    def line(self) -> str:
        """``budget exceeded: FLOPs (standard) 8.24 G > 8.00 G (--max-gflops 8)``, or the OK
        part (``FLOPs (standard) 8.24 G <= 10.00 G``)."""
        if self.ok:
            return f"{self.figure} {self.actual_text} <= {self.limit_text}"
        return (f"budget exceeded: {self.figure} {self.actual_text} > {self.limit_text} "
                f"({self.flag})")


@dataclass(frozen=True)
class BudgetResult:
    """All checks of one report against one budget."""

    model: str
    checks: tuple[BudgetCheck, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failures(self) -> tuple[BudgetCheck, ...]:
        return tuple(check for check in self.checks if not check.ok)

    def failure_lines(self) -> list[str]:
        """One line per exceeded budget."""
        return [check.line() for check in self.failures]

    def summary(self) -> str:
        """One line: ``budget OK for MODEL: FLOPs (standard) 8.24 G <= 10.00 G; ...``."""
        return f"budget OK for {self.model}: " + "; ".join(c.line() for c in self.checks)


def _latency(data: dict[str, object]) -> tuple[float, str] | None:
    measured = measured_latency_s(data)
    if measured is not None:
        return measured, "latency (measured)"
    calibrated = estimated_latency_s(data)
    if calibrated is not None:
        return calibrated, "latency (calibrated estimate)"
    estimated = roofline_latency_s(data)
    if estimated is None:
        return None
    device = roofline_device(data)
    return estimated, f"latency (estimated on {device.name})" if device else "latency (estimated)"


def check_budget(report: ReportLike, budget: Budget, source: str = "the report") -> BudgetResult:
    """Compare ``report`` with ``budget`` (see the module's docstring).

    Raises :class:`~flopwise.UsageError` when the budget is empty, or when it limits memory or
    latency and the report has no such figure (saying which flag of ``flopwise profile``
    records it).
    """
    if budget.empty:
        raise UsageError(NO_BUDGET)
    data = as_dict(report, source)
    total = data["total"]
    convention = data.get("convention", "")
    checks: list[BudgetCheck] = []
    if budget.max_flops is not None:
        flops = int(total.get("flops", 0))
        checks.append(BudgetCheck(f"FLOPs ({convention})", flops, budget.max_flops,
                                  format_count(flops), format_count(budget.max_flops),
                                  budget.flag("flops", "--max-flops")))
    if budget.max_macs is not None:
        macs = int(total.get("macs", 0))
        checks.append(BudgetCheck("MACs", macs, budget.max_macs, format_count(macs),
                                  format_count(budget.max_macs), budget.flag("macs", "--max-macs")))
    if budget.max_params is not None:
        params = int(total.get("params", 0))
        checks.append(BudgetCheck("params", params, budget.max_params, format_count(params),
                                  format_count(budget.max_params),
                                  budget.flag("params", "--max-params")))
    if budget.max_memory_bytes is not None:
        peak = peak_memory_bytes(data)
        if peak is None:
            raise UsageError(f"--max-memory needs the peak memory (memory.peak_bytes), which "
                             f"{source} does not have; re-create it with this flopwise's "
                             "profile, which records memory")
        checks.append(BudgetCheck("peak memory", peak, budget.max_memory_bytes,
                                  format_bytes(peak), format_bytes(budget.max_memory_bytes),
                                  budget.flag("memory", "--max-memory")))
    if budget.max_latency_s is not None:
        latency = _latency(data)
        if latency is None:
            raise UsageError(f"--max-latency-ms needs a latency, which {source} does not have; "
                             "profile with --hardware NAME (estimated) or --time (measured)")
        seconds, figure = latency
        checks.append(BudgetCheck(figure, seconds, budget.max_latency_s, format_seconds(seconds),
                                  format_seconds(budget.max_latency_s),
                                  budget.flag("latency-ms", "--max-latency-ms")))
    model = str((data.get("run") or {}).get("model", "the model"))
    return BudgetResult(model, tuple(checks))
