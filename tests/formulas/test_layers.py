"""Normalisation, softmax, pooling, interpolation, embeddings/gathers and losses."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision

import flopwise
from tests.formulas.support import Direct, Run, S, check_direct, check_run, covered

r = torch.randn
N = 2 * 3 * 4 * 4  # elements of the [2,3,4,4] input used below


def _module(factory, train=True):
    torch.manual_seed(0)
    module = factory()
    return module.train(train)


# Normalisation per element: statistics 4 (mean 1, variance 3) + normalise 2 + affine 2;
# backward: input gradient 6 with statistics (3 without) + affine gradients 2.
NORMS = [
    Run("batch-norm-train", _module(lambda: torch.nn.BatchNorm2d(3)), lambda: (r(2, 3, 4, 4),),
        ("aten.native_batch_norm",), {"elementwise": 8 * N}),
    Run("batch-norm-eval", _module(lambda: torch.nn.BatchNorm2d(3), train=False),
        lambda: (r(2, 3, 4, 4),), ("aten.native_batch_norm",), {"elementwise": 4 * N}),
    Run("batch-norm-backward", _module(lambda: torch.nn.BatchNorm2d(3)),
        lambda: (r(2, 3, 4, 4),), ("aten.native_batch_norm_backward",), {"elementwise": 8 * N},
        backward=True, phase="backward"),
    Run("layer-norm", _module(lambda: torch.nn.LayerNorm(4)), lambda: (r(2, 3, 4, 4),),
        ("aten.native_layer_norm",), {"elementwise": 8 * N}),
    Run("layer-norm-backward", _module(lambda: torch.nn.LayerNorm(4)), lambda: (r(2, 3, 4, 4),),
        ("aten.native_layer_norm_backward",), {"elementwise": 8 * N}, backward=True,
        phase="backward"),
    Run("group-norm", _module(lambda: torch.nn.GroupNorm(1, 3)), lambda: (r(2, 3, 4, 4),),
        ("aten.native_group_norm",), {"elementwise": 8 * N}),
    Run("group-norm-backward", _module(lambda: torch.nn.GroupNorm(1, 3)),
        lambda: (r(2, 3, 4, 4),), ("aten.native_group_norm_backward",), {"elementwise": 8 * N},
        backward=True, phase="backward"),
    # instance norm runs as batch norm with batch statistics over a [1, 2·3, 4, 4] view
    Run("instance-norm", _module(lambda: torch.nn.InstanceNorm2d(3, affine=True)),
        lambda: (r(2, 3, 4, 4),), ("aten.native_batch_norm",), {"elementwise": 8 * N}),
    # RMSNorm on CPU is op by op: pow N, mean over 4 (N adds + 24 divides), +eps 24,
    # rsqrt 24, x·rsqrt N, ·weight N
    Run("rms-norm-decomposed", _module(lambda: torch.nn.RMSNorm(4)), lambda: (r(2, 3, 4, 4),),
        ("aten.pow", "aten.mean", "aten.add_", "aten.rsqrt", "aten.mul"),
        {"elementwise": N + (N + 24) + 24 + 24 + N + N}),
]

NORM_DIRECT = [
    Direct("batch-norm-variants-train",
           ("aten._native_batch_norm_legit", "aten.cudnn_batch_norm", "aten.miopen_batch_norm"),
           (S(2, 3, 4, 4),), (S(2, 3, 4, 4), S(3), S(3), S(3), S(3), True),
           {"elementwise": 8 * N}),
    Direct("batch-norm-with-update", ("aten._batch_norm_with_update",), (S(2, 3, 4, 4),),
           (S(2, 3, 4, 4), S(3), S(3), S(3), S(3)), {"elementwise": 8 * N}),
    Direct("batch-norm-no-training",
           ("aten._native_batch_norm_legit_no_training", "aten._batch_norm_no_update"),
           (S(2, 3, 4, 4),), (S(2, 3, 4, 4), S(3), S(3), S(3), S(3)), {"elementwise": 4 * N}),
    # eval-mode backward: no statistics, input gradient 3 + affine 2
    Direct("batch-norm-backward-variants",
           ("aten.cudnn_batch_norm_backward", "aten.miopen_batch_norm_backward"),
           (S(2, 3, 4, 4),), (S(2, 3, 4, 4), S(2, 3, 4, 4), S(3), S(3), S(3), S(3), S(3), False),
           {"elementwise": 5 * N}),
    Direct("batch-norm-backward-new", ("aten.batch_norm_backward",), (S(2, 3, 4, 4),),
           (S(2, 3, 4, 4), S(2, 3, 4, 4), S(3), S(3), S(3), S(3), S(3), True),
           {"elementwise": 8 * N}),
    # fused RMS norm: square and sum 2 + scale 1 + weight 1; backward 5 + weight gradient 2
    Direct("fused-rms-norm", ("aten._fused_rms_norm",), (S(2, 3, 4, 4),),
           (S(2, 3, 4, 4), [4], S(4)), {"elementwise": 4 * N}),
    Direct("fused-rms-norm-backward", ("aten._fused_rms_norm_backward",), (S(2, 3, 4, 4),),
           (S(2, 3, 4, 4), S(2, 3, 4, 4), [4], S(2, 3, 4, 1), S(4)), {"elementwise": 7 * N}),
]

SOFTMAX = [
    # 5 per element forward (max-subtract 2, exp, sum, divide); backward 4
    Run("softmax", lambda x: x.softmax(-1), lambda: (r(2, 3, 4, 4, requires_grad=True),),
        ("aten._softmax", "aten._softmax_backward_data"), {"elementwise": 5 * N + 4 * N},
        backward=True),
    Run("log-softmax", lambda x: x.log_softmax(-1), lambda: (r(2, 3, 4, 4, requires_grad=True),),
        ("aten._log_softmax", "aten._log_softmax_backward_data"),
        {"elementwise": 5 * N + 4 * N}, backward=True),
]

SOFTMAX_DIRECT = [
    Direct("safe-softmax", ("aten._safe_softmax",), S(2, 8), (S(2, 8), -1), {"elementwise": 80}),
]

# [2,3,4,4] pooled by 2×2: 2·3·2·2 = 24 outputs
# RoI Align, 2 boxes over a [1,3,8,8] map, 2×2 outputs, sampling_ratio 2 (S = 4 samples):
# 2·3·2·2 = 24 outputs; forward 8·S = 32 each, backward 8·S + 1 = 33 each
ROIS = [[0, 0, 0, 4, 4], [0, 2, 2, 6, 6]]

POOLING = [
    # fractional max pool, 2×2 windows to a 2×2 output of 2 maps: 8 outputs × 4 compares = 32;
    # backward: one add per output gradient = 8
    Run("fractional-max-pool2d", torch.nn.FractionalMaxPool2d(2, output_size=2),
        lambda: (r(1, 2, 5, 5, requires_grad=True),),
        ("aten.fractional_max_pool2d", "aten.fractional_max_pool2d_backward"),
        {"elementwise": 8 * 4 + 8}, backward=True),
    Run("roi-align", lambda x, rois: torchvision.ops.roi_align(
            x, rois, output_size=2, spatial_scale=1.0, sampling_ratio=2),
        lambda: (r(1, 3, 8, 8, requires_grad=True), torch.tensor(ROIS, dtype=torch.float32)),
        ("torchvision.roi_align", "torchvision._roi_align_backward"),
        {"elementwise": 24 * 32 + 24 * 33}, backward=True),
    Run("max-pool2d", lambda x: F.max_pool2d(x, 2), lambda: (r(2, 3, 4, 4, requires_grad=True),),
        ("aten.max_pool2d_with_indices", "aten.max_pool2d_with_indices_backward"),
        {"elementwise": 24 * 4 + 24}, backward=True),
    Run("avg-pool2d", lambda x: F.avg_pool2d(x, 2), lambda: (r(2, 3, 4, 4, requires_grad=True),),
        ("aten.avg_pool2d", "aten.avg_pool2d_backward"),
        {"elementwise": 24 * (4 + 1) * 2}, backward=True),
    # adaptive 4 → 3: windows [0,2) [1,3) [2,4): 6 per dimension, 36 per map, 6 maps;
    # + 1 divide per output (6·9)
    Run("adaptive-avg-pool2d", lambda x: F.adaptive_avg_pool2d(x, 3),
        lambda: (r(2, 3, 4, 4, requires_grad=True),),
        ("aten._adaptive_avg_pool2d", "aten._adaptive_avg_pool2d_backward"),
        {"elementwise": 2 * (6 * 36 + 54)}, backward=True),
    Run("adaptive-max-pool2d", lambda x: F.adaptive_max_pool2d(x, 3),
        lambda: (r(2, 3, 4, 4, requires_grad=True),),
        ("aten.adaptive_max_pool2d", "aten.adaptive_max_pool2d_backward"),
        {"elementwise": 6 * 36 + 54}, backward=True),
    # 1-d: [1,2,8] by 2 → 8 outputs; 3-d: [1,1,4,4,4] by 2 → 8 outputs of 8 elements
    # (max_pool1d runs as the 2-d kernel on an unsqueezed input)
    Run("max-pool1d", lambda x: F.max_pool1d(x, 2), lambda: (r(1, 2, 8),),
        ("aten.max_pool2d_with_indices",), {"elementwise": 8 * 2}),
    Run("max-pool3d", lambda x: F.max_pool3d(x, 2), lambda: (r(1, 1, 4, 4, 4, requires_grad=True),),
        ("aten.max_pool3d_with_indices", "aten.max_pool3d_with_indices_backward"),
        {"elementwise": 8 * 8 + 8}, backward=True),
    Run("avg-pool3d", lambda x: F.avg_pool3d(x, 2), lambda: (r(1, 1, 4, 4, 4, requires_grad=True),),
        ("aten.avg_pool3d", "aten.avg_pool3d_backward"), {"elementwise": 2 * 8 * 9},
        backward=True),
    Run("adaptive-avg-pool3d", lambda x: F.adaptive_avg_pool3d(x, 2),
        lambda: (r(1, 1, 4, 4, 4, requires_grad=True),),
        ("aten._adaptive_avg_pool3d", "aten._adaptive_avg_pool3d_backward"),
        {"elementwise": 2 * (64 + 8)}, backward=True),
    Run("adaptive-max-pool3d", lambda x: F.adaptive_max_pool3d(x, 2),
        lambda: (r(1, 1, 4, 4, 4, requires_grad=True),),
        ("aten.adaptive_max_pool3d", "aten.adaptive_max_pool3d_backward"),
        {"elementwise": 64 + 8}, backward=True),
]

POOLING_DIRECT = [
    # 3-d: 2·2·2 windows into a 1·1·2·2·2 output: 8 outputs × 8 compares; backward 8 adds
    Direct("fractional-max-pool3d", ("aten.fractional_max_pool3d",), (S(1, 1, 2, 2, 2),),
           (S(1, 1, 5, 5, 5), [2, 2, 2]), {"elementwise": 64}),
    Direct("fractional-max-pool3d-backward", ("aten.fractional_max_pool3d_backward",),
           S(1, 1, 5, 5, 5), (S(1, 1, 2, 2, 2), S(1, 1, 5, 5, 5)), {"elementwise": 8}),
    Direct("pool-1d-variants", ("aten.max_pool1d_with_indices", "aten.adaptive_max_pool1d",
                                "aten.max_pool1d"),
           (S(1, 2, 4), S(1, 2, 4)), (S(1, 2, 8), [2]), {"elementwise": 16}),
    Direct("avg-pool1d", ("aten.avg_pool1d",), S(1, 2, 4), (S(1, 2, 8), [2]),
           {"elementwise": 8 * 3}),
    Direct("max-pool-2d-3d-plain", ("aten.max_pool2d", "aten.mkldnn_max_pool2d"), S(2, 3, 2, 2),
           (S(2, 3, 4, 4), [2, 2]), {"elementwise": 96}),
    Direct("max-pool3d-plain", ("aten.max_pool3d",), S(1, 1, 2, 2, 2), (S(1, 1, 4, 4, 4), [2]),
           {"elementwise": 64}),
    Direct("adaptive-avg-1d", ("aten.adaptive_avg_pool1d",), S(1, 2, 3), (S(1, 2, 4), [3]),
           {"elementwise": 2 * 6 + 6}),
    Direct("adaptive-avg-2d-public", ("aten.adaptive_avg_pool2d",), S(1, 1, 1, 1),
           (S(1, 1, 7, 7), [1, 1]), {"elementwise": 49 + 1}),
    Direct("adaptive-avg-3d-public", ("aten.adaptive_avg_pool3d",), S(1, 1, 1, 1, 1),
           (S(1, 1, 2, 2, 2), [1, 1, 1]), {"elementwise": 8 + 1}),
]

# [1,2,4,4] → ×2 → [1,2,8,8]: 128 outputs; nearest 0, bilinear 7, bicubic 31 each
INTERPOLATION = [
    Run("nearest2d", lambda x: F.interpolate(x, scale_factor=2, mode="nearest"),
        lambda: (r(1, 2, 4, 4, requires_grad=True),),
        ("aten.upsample_nearest2d", "aten.upsample_nearest2d_backward"), {"elementwise": 0},
        backward=True),
    Run("bilinear2d", lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"),
        lambda: (r(1, 2, 4, 4, requires_grad=True),),
        ("aten.upsample_bilinear2d", "aten.upsample_bilinear2d_backward"),
        {"elementwise": 2 * 7 * 128}, backward=True),
    Run("bicubic2d", lambda x: F.interpolate(x, scale_factor=2, mode="bicubic"),
        lambda: (r(1, 2, 4, 4, requires_grad=True),),
        ("aten.upsample_bicubic2d", "aten.upsample_bicubic2d_backward"),
        {"elementwise": 2 * 31 * 128}, backward=True),
    # [1,2,4] → [1,2,8]: 16 outputs of 3; [1,1,2,2,2] → [1,1,4,4,4]: 64 outputs of 15
    Run("linear1d", lambda x: F.interpolate(x, scale_factor=2, mode="linear"),
        lambda: (r(1, 2, 4, requires_grad=True),),
        ("aten.upsample_linear1d", "aten.upsample_linear1d_backward"),
        {"elementwise": 2 * 3 * 16}, backward=True),
    Run("trilinear3d", lambda x: F.interpolate(x, scale_factor=2, mode="trilinear"),
        lambda: (r(1, 1, 2, 2, 2, requires_grad=True),),
        ("aten.upsample_trilinear3d", "aten.upsample_trilinear3d_backward"),
        {"elementwise": 2 * 15 * 64}, backward=True),
    Run("nearest1d-3d", lambda a, b: (F.interpolate(a, scale_factor=2),
                                      F.interpolate(b, scale_factor=2)),
        lambda: (r(1, 2, 4, requires_grad=True), r(1, 1, 2, 2, 2, requires_grad=True)),
        ("aten.upsample_nearest1d", "aten.upsample_nearest3d", "aten.upsample_nearest1d_backward",
         "aten.upsample_nearest3d_backward"), {"elementwise": 0}, backward=True),
    Run("nearest-exact", lambda a, b, c: (F.interpolate(a, scale_factor=2, mode="nearest-exact"),
                                          F.interpolate(b, scale_factor=2, mode="nearest-exact"),
                                          F.interpolate(c, scale_factor=2, mode="nearest-exact")),
        lambda: (r(1, 2, 4, requires_grad=True), r(1, 2, 4, 4, requires_grad=True),
                 r(1, 1, 2, 2, 2, requires_grad=True)),
        tuple(f"aten._upsample_nearest_exact{d}d{s}" for d in (1, 2, 3) for s in ("", "_backward")),
        {"elementwise": 0}, backward=True),
    Run("antialias", lambda x: (F.interpolate(x, size=(2, 2), mode="bilinear", antialias=True),
                                F.interpolate(x, size=(2, 2), mode="bicubic", antialias=True)),
        lambda: (r(1, 2, 4, 4, requires_grad=True),),
        ("aten._upsample_bilinear2d_aa", "aten._upsample_bicubic2d_aa",
         "aten._upsample_bilinear2d_aa_backward", "aten._upsample_bicubic2d_aa_backward"),
        {"elementwise": 2 * (7 + 31) * 8}, backward=True),
]

# Embedding(10, 4) looking up 2 ids: zero FLOPs, reads 2 int64 ids (16 B) + 2 rows of 4 floats
# (32 B), writes 32 B; its backward adds the 2·4 output gradients into the table's gradient
# EmbeddingBag(10, 4) over 2 bags of 3 ids: n = 6 gathered rows of D = 4, B·D = 8 outputs
IDS = [[1, 2, 3], [4, 5, 6]]
BAG_READ = 6 * 8 + 2 * 8 + 6 * 4 * 4       # ids (int64) + offsets (2 int64) + gathered rows

DATA = [
    # sum: an add per gathered element (24); backward scatters each: 24 more
    Run("embedding-bag-sum", torch.nn.EmbeddingBag(10, 4, mode="sum"),
        lambda: (torch.tensor(IDS),), ("aten._embedding_bag", "aten._embedding_bag_backward"),
        {"elementwise": 24 + 24}, backward=True),
    Run("embedding-bag-bytes", torch.nn.EmbeddingBag(10, 4, mode="sum"),
        lambda: (torch.tensor(IDS),), ("aten._embedding_bag",),
        {"elementwise": 24, "bytes_read": BAG_READ}, phase="forward"),
    # mean: + a divide per output (8); backward: an add and a scale per gathered element (48)
    Run("embedding-bag-mean", torch.nn.EmbeddingBag(10, 4, mode="mean"),
        lambda: (torch.tensor(IDS),), ("aten._embedding_bag", "aten._embedding_bag_backward"),
        {"elementwise": 24 + 8 + 48}, backward=True),
    # max: a compare per gathered element (24); backward reaches the maxima only: B·D = 8
    Run("embedding-bag-max", torch.nn.EmbeddingBag(10, 4, mode="max"),
        lambda: (torch.tensor(IDS),), ("aten._embedding_bag", "aten._embedding_bag_backward"),
        {"elementwise": 24 + 8}, backward=True),
    # per-sample weights: + a multiply per gathered element (forward 48, backward 48), and the
    # weights' gradient: a 4-term dot (bag gradient · row) per id, 6 dots = 24 MACs
    Run("embedding-bag-weights", torch.nn.EmbeddingBag(10, 4, mode="sum"),
        lambda: (torch.tensor([1, 2, 3, 4, 5, 6]), torch.tensor([0, 3]),
                 torch.rand(6, requires_grad=True)),
        ("aten._embedding_bag", "aten._embedding_bag_backward",
         "aten._embedding_bag_per_sample_weights_backward"),
        {"elementwise": 48 + 48, "macs": 24, "dot_outputs": 6}, backward=True),
    Run("embedding", torch.nn.Embedding(10, 4), lambda: (torch.tensor([1, 2]),),
        ("aten.embedding",), {"macs": 0, "elementwise": 0, "bytes_read": 48, "bytes_written": 32}),
    Run("embedding-backward", torch.nn.Embedding(10, 4), lambda: (torch.tensor([1, 2]),),
        ("aten.embedding_dense_backward",), {"elementwise": 8}, backward=True, phase="backward"),
    # index_select of 3 rows of 5 floats: reads 3 ids (24 B) + 60 B, writes 60 B
    Run("index-select", lambda x, i: x.index_select(0, i), lambda: (r(10, 5), torch.tensor([0, 2, 4])),
        ("aten.index_select",), {"bytes_read": 24 + 60, "bytes_written": 60}),
    Run("gather-index", lambda x, i: (x.gather(1, i), x[i[:, 0]]),
        lambda: (r(4, 5), torch.zeros(4, 2, dtype=torch.long)), ("aten.gather", "aten.index"),
        {"elementwise": 0}),
    # scatter-add of 6 source elements; index_add of 2 rows of 5; index_put accumulate 3 values
    Run("scatter-add", lambda x, i, s: x.scatter_add(0, i, s),
        lambda: (torch.zeros(3, 2), torch.zeros(3, 2, dtype=torch.long), r(3, 2)),
        ("aten.scatter_add",), {"elementwise": 6}),
    Run("index-add", lambda x, i, s: x.index_add(0, i, s),
        lambda: (torch.zeros(4, 5), torch.tensor([0, 1]), r(2, 5)), ("aten.index_add",),
        {"elementwise": 10}),
    Run("index-put-accumulate", lambda x, i, v: x.index_put((i,), v, accumulate=True),
        lambda: (torch.zeros(5), torch.tensor([0, 1, 1]), r(3)), ("aten.index_put",),
        {"elementwise": 3}),
    Run("scatter-reduce", lambda x, i, s: x.scatter_reduce(0, i, s, reduce="sum"),
        lambda: (torch.zeros(3), torch.tensor([0, 1, 1, 2]), r(4)), ("aten.scatter_reduce",),
        {"elementwise": 4}),
]

DATA_DIRECT = [
    # the forward-only kernel (weights that need no gradient): the same 24 adds, mean + 8
    Direct("embedding-bag-forward-only", ("aten._embedding_bag_forward_only",),
           (S(2, 4), S(6, dtype="int64", itemsize=8)),
           (S(10, 4), S(6, dtype="int64", itemsize=8), S(2, dtype="int64", itemsize=8), False, 1),
           {"elementwise": 24 + 8, "bytes_read": BAG_READ}),
    # the dense backward kernel (CUDA's path), sum mode over n = 6 ids of D = 4: 24 adds
    Direct("embedding-bag-dense-backward", ("aten._embedding_bag_dense_backward",), S(10, 4),
           (S(2, 4), S(6, dtype="int64", itemsize=8), S(6, dtype="int64", itemsize=8),
            S(2, dtype="int64", itemsize=8), S(2, 4, dtype="int64", itemsize=8), 10, False, 0),
           {"elementwise": 24}),
    Direct("gathers", ("aten._unsafe_index", "aten.take", "aten.take_along_dim"), S(3),
           (S(10), S(3, dtype="int64", itemsize=8)), {"bytes_read": 24 + 12, "bytes_written": 12}),
    Direct("scatter-family", ("aten.scatter_add_", "aten.index_add_", "aten.scatter_reduce_",
                              "aten.index_reduce", "aten.index_reduce_"),
           S(4, 5), (S(4, 5), 0, S(2, dtype="int64", itemsize=8), S(2, 5)), {"elementwise": 10}),
    Direct("index-put-variants", ("aten.index_put_", "aten._index_put_impl_"), S(5),
           (S(5), [S(3, dtype="int64", itemsize=8)], S(3), True), {"elementwise": 3}),
]

# nll: 4 targets → 4 adds; mse over 6 elements: 3 each; smooth L1 4; BCE 7
LOSSES = [
    Run("cross-entropy", lambda x, t: F.cross_entropy(x, t),
        lambda: (r(4, 5, requires_grad=True), torch.tensor([1, 2, 3, 4])),
        ("aten._log_softmax", "aten.nll_loss_forward", "aten.nll_loss_backward",
         "aten._log_softmax_backward_data"),
        {"elementwise": 5 * 20 + 4 + 4 + 4 * 20}, backward=True),
    Run("nll-2d", lambda x, t: F.nll_loss(x, t),
        lambda: (r(2, 3, 2, 2, requires_grad=True), torch.zeros(2, 2, 2, dtype=torch.long)),
        ("aten.nll_loss2d_forward", "aten.nll_loss2d_backward"), {"elementwise": 8 + 8},
        backward=True),
    Run("mse", F.mse_loss, lambda: (r(2, 3, requires_grad=True), r(2, 3)),
        ("aten.mse_loss", "aten.mse_loss_backward"), {"elementwise": 3 * 6 + 3 * 6},
        backward=True),
    Run("smooth-l1-huber", lambda a, b: F.smooth_l1_loss(a, b) + F.huber_loss(a, b),
        lambda: (r(2, 3, requires_grad=True), r(2, 3)),
        ("aten.smooth_l1_loss", "aten.smooth_l1_loss_backward", "aten.huber_loss",
         "aten.huber_loss_backward"), {"elementwise": (4 + 3) * 6 * 2}, backward=True),
    Run("bce", F.binary_cross_entropy,
        lambda: (torch.rand(2, 3, requires_grad=True), torch.rand(2, 3)),
        ("aten.binary_cross_entropy", "aten.binary_cross_entropy_backward"),
        {"elementwise": (7 + 6) * 6}, backward=True),
    Run("soft-margin", F.soft_margin_loss, lambda: (r(2, 3, requires_grad=True), r(2, 3)),
        ("aten.soft_margin_loss", "aten.soft_margin_loss_backward"), {"elementwise": 8 * 6},
        backward=True),
]

COVERS = covered(NORMS, NORM_DIRECT, SOFTMAX, SOFTMAX_DIRECT, POOLING, POOLING_DIRECT,
                 INTERPOLATION, DATA, DATA_DIRECT, LOSSES)


@pytest.mark.parametrize("case", NORMS + SOFTMAX + POOLING + INTERPOLATION + DATA + LOSSES,
                         ids=lambda c: c.id)
def test_run(case):
    check_run(case)


@pytest.mark.parametrize("case", NORM_DIRECT + SOFTMAX_DIRECT + POOLING_DIRECT + DATA_DIRECT,
                         ids=lambda c: c.id)
def test_direct(case):
    check_direct(case)


def test_roi_align_with_adaptive_sampling_is_unsupported_not_guessed():
    # sampling_ratio=-1: samples per output follow each box's size, which shapes do not tell
    x, rois = r(1, 3, 8, 8), torch.tensor(ROIS, dtype=torch.float32)
    report = flopwise.profile(lambda a, b: torchvision.ops.roi_align(a, b, output_size=2), (x, rois))
    assert report.unsupported == {"torchvision.roi_align.default": 1}
    assert "data-dependent" in report.formula_errors["torchvision.roi_align.default"]
