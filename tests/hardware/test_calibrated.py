"""The calibrated time model on synthetic calibration tables, derived by hand.

The table used by most cases: GEMM at a flat 20 GFLOP/s (one point of 2e9 FLOPs measured in
0.1 s + the 10 µs op overhead, so its net rate is 2e9 / 0.1), elementwise bandwidth at a flat
10 GB/s (one point of 1e6 bytes in 100 µs + 10 µs), 10 µs per op, 1 µs per view, no module cost.
"""

from __future__ import annotations

import json

import pytest
import torch

import flopwise
from flopwise.errors import UsageError
from flopwise.hardware.calibrated import LatencyEstimate, estimate_latency, op_class
from flopwise.hardware.calibration import (
    BandwidthPoint,
    CalibrationTable,
    KernelPoint,
    load_calibration,
)
from flopwise.schema import read_section

OP_S, VIEW_S = 1e-5, 1e-6
GEMM_RATE, BANDWIDTH = 2e10, 1e10


def _table(module_s: float = 0.0) -> CalibrationTable:
    return CalibrationTable(
        compute={"gemm": (KernelPoint(2 * 10**9, 10**7, 2e9 / GEMM_RATE + OP_S),)},
        memory={"elementwise": (BandwidthPoint(10**6, 1e6 / BANDWIDTH + OP_S),)},
        overhead_s={"op": OP_S, "view": VIEW_S, "module": module_s}, threads=2, device="test",
    )


def _meta(*shape: int) -> torch.Tensor:
    return torch.empty(*shape, device="meta")


def test_gemm_only_model_is_its_flops_over_the_gemm_rate_plus_one_op() -> None:
    m, k, n = 512, 1024, 256
    report = flopwise.profile(torch.mm, (_meta(m, k), _meta(k, n)))
    estimate = estimate_latency(report, _table())
    flops = 2 * m * k * n                      # 268,435,456: 13.4 ms at 20 GFLOP/s
    moved = 4 * (m * k + k * n + m * n)        # 3,670,016 bytes: 0.37 ms at 10 GB/s
    assert estimate.estimated_latency_s == pytest.approx(flops / GEMM_RATE + OP_S, rel=1e-12)
    assert moved / BANDWIDTH < flops / GEMM_RATE
    assert estimate.class_time_s == pytest.approx({"gemm": flops / GEMM_RATE, "overhead": OP_S})


def test_elementwise_only_model_is_its_bytes_over_the_bandwidth_plus_one_op() -> None:
    n = 2**20
    report = flopwise.profile(torch.add, (_meta(n), _meta(n)))
    estimate = estimate_latency(report, _table())
    moved = 3 * 4 * n                           # two fp32 reads, one write: 12,582,912 bytes
    assert estimate.estimated_latency_s == pytest.approx(moved / BANDWIDTH + OP_S, rel=1e-12)
    assert set(estimate.class_time_s) == {"elementwise", "overhead"}


def test_many_tiny_ops_are_dominated_by_the_per_op_cost() -> None:
    adds, views = 1000, 100

    def tiny(x: torch.Tensor) -> torch.Tensor:
        for _ in range(adds):
            x = x + 1
        for _ in range(views):
            x = x.view(-1)
        return x

    estimate = estimate_latency(flopwise.profile(tiny, (_meta(1),)), _table())
    # each add reads 4 bytes and writes 4: 8 / 1e10 s of traffic beside its 10 µs
    expected = adds * (8 / BANDWIDTH + OP_S) + views * VIEW_S
    assert estimate.estimated_latency_s == pytest.approx(expected, rel=1e-9)
    assert estimate.class_time_s["overhead"] == pytest.approx(adds * OP_S + views * VIEW_S)
    assert estimate.class_time_s["overhead"] / estimate.estimated_latency_s > 0.999
    assert estimate.ops == adds + views


def test_every_module_call_costs_the_module_overhead_and_modules_sum_up() -> None:
    model = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.ReLU())
    n = 1000
    estimate = estimate_latency(flopwise.profile(model, _meta(n)), _table(module_s=3e-6))
    relu_s = 8 * n / BANDWIDTH + OP_S + 3e-6    # one op of 4n read + 4n written, one module call
    assert estimate.module("0").estimated_latency_s == pytest.approx(relu_s)
    assert estimate.module("1").self_estimated_latency_s == pytest.approx(relu_s)
    # the root: its own call, then both children
    assert estimate.estimated_latency_s == pytest.approx(3e-6 + 2 * relu_s)
    assert estimate.share(relu_s) == pytest.approx(100 * relu_s / (3e-6 + 2 * relu_s))


def test_rates_interpolate_in_log_size_and_are_flat_beyond_the_points() -> None:
    table = CalibrationTable(
        compute={"gemm": (KernelPoint(10**6, 10**5, 1e-4), KernelPoint(10**8, 10**6, 1e-3))},
        memory={"elementwise": (BandwidthPoint(1000, 1000 / 1e9),
                                BandwidthPoint(100_000, 100_000 / 1e10))},
        overhead_s={"op": 0.0, "view": 0.0})
    # halfway in log size between 1 GB/s and 10 GB/s: the geometric mean
    assert table.bytes_per_s("elementwise", 10_000) == pytest.approx((1e9 * 1e10) ** 0.5)
    assert table.bytes_per_s("elementwise", 10) == pytest.approx(1e9)
    assert table.bytes_per_s("elementwise", 10**9) == pytest.approx(1e10)
    assert table.bytes_per_s("norm", 1000) == pytest.approx(1e9)  # borrows elementwise
    # a query on a measured point gets that point's rate: 1e8 FLOPs in 1 ms
    assert table.flops_per_s("gemm", 10**8, 10**6) == pytest.approx(1e11)
    assert table.flops_per_s("conv_dense", 10**6, 10**5) == pytest.approx(1e10)  # borrows gemm
    # between the two points, the blend stays between their rates (1e10 and 1e11)
    assert 1e10 < table.flops_per_s("gemm", 10**7, 3 * 10**5) < 1e11


def test_net_rate_discounts_the_op_overhead() -> None:
    table = CalibrationTable(compute={"gemm": (KernelPoint(10**6, 10**4, 2e-5),)},
                             memory={"elementwise": (BandwidthPoint(10**4, 2e-5),)},
                             overhead_s={"op": 1e-5, "view": 0.0})
    # 1e6 FLOPs in 20 µs of which 10 µs is the fixed cost: 1e11 FLOP/s net
    assert table.flops_per_s("gemm", 10**6, 10**4) == pytest.approx(1e11)
    assert table.bytes_per_s("elementwise", 10**4) == pytest.approx(1e9)


@pytest.mark.parametrize(("cin", "cout", "kernel", "groups", "expected"), [
    (64, 64, 3, 1, "conv_dense"),
    (3, 64, 7, 1, "conv_dense"),
    (64, 256, 1, 1, "conv_pointwise"),
    (96, 96, 3, 96, "conv_grouped"),
    (64, 64, 3, 8, "conv_grouped"),
], ids=["dense3x3", "stem7x7", "pointwise", "depthwise", "grouped"])
def test_convolutions_are_classed_from_their_reduction_length(
        cin: int, cout: int, kernel: int, groups: int, expected: str) -> None:
    conv = torch.nn.Conv2d(cin, cout, kernel, padding=kernel // 2, groups=groups, device="meta")
    report = flopwise.profile(conv, _meta(1, cin, 28, 28))
    classes = {op_class(e) for e in report.events if "conv" in e.op}
    assert classes == {expected}


def test_pooling_norms_and_copies_have_their_own_kinds() -> None:
    model = torch.nn.Sequential(torch.nn.BatchNorm2d(8), torch.nn.MaxPool2d(3, 2, 1)).eval()
    report = flopwise.profile(model.to("meta"), _meta(1, 8, 16, 16))
    kinds = {e.module: op_class(e) for e in report.events if e.module in ("0", "1")}
    assert kinds == {"0": "norm", "1": "pool"}
    cat = flopwise.profile(lambda a: torch.cat([a, a]), (_meta(4, 4),))
    assert [op_class(e) for e in cat.events] == ["copy"]


def test_section_round_trips_and_is_registered_as_latency() -> None:
    n = 4096
    report = flopwise.profile(torch.mm, (_meta(n, n), _meta(n, n)))
    estimate = report.with_roofline("h100-sxm").with_latency(_table()).section(LatencyEstimate)
    assert estimate is not None
    # the roofline's bound rides along: compute-bound fp32 on an H100 SXM (67 TFLOP/s)
    assert estimate.roofline_latency_s == pytest.approx(2 * n**3 / 67e12)
    assert estimate.calibration == "(in memory)" and estimate.threads == 2
    data = json.loads(json.dumps(estimate.to_dict()))
    assert read_section("latency", data) == estimate


def test_profile_file_round_trip_and_old_profiles_say_how_to_fix(tmp_path) -> None:
    table = _table()
    path = tmp_path / "profile.json"
    path.write_text(json.dumps({"id": "x", "calibration": table.to_dict()}), encoding="utf-8")
    loaded = load_calibration(path)
    assert loaded.compute == table.compute and loaded.source == str(path)
    report = flopwise.profile(torch.add, (_meta(10), _meta(10))).with_latency(str(path))
    assert report.sections["latency"].calibration == str(path)
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"id": "x"}), encoding="utf-8")
    with pytest.raises(UsageError, match="no calibration tables.*rerun flopwise bench-device"):
        load_calibration(old)
    with pytest.raises(UsageError, match="not found"):
        load_calibration(tmp_path / "missing.json")
    with pytest.raises(UsageError, match="schema"):
        CalibrationTable.from_dict({"schema": "other"})


def test_version_3_is_written_and_versions_1_and_2_still_load() -> None:
    table = CalibrationTable(_table().compute, _table().memory, _table().overhead_s,
                             layer_s={"Conv2d": 1e-5}, fresh_pages=(BandwidthPoint(2**25, 0.03),))
    written = table.to_dict()
    assert written["schema"] == "flopwise.calibration/3"
    assert CalibrationTable.from_dict(json.loads(json.dumps(written))) == table
    # versions 1 (hot-operand microbenchmarks) and 2 have neither layer costs nor fresh pages:
    # they load without them, and a module of a layer class costs an empty module's call
    for version in ("flopwise.calibration/1", "flopwise.calibration/2"):
        older = {k: v for k, v in written.items() if k not in ("layer_s", "fresh_pages")}
        old = CalibrationTable.from_dict({**older, "schema": version})
        assert old.compute == table.compute and old.overhead_s == table.overhead_s
        assert old.layer_s == {} and old.fresh_pages == ()
        assert old.module_call_s("Conv2d") == 0.0 and old.fresh_output_s(2**26) == 0.0


def test_a_layer_class_call_costs_its_measured_call_and_others_an_empty_module() -> None:
    base = _table(module_s=3e-6)
    table = CalibrationTable(base.compute, base.memory, base.overhead_s,
                             layer_s={"ReLU": 8e-6, "Conv2d": 1.5e-5})
    model = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.ReLU(), torch.nn.Tanh())
    n = 1000
    estimate = estimate_latency(flopwise.profile(model, _meta(n)), table)
    op_s = 8 * n / BANDWIDTH + OP_S   # each op reads 4n bytes and writes 4n, plus its 10 µs
    assert estimate.module("0").estimated_latency_s == pytest.approx(op_s + 8e-6)   # ReLU
    assert estimate.module("2").estimated_latency_s == pytest.approx(op_s + 3e-6)   # Tanh
    # the root is a Sequential, not in the table: an empty module's 3 µs
    assert estimate.estimated_latency_s == pytest.approx(3e-6 + 3 * op_s + 2 * 8e-6 + 3e-6)
    assert estimate.class_time_s["overhead"] == pytest.approx(3 * OP_S + 2 * 8e-6 + 2 * 3e-6)


def test_fresh_outputs_past_a_measured_size_pay_its_per_byte_first_write() -> None:
    base = _table()
    # 16 MiB fresh cost nothing more; 32 MiB cost 32 ms more: 1 ns per byte from 32 MiB up
    pages = (BandwidthPoint(2**24, 0.0), BandwidthPoint(2**25, 2**25 * 1e-9))
    table = CalibrationTable(base.compute, base.memory, base.overhead_s, fresh_pages=pages)
    big, small = 2**24, 2**21        # fp32 elements: 64 MiB and 8 MiB outputs
    out = flopwise.profile(torch.relu, (_meta(big),))
    estimate = estimate_latency(out, table)
    assert estimate.class_time_s["fresh pages"] == pytest.approx(4 * big * 1e-9)   # 67.1 ms
    assert estimate.estimated_latency_s == pytest.approx(8 * big / BANDWIDTH + OP_S + 4 * big * 1e-9)
    assert "fresh pages" not in estimate_latency(flopwise.profile(torch.relu, (_meta(small),)),
                                                 table).class_time_s
    # in place: no output is allocated, so no fresh pages
    in_place = estimate_latency(flopwise.profile(torch.relu_, (_meta(big),)), table)
    assert "fresh pages" not in in_place.class_time_s


def test_a_class_fixed_cost_replaces_the_generic_op_cost() -> None:
    table = CalibrationTable(
        compute={"conv_grouped": (KernelPoint(10**6, 10**6, 1e-4 + 1e-4),)},
        memory={"elementwise": (BandwidthPoint(10**6, 1e-4),)},
        overhead_s={"op": 1e-6, "view": 0.0, "conv_grouped": 1e-4})
    # the point is 1e6 FLOPs in 200 µs, 100 µs of it the class's fixed cost: 1e10 FLOP/s net
    assert table.fixed_s("conv_grouped") == 1e-4 and table.fixed_s("gemm") == 1e-6
    assert table.flops_per_s("conv_grouped", 10**6, 10**6) == pytest.approx(1e10)
    depthwise = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False, device="meta")
    estimate = estimate_latency(flopwise.profile(depthwise, _meta(1, 8, 4, 4)), table)
    flops = 2 * 8 * 4 * 4 * 9                  # 2,304 FLOPs: 0.23 µs at 1e10 FLOP/s
    assert estimate.class_time_s["overhead"] == pytest.approx(1e-4)
    assert estimate.class_time_s["conv_grouped"] == pytest.approx(flops / 1e10)


def test_interleaved_fixed_costs_are_charged_while_rates_stay_net_of_the_loops_own() -> None:
    hot = _table(module_s=2e-6)
    # the same tables, with the fixed costs timed interleaved: 4x the op, 5x the view and
    # module costs (the gemm point's rate stays 2e9 FLOPs / (0.1 s + 10 µs - 10 µs))
    table = CalibrationTable(hot.compute, hot.memory, hot.overhead_s, 2, "test",
                             interleaved_s={"op": 4 * OP_S, "view": 5 * VIEW_S, "module": 1e-5})
    n = 2**20
    adds = flopwise.profile(torch.add, (_meta(n), _meta(n)))
    assert estimate_latency(adds, table).estimated_latency_s == pytest.approx(
        3 * 4 * n / BANDWIDTH + 4 * OP_S, rel=1e-12)            # 1.258 ms + 40 µs
    m, k = 64, 128
    report = flopwise.profile(torch.nn.Linear(k, k, device="meta"), (_meta(m, k),))
    ops = {e.op: e for e in report.events}
    assert set(ops) == {"aten.t.default", "aten.addmm.default"}   # one view, one GEMM
    flops = 2 * m * k * k     # 2,097,152 (standard: the bias add is not counted): 104.9 µs
    assert estimate_latency(report, table).estimated_latency_s == pytest.approx(
        flops / GEMM_RATE + 4 * OP_S + 5 * VIEW_S + 1e-5, rel=1e-12)   # + one module call
    assert table.op_fixed_s("gemm") == 4 * OP_S and table.fixed_s("gemm") == OP_S
