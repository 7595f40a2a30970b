"""Pooling: max, average and adaptive (1-3 d), forward and backward.

Max pooling compares every window element: ∏K comparisons per output (NB: K−1 exactly; the first
is a compare with −∞ in most kernels); fractional max pooling likewise, its windows placed
pseudo-randomly. Average pooling adds ∏K and divides once per output.
Adaptive pooling's windows differ in size; their sizes are summed exactly per dimension
(window i spans ⌊i·In/Out⌋ … ⌈(i+1)·In/Out⌉).

RoI Align (torchvision's ``roi_align``, as in Mask R-CNN, He et al. 2017) averages S =
sampling_ratio² bilinear samples per output element: 7 FLOPs a sample (4 taps: 4 multiplies + 3
adds), S − 1 adds and 1 divide, 8·S in all. Backward scatters each output gradient, divided
once, into 4 taps per sample (4 multiplies + 4 adds): 8·S + 1. NB: the sample positions and tap
weights are computed once per box and position, shared by all channels, and not counted. With
``sampling_ratio ≤ 0`` the number of samples follows each box's size (data-dependent): the op is
then reported unsupported rather than guessed.
"""

from __future__ import annotations

from flopwise.formulas._helpers import as_list, prod, result_spec
from flopwise.formulas.interpolate import PER_OUTPUT
from flopwise.formulas.registry import Formula, FormulaTable
from flopwise.formulas.spec import Cost, TensorSpec

__all__ = ["TABLE", "adaptive_window_total", "roi_align_samples", "max_pool", "avg_pool",
           "adaptive_avg", "adaptive_max"]

#: one bilinear sample: 4 taps, 4 multiplies + 3 adds, as bilinear interpolation counts it
_BILINEAR_TAP = PER_OUTPUT["upsample_bilinear2d"]


def adaptive_window_total(in_size: int, out_size: int) -> int:
    """Sum of the adaptive-pooling window lengths along one dimension.

    >>> adaptive_window_total(7, 1)
    7
    >>> adaptive_window_total(5, 3)   # windows [0,2) [1,4) [3,5)
    7
    """
    total = 0
    for i in range(out_size):
        start = (i * in_size) // out_size
        end = -((-(i + 1) * in_size) // out_size)
        total += end - start
    return total


def _adaptive_terms(x: TensorSpec, out: TensorSpec, spatial: int) -> int:
    """Total window elements summed over all outputs of an adaptive pool."""
    leading = prod(out.shape[:-spatial])
    per_map = 1
    for in_size, out_size in zip(x.shape[-spatial:], out.shape[-spatial:]):
        per_map *= adaptive_window_total(in_size, out_size)
    return leading * per_map


def _window(kernel_size, spatial: int) -> int:
    return prod(as_list(kernel_size, spatial))


def roi_align_samples(sampling_ratio: int) -> int:
    """Bilinear samples per RoI Align output element; only a fixed ratio gives a count.

    >>> roi_align_samples(2)
    4
    """
    if sampling_ratio <= 0:
        raise ValueError(f"sampling_ratio={sampling_ratio}: samples per output follow each box's "
                         "size (data-dependent); pass a positive sampling_ratio to count it")
    return sampling_ratio * sampling_ratio


TABLE = FormulaTable("pooling")


@TABLE.formula("torchvision.roi_align",
               note="8·S FLOPs per output, S = sampling_ratio² bilinear samples")
def roi_align(result, x: TensorSpec, rois: TensorSpec, spatial_scale, pooled_height,
              pooled_width, sampling_ratio, *_, **__) -> Cost:
    """8·S per output element (S bilinear samples of 7 FLOPs, S − 1 adds, 1 divide)."""
    per_sample = _BILINEAR_TAP + 1                  # the sample, and its add into the mean
    return Cost(elementwise=per_sample * roi_align_samples(sampling_ratio)
                * result_spec(result).numel)


@TABLE.formula("torchvision._roi_align_backward", note="8·S + 1 FLOPs per output-gradient element")
def roi_align_backward(result, grad: TensorSpec, rois: TensorSpec, spatial_scale,
                       pooled_height, pooled_width, batch_size, channels, height, width,
                       sampling_ratio, *_, **__) -> Cost:
    """8·S + 1 per output-gradient element (one divide, 4 weighted taps per sample)."""
    # a divide, then 4 weighted taps per sample (4 multiplies + 4 adds)
    return Cost(elementwise=(8 * roi_align_samples(sampling_ratio) + 1) * grad.numel)


def max_pool_backward(result, grad_out: TensorSpec, x: TensorSpec, *_, **__) -> Cost:
    """One add per output gradient (scattered to the argmax)."""
    return Cost(elementwise=grad_out.numel)


def max_pool(dims: int) -> Formula:
    """The formula of a ``dims``-d max pool: ∏K comparisons per output.

    >>> max_pool(2)(TensorSpec((1, 1, 2, 2)), TensorSpec((1, 1, 4, 4)), [2, 2]).elementwise
    16
    """
    def formula(result, x: TensorSpec, kernel_size, *_, **__) -> Cost:
        """∏K comparisons per output."""
        return Cost(elementwise=result_spec(result).numel * _window(kernel_size, dims))

    return formula


def avg_pool(dims: int) -> Formula:
    """The formula of a ``dims``-d average pool: ∏K adds + 1 divide per output.

    >>> avg_pool(1)(TensorSpec((1, 1, 3)), TensorSpec((1, 1, 6)), 2).elementwise   # 3 · (2 + 1)
    9
    """
    def formula(result, x: TensorSpec, kernel_size, *_, **__) -> Cost:
        """∏K adds + 1 divide per output."""
        return Cost(elementwise=result_spec(result).numel * (_window(kernel_size, dims) + 1))

    return formula


def avg_pool_backward(dims: int) -> Formula:
    """The formula of a ``dims``-d average pool's backward: 1 divide + ∏K adds per gradient."""
    def formula(result, grad_out: TensorSpec, x: TensorSpec, kernel_size, *_, **__) -> Cost:
        """1 divide + ∏K scattered adds per output gradient."""
        return Cost(elementwise=grad_out.numel * (_window(kernel_size, dims) + 1))

    return formula


def adaptive_avg(dims: int) -> Formula:
    """The formula of a ``dims``-d adaptive average pool: window adds + 1 divide per output.

    >>> adaptive_avg(1)(TensorSpec((1, 1, 3)), TensorSpec((1, 1, 5))).elementwise  # 7 + 3
    10
    """
    def formula(result, x: TensorSpec, *_, **__) -> Cost:
        """Window adds (summed exactly) + 1 divide per output."""
        out = result_spec(result)
        return Cost(elementwise=_adaptive_terms(x, out, dims) + out.numel)

    return formula


def adaptive_avg_backward(dims: int) -> Formula:
    """The formula of a ``dims``-d adaptive average pool's backward (as its forward)."""
    def formula(result, grad_out: TensorSpec, x: TensorSpec, *_, **__) -> Cost:
        """Window adds (summed exactly) + 1 divide per output gradient."""
        return Cost(elementwise=_adaptive_terms(x, grad_out, dims) + grad_out.numel)

    return formula


def adaptive_max(dims: int) -> Formula:
    """The formula of a ``dims``-d adaptive max pool: one comparison per window element."""
    def formula(result, x: TensorSpec, *_, **__) -> Cost:
        """One comparison per window element (summed exactly)."""
        return Cost(elementwise=_adaptive_terms(x, result_spec(result), dims))

    return formula


for _dims in (1, 2, 3):
    # fractional max pooling (2-d, 3-d): a pseudo-random window of the same size per output
    _fractional = [f"aten.fractional_max_pool{_dims}d"] if _dims > 1 else []
    TABLE.formula(f"aten.max_pool{_dims}d_with_indices", f"aten.max_pool{_dims}d",
                  *(["aten.mkldnn_max_pool2d"] if _dims == 2 else []), *_fractional)(
        max_pool(_dims))
    TABLE.formula(f"aten.max_pool{_dims}d_with_indices_backward",
                  *(f"{name}_backward" for name in _fractional))(max_pool_backward)
    TABLE.formula(f"aten.avg_pool{_dims}d")(avg_pool(_dims))
    TABLE.formula(f"aten.avg_pool{_dims}d_backward")(avg_pool_backward(_dims))
    TABLE.formula(f"aten._adaptive_avg_pool{_dims}d", f"aten.adaptive_avg_pool{_dims}d")(
        adaptive_avg(_dims))
    TABLE.formula(f"aten._adaptive_avg_pool{_dims}d_backward")(adaptive_avg_backward(_dims))
    TABLE.formula(f"aten.adaptive_max_pool{_dims}d")(adaptive_max(_dims))
    TABLE.formula(f"aten.adaptive_max_pool{_dims}d_backward")(max_pool_backward)
