"""Hardware: the accelerator catalogue, interconnects, the roofline and communication time
models, the device benchmark and its calibration tables (the calibrated time model is
:mod:`flopwise.hardware.calibrated`).

>>> from flopwise.hardware import get_accelerator, roofline_on
>>> h100 = get_accelerator("h100-sxm")
>>> roofline_on(h100, 2 * 4096**3, 3 * 4096**2 * 2, "bfloat16").bound.value
'compute'

Importing this package never imports torch (the LLM planner relies on that); only
:func:`run_benchmark` does, when called.
"""

from __future__ import annotations

from flopwise.hardware.benchmark import (
    BandwidthResult,
    BenchProgress,
    BenchSettings,
    DeviceBenchmark,
    GemmResult,
    SkippedCase,
    run_benchmark,
    settings_for,
)
from flopwise.hardware.calibration import (
    BandwidthPoint,
    CalibrationTable,
    KernelPoint,
    load_calibration,
)
from flopwise.hardware.catalogue import (
    PRECISIONS,
    Accelerator,
    accelerator_from_dict,
    catalogue_ids,
    get_accelerator,
    load_catalogue,
    load_profile,
    precision_of,
)
from flopwise.hardware.comm import Collective, CommTime, collective_time
from flopwise.hardware.interconnect import (
    Cluster,
    GroupPlacement,
    Link,
    cluster_for,
    get_cluster,
    load_cluster,
    place_group,
)
from flopwise.hardware.roofline import (
    DEFAULT_COMPUTE_EFFICIENCY,
    DEFAULT_MEMORY_EFFICIENCY,
    Bound,
    RooflineTime,
    ridge_point,
    roofline_on,
    roofline_time,
)

__all__ = [
    "PRECISIONS",
    "Accelerator",
    "accelerator_from_dict",
    "catalogue_ids",
    "get_accelerator",
    "load_catalogue",
    "load_profile",
    "precision_of",
    "DEFAULT_COMPUTE_EFFICIENCY",
    "DEFAULT_MEMORY_EFFICIENCY",
    "Bound",
    "RooflineTime",
    "ridge_point",
    "roofline_on",
    "roofline_time",
    "Collective",
    "CommTime",
    "collective_time",
    "Cluster",
    "GroupPlacement",
    "Link",
    "cluster_for",
    "get_cluster",
    "load_cluster",
    "place_group",
    "BandwidthResult",
    "BenchProgress",
    "BenchSettings",
    "DeviceBenchmark",
    "GemmResult",
    "SkippedCase",
    "run_benchmark",
    "settings_for",
    "BandwidthPoint",
    "CalibrationTable",
    "KernelPoint",
    "load_calibration",
]
