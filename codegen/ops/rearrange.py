"""TRANSPOSE, DEPTH_TO_SPACE, SPACE_TO_DEPTH, REVERSE_V2, BROADCAST_TO, MIRROR_PAD and
TILE on int8: every element moves, none changes (TFLM's transpose.cc,
depth_to_space.cc, space_to_depth.cc, reverse.cc, broadcast_to.cc, mirror_pad.cc;
TFLM has no TILE, TFLite's reference tile.h repeats the input along each axis).

``keras.layers.Permute`` converts to TRANSPOSE; ``tf.nn.depth_to_space`` and
``space_to_depth`` (in a Lambda) to the next two, ``keras.ops.flip`` to REVERSE_V2,
``keras.ops.broadcast_to`` to BROADCAST_TO, ``keras.ops.pad(mode="reflect" or
"symmetric")`` to MIRROR_PAD;
Keras 3's nearest ``UpSampling2D``
to EXPAND_DIMS -> TILE -> RESHAPE per axis. Each is one loop nest of constant
strides over the output, in output order (copying.py): a transpose that keeps the
last axis copies runs of it, a block rearrangement copies runs of block x channels.
"""

from __future__ import annotations

from itertools import product

from tinyflow.codegen.ops import pad
from tinyflow.codegen.ops.base import Layer, Prepared, register
from tinyflow.codegen.ops.copying import Copy, Loop, copy_layer, require_int8, row_major_strides

TRANSPOSE_MAX_RANK = 5     # TFLM's TransposePrepare: "only supports 1D-5D input arrays"


def _int8_pair(layer: Layer):
    x, y = layer.input(0), layer.output()
    require_int8(layer, [x], "input")
    require_int8(layer, [y], "output")
    layer.require_not_constant(x, "input")
    return x, y


@register("TRANSPOSE")
def transpose(layer: Layer) -> Prepared:
    x, y = _int8_pair(layer)
    rank = len(x.shape)
    layer.require(1 <= rank <= TRANSPOSE_MAX_RANK,
                  f"rank {rank}: TFLM's TRANSPOSE takes 1 to {TRANSPOSE_MAX_RANK} axes")
    perm = layer.input(1)
    layer.require_constant(perm, "perm")
    layer.require(perm.tensor.dtype == "int32", f"perm is {perm.tensor.dtype}, not int32")
    perm = [int(p) for p in perm.data.ravel()]
    layer.require(sorted(perm) == list(range(rank)),
                  f"perm {perm} is not a permutation of the {rank} axes")
    permuted = [x.shape[p] for p in perm]
    layer.require(list(y.shape) == permuted,
                  f"output shape {list(y.shape)} is not the permuted input's {permuted}")
    in_strides, out_strides = row_major_strides(x.shape), row_major_strides(y.shape)
    loops = [Loop(y.shape[d], in_strides[perm[d]], out_strides[d]) for d in range(rank)]
    return copy_layer(layer, [Copy(x, y, loops)])


def _block_size(layer: Layer, x) -> int:
    layer.require(len(x.shape) == 4, f"input has rank {len(x.shape)}; TFLM takes 4 (NHWC)")
    block = layer.option("block_size", 0)
    layer.require(block > 0, f"block_size {block} is not positive")
    return block


@register("DEPTH_TO_SPACE")
def depth_to_space(layer: Layer) -> Prepared:
    """output[b, h*s + dy, w*s + dx, c] = input[b, h, w, (dy*s + dx)*C + c] (TFLM's DCR
    order): over (b, h, dy, w, dx, c) the output is written in order."""
    x, y = _int8_pair(layer)
    s = _block_size(layer, x)
    batch, height, width, depth = x.shape
    layer.require(depth % (s * s) == 0, f"depth {depth} is not a multiple of {s}x{s}")
    channels = depth // (s * s)
    expected = [batch, height * s, width * s, channels]
    layer.require(list(y.shape) == expected, f"output shape {list(y.shape)} is not {expected}")
    row = width * s * channels                      # one output row
    loops = [Loop(batch, height * width * depth, height * s * row),
             Loop(height, width * depth, s * row),
             Loop(s, s * channels, row),            # dy
             Loop(width, depth, s * channels),
             Loop(s, channels, channels),           # dx
             Loop(channels, 1, 1)]
    return copy_layer(layer, [Copy(x, y, loops)])


@register("SPACE_TO_DEPTH")
def space_to_depth(layer: Layer) -> Prepared:
    """output[b, h, w, (dy*s + dx)*C + c] = input[b, h*s + dy, w*s + dx, c]: over
    (b, h, w, dy, dx, c) the output is written in order."""
    x, y = _int8_pair(layer)
    s = _block_size(layer, x)
    batch, height, width, channels = x.shape
    layer.require(height % s == 0 and width % s == 0,
                  f"{height}x{width} does not divide into {s}x{s} blocks")
    expected = [batch, height // s, width // s, channels * s * s]
    layer.require(list(y.shape) == expected, f"output shape {list(y.shape)} is not {expected}")
    depth = channels * s * s
    row = width * channels                          # one input row
    loops = [Loop(batch, height * row, (height // s) * (width // s) * depth),
             Loop(height // s, s * row, (width // s) * depth),
             Loop(width // s, s * channels, depth),
             Loop(s, row, s * channels),            # dy
             Loop(s, channels, channels),           # dx
             Loop(channels, 1, 1)]
    return copy_layer(layer, [Copy(x, y, loops)])


@register("TILE")
def tile(layer: Layer) -> Prepared:
    """Axis a repeated multiples[a] times: over (repeat, index) pairs of every axis the
    output is written in order, the repeat loop reading the same input again (stride 0)."""
    x, y = _int8_pair(layer)
    multiples = layer.input(1)
    layer.require_constant(multiples, "multiples")
    layer.require(multiples.tensor.dtype in ("int32", "int64"),
                  f"multiples are {multiples.tensor.dtype}, not int32 or int64")
    multiples = [int(m) for m in multiples.data.ravel()]
    layer.require(len(multiples) == len(x.shape) and all(m >= 1 for m in multiples),
                  f"multiples {multiples} for a rank-{len(x.shape)} input")
    expected = [n * m for n, m in zip(x.shape, multiples)]
    layer.require(list(y.shape) == expected, f"output shape {list(y.shape)} is not {expected}")
    in_strides, out_strides = row_major_strides(x.shape), row_major_strides(y.shape)
    loops = []
    for size, repeats, in_stride, out_stride in zip(x.shape, multiples, in_strides, out_strides):
        loops += [Loop(repeats, 0, size * out_stride), Loop(size, in_stride, out_stride)]
    return copy_layer(layer, [Copy(x, y, loops)])


@register("REVERSE_V2")
def reverse(layer: Layer) -> Prepared:
    """The listed axes read backwards: a negative stride from their last element."""
    x, y = _int8_pair(layer)
    rank = len(x.shape)
    axes = layer.input(1)
    layer.require_constant(axes, "axis")
    layer.require(axes.tensor.dtype == "int32", f"axis is {axes.tensor.dtype}, not int32")
    axes = sorted(int(a) + rank if int(a) < 0 else int(a) for a in axes.data.ravel())
    layer.require(all(0 <= a < rank for a in axes),
                  f"axes {axes} are out of range for rank {rank}")
    # TFLM's Eval refuses axes that are not next to each other.
    layer.require(all(b == a + 1 for a, b in zip(axes, axes[1:])),
                  f"axes {axes} are not contiguous (TFLM refuses them)")
    layer.require(list(y.shape) == list(x.shape), "output shape differs from the input's")
    strides = row_major_strides(x.shape)
    loops = [Loop(size, -stride if a in axes else stride, stride)
             for a, (size, stride) in enumerate(zip(x.shape, strides))]
    start = sum((x.shape[a] - 1) * strides[a] for a in axes)
    return copy_layer(layer, [Copy(x, y, loops, src_start=start)])


BROADCAST_MAX_RANK = 5     # TFLM's broadcast_to.cc kMaxDims


@register("BROADCAST_TO")
def broadcast_to(layer: Layer) -> Prepared:
    """Axes of size 1 (and the missing leading ones) repeated: read with stride 0."""
    x, y = _int8_pair(layer)
    shape = layer.input(1)
    layer.require_constant(shape, "shape")
    layer.require(shape.tensor.dtype in ("int32", "int64"),
                  f"shape is {shape.tensor.dtype}, not int32 or int64")
    target = [int(d) for d in shape.data.ravel()]
    rank = len(y.shape)
    layer.require(rank <= BROADCAST_MAX_RANK and len(x.shape) <= rank,
                  f"rank {len(x.shape)} to {rank}: TFLM broadcasts up to {BROADCAST_MAX_RANK}")
    layer.require(list(y.shape) == target, f"output shape {list(y.shape)} is not {target}")
    padded = [1] * (rank - len(x.shape)) + list(x.shape)
    layer.require(all(n in (1, m) for n, m in zip(padded, target)),
                  f"{list(x.shape)} does not broadcast to {target}")
    in_strides, out_strides = row_major_strides(padded), row_major_strides(target)
    loops = [Loop(m, 0 if n == 1 else in_stride, out_stride)
             for n, m, in_stride, out_stride in zip(padded, target, in_strides, out_strides)]
    return copy_layer(layer, [Copy(x, y, loops)])


def _mirrored_index(position: int, before: int, size: int, offset: int) -> int:
    """TFLM's GetInputDimension: the input index output ``position`` reads along an
    axis padded by ``before`` (offset 1: reflect, without the edge; 0: symmetric)."""
    if position < before:
        edge = before + offset - 1
        return edge - min(position, edge - offset)
    position -= before
    if position >= size:
        edge = size - (1 + offset)
        return edge - min(position - size, edge)
    return position


def _runs(indices: list[int]) -> list[tuple[int, int, int, int]]:
    """``indices`` cut into arithmetic runs: (first output position, count, first index,
    step)."""
    runs, start = [], 0
    while start < len(indices):
        step = indices[start + 1] - indices[start] if start + 1 < len(indices) else 1
        end = start + 1
        while end < len(indices) and indices[end] - indices[end - 1] == step:
            end += 1
        runs.append((start, end - start, indices[start], step))
        start = end
    return runs


@register("MIRROR_PAD")
def mirror_pad(layer: Layer) -> Prepared:
    """Each axis' output positions read input indices in at most three arithmetic runs
    (the mirrored border before, the input, the mirrored border after); one copy per
    combination of runs across the axes."""
    x, y = _int8_pair(layer)
    paddings = layer.input(1)
    layer.require_constant(paddings, "paddings")
    layer.require(paddings.tensor.dtype in ("int32", "int64"),
                  f"paddings are {paddings.tensor.dtype}, not int32 or int64")
    pairs = pad.padding_pairs(layer, paddings)
    layer.require(len(pairs) == len(x.shape) == len(y.shape),
                  f"{len(pairs)} padding pairs for a rank-{len(x.shape)} tensor")
    # The flatbuffer's MirrorPadMode: REFLECT = 0 leaves the edge out, SYMMETRIC = 1 repeats it.
    offset = 1 if layer.option("mode", 0) == 0 else 0
    axes = []
    for axis, ((before, after), size, out) in enumerate(zip(pairs, x.shape, y.shape)):
        layer.require(before >= 0 and after >= 0 and out == size + before + after,
                      f"axis {axis}: output size {out} != {size} + {before} + {after}")
        layer.require(max(before, after) <= size - offset,
                      f"axis {axis}: padding {max(before, after)} is wider than the "
                      f"{size - offset} values it mirrors")
        axes.append(_runs([_mirrored_index(p, before, size, offset) for p in range(out)]))
    in_strides, out_strides = row_major_strides(x.shape), row_major_strides(y.shape)
    copies = []
    for runs in product(*axes):
        loops = [Loop(count, step * in_stride, out_stride)
                 for (_, count, _, step), in_stride, out_stride
                 in zip(runs, in_strides, out_strides)]
        copies.append(Copy(x, y, loops,
                           src_start=sum(r[2] * s for r, s in zip(runs, in_strides)),
                           dst_start=sum(r[0] * s for r, s in zip(runs, out_strides))))
    return copy_layer(layer, copies)
