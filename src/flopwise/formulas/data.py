"""Data movement: embeddings, gathers and scatters, and the declared cost-free ops.

Gathers (embedding, index_select, gather, indexing) do no arithmetic; they read the indices and
the gathered rows only (not the whole table) and write the output. Scatter-adds add each source
element once. Everything that only copies, fills, creates or reshapes data is declared zero:
views move nothing (their outputs alias their inputs, as the op's schema says), copies and
factories move the bytes of their inputs and outputs.
"""

from __future__ import annotations

from flopwise.formulas._helpers import is_float, result_spec, specs_in
from flopwise.formulas.registry import FormulaTable
from flopwise.formulas.spec import Cost, TensorSpec

__all__ = ["TABLE", "DATA_MOVEMENT", "NO_DATA", "PROFILER_MARKS"]

# Zero FLOPs; bytes moved as for any op (inputs read, outputs written).
DATA_MOVEMENT: tuple[str, ...] = (
    "clone", "_to_copy", "copy", "copy_", "_copy_from", "_copy_from_and_resize", "cat", "stack",
    "constant_pad_nd", "reflection_pad1d", "reflection_pad2d", "reflection_pad3d",
    "replication_pad1d", "replication_pad2d", "replication_pad3d", "flip", "roll", "repeat",
    "repeat_interleave",
    "fill", "fill_", "zero_", "masked_scatter", "index_copy", "index_copy_", "scatter",
    "scatter_", "slice_scatter", "select_scatter", "diagonal_scatter", "as_strided_scatter",
    "pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle", "tril",
    "triu", "tril_", "triu_", "masked_select", "nonzero", "_unique2", "unique_consecutive",
    "unique_dim", "bucketize", "searchsorted", "im2col", "col2im", "bernoulli", "bernoulli_",
    "rand", "rand_like", "randn", "randn_like", "randint", "randint_like", "randperm", "normal",
    "normal_", "uniform_", "random_", "exponential_", "empty", "empty_like", "empty_strided",
    "zeros", "zeros_like", "ones", "ones_like", "full", "full_like", "new_empty",
    "new_empty_strided", "new_zeros", "new_ones", "new_full", "scalar_tensor", "arange",
    "linspace", "logspace", "eye", "lift_fresh_copy", "_local_scalar_dense",
    "resize_", "resize_as_", "_pin_memory", "logical_and", "logical_or", "logical_xor",
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "all", "any", "count_nonzero",
    "_assert_tensor_metadata", "_assert_async", "_functional_assert_async", "_make_dep_token",
    "_linalg_check_errors", "_is_all_true", "_is_any_true",
    "record_stream", "_to_dense", "_fused_dropout", "histc", "bincount",
)
# Zero FLOPs and no bytes: metadata-only ops whose output aliases no input per the schema.
NO_DATA: tuple[str, ...] = (
    "sym_size", "sym_stride", "sym_numel", "sym_storage_offset", "is_same_size", "is_nonzero",
    "set_", "lift_fresh", "_nested_tensor_size", "_nested_tensor_strides", "_unsafe_view",
    "_reshape_alias", "unsafe_split", "unsafe_split_with_sizes", "unsafe_chunk",
    # in-place metadata changes (strides/shape only)
    "as_strided_", "squeeze_", "unsqueeze_", "transpose_", "t_", "swapdims_", "swapaxes_",
    "detach_",
)
# torch.autograd.profiler.record_function's ops (torch.ops.profiler.*).
PROFILER_MARKS: tuple[str, ...] = (
    "_record_function_enter", "_record_function_enter_new", "_record_function_exit",
)


def _bag_backward(grad: TensorSpec, indices: TensorSpec, mode: int,
                  per_sample_weights: TensorSpec | None) -> Cost:
    if mode == 2:                                   # max: only the maxima get a gradient
        return Cost(elementwise=grad.numel)
    gathered = indices.numel * grad.shape[1]
    scaled = mode == 1 or per_sample_weights is not None
    return Cost(elementwise=gathered * (2 if scaled else 1))


TABLE = FormulaTable("data")
TABLE.zero(*(f"aten.{n}" for n in DATA_MOVEMENT),
           # the same bitwise ops as reached through a decomposition's prims
           *(f"prims.{n}" for n in ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not")),
           note="copies, fills, creates or selects data: no FLOPs, bytes moved")
TABLE.zero(*(f"aten.{n}" for n in NO_DATA), "prim.device", "prim.layout",
           note="metadata only: no FLOPs, no bytes", moves_data=False)
# record_function ranges (every optimizer.step() opens one) dispatch as ops of their own
TABLE.zero(*(f"profiler.{n}" for n in PROFILER_MARKS),
           note="profiler range markers: no FLOPs, no bytes", moves_data=False)


@TABLE.formula("aten.embedding",
               note="reads the indices and the gathered rows, not the whole table")
def embedding(result: TensorSpec, weight: TensorSpec, indices: TensorSpec, *_, **__) -> Cost:
    """Zero MACs: reads indices + gathered rows, writes the rows."""
    out = result_spec(result)
    return Cost(bytes_read=indices.nbytes + out.nbytes, bytes_written=out.nbytes)


@TABLE.formula("aten.index_select", "aten.gather", "aten._unsafe_index",
               "aten.index", "aten.take", "aten.take_along_dim",
               note="reads the indices and the gathered elements")
def gather(result: TensorSpec, source: TensorSpec, *args, **kwargs) -> Cost:
    """Zero FLOPs: reads indices + gathered elements, writes the output."""
    out = result_spec(result)
    indices = sum(s.nbytes for s in specs_in((args, kwargs)))
    return Cost(bytes_read=indices + out.nbytes, bytes_written=out.nbytes)


@TABLE.formula("aten.embedding_dense_backward")
def embedding_backward(result: TensorSpec, grad_out: TensorSpec, *_, **__) -> Cost:
    """One add per output-gradient element (scattered into the table's gradient)."""
    return Cost(elementwise=grad_out.numel)


@TABLE.formula("aten._embedding_bag", "aten._embedding_bag_forward_only",
               note="one add (compare, for max) per gathered element")
def embedding_bag(result, weight: TensorSpec, indices: TensorSpec, offsets: TensorSpec,
                  scale_grad_by_freq: bool = False, mode: int = 0, sparse: bool = False,
                  per_sample_weights: TensorSpec | None = None, *_, **__) -> Cost:
    """Sum: an add per gathered element (n·D), mean: + a divide per output element, max: a
    compare per gathered element; per-sample weights: + a multiply per gathered element.
    Reads the indices, offsets and gathered rows (not the table)."""
    gathered = indices.numel * weight.shape[1]
    out = result_spec(result)
    work = gathered + (out.numel if mode == 1 else 0)
    read = indices.nbytes + offsets.nbytes + gathered * weight.itemsize
    if per_sample_weights is not None:
        work += gathered
        read += per_sample_weights.nbytes
    return Cost(elementwise=work, bytes_read=read)


@TABLE.formula("aten._embedding_bag_backward",
               note="an add per gathered element (per gradient element, for max)")
def embedding_bag_backward(result: TensorSpec, grad: TensorSpec, indices: TensorSpec,
                           offsets, offset2bag, bag_size, maximum_indices, num_weights,
                           scale_grad_by_freq, mode: int, sparse,
                           per_sample_weights: TensorSpec | None = None, *_, **__) -> Cost:
    """See :func:`embedding_bag_dense_backward`."""
    return _bag_backward(grad, indices, mode, per_sample_weights)


@TABLE.formula("aten._embedding_bag_dense_backward",
               note="an add per gathered element (per gradient element, for max)")
def embedding_bag_dense_backward(result: TensorSpec, grad: TensorSpec, indices: TensorSpec,
                                 offset2bag, bag_size, maximum_indices, num_weights,
                                 scale_grad_by_freq, mode: int,
                                 per_sample_weights: TensorSpec | None = None,
                                 *_, **__) -> Cost:
    """Scatters the bag gradients into the table's gradient. Sum: an add per gathered
    element (n·D); mean, or per-sample weights: + a multiply each; max: an add per
    gradient element (only the maxima receive it)."""
    return _bag_backward(grad, indices, mode, per_sample_weights)


@TABLE.formula("aten._embedding_bag_per_sample_weights_backward")
def per_sample_weights_backward(result: TensorSpec, grad: TensorSpec, weight: TensorSpec,
                                indices: TensorSpec, *_, **__) -> Cost:
    """A D-term dot product (bag gradient · table row) per index."""
    return Cost(macs=indices.numel * weight.shape[1], dot_outputs=indices.numel)


@TABLE.formula("aten.scatter_add", "aten.scatter_add_", "aten.index_add",
               "aten.index_add_", "aten.scatter_reduce", "aten.scatter_reduce_",
               "aten.index_reduce", "aten.index_reduce_")
def scatter_add(result: TensorSpec, target: TensorSpec, *args, **kwargs) -> Cost:
    """One add (or reduce step) per source element."""
    sources = [s for s in specs_in((args, kwargs)) if is_float(s)]
    return Cost(elementwise=max((s.numel for s in sources), default=0))


@TABLE.formula("aten.index_put", "aten.index_put_", "aten._index_put_impl_",
               note="an add per value when accumulate=True, else a copy")
def index_put(result: TensorSpec, target: TensorSpec, indices, values: TensorSpec,
              accumulate: bool = False, *_, **__) -> Cost:
    """One add per value with accumulate=True; a copy otherwise."""
    return Cost(elementwise=values.numel if accumulate and is_float(values) else 0)
