"""Data movement as loops of constant strides: what slicing, splitting, stacking,
transposing, reversing, tiling, broadcasting, mirror padding and depth/space
rearranging ops share.

Every one of these ops writes each output element from exactly one input element,
at an index that is affine in the loop counters: for every (i0, i1, ...) of a loop
nest, ``dst[dst_start + sum(i * dst_stride)] = src[src_start + sum(i * src_stride)]``
(a negative stride reads an axis backwards, a stride of 0 reads it again: a repeat).
All shapes are known when the code is generated, so the op's prepare step describes
its copies that way (``Copy``) and ``copy_layer`` simplifies the nest (loops of one
iteration go, loops that walk memory contiguously on both sides merge) and renders
it with one template: outer loops around a ``memcpy`` of a contiguous run, or around
an element-by-element loop when the innermost strides are not 1 (a transpose that
moves channels, a slice with a step, a reversed axis).

The ops only move int8 bytes: TFLM's kernels for them copy values without looking
at their quantization, and so do we.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinyflow.codegen.ops.base import Layer, Prepared, TensorRef


@dataclass(frozen=True)
class Loop:
    count: int
    src_stride: int     # elements; negative: a reversed axis, 0: a repeat
    dst_stride: int


@dataclass
class Copy:
    """One loop nest copying from ``src`` to ``dst`` (outermost loop first)."""

    src: TensorRef
    dst: TensorRef
    loops: list[Loop]
    src_start: int = 0
    dst_start: int = 0
    outer: list[Loop] = field(init=False)
    inner: Loop = field(init=False)

    def __post_init__(self):
        loops = _merged([loop for loop in self.loops if loop.count != 1])
        self.outer, self.inner = loops[:-1], loops[-1] if loops else Loop(1, 1, 1)

    @property
    def contiguous(self) -> bool:
        """The innermost loop is a memcpy: both sides advance one element at a time."""
        return self.inner.count == 1 or (self.inner.src_stride == 1
                                         and self.inner.dst_stride == 1)

    @property
    def elements(self) -> int:
        return self.inner.count * self.runs

    @property
    def runs(self) -> int:
        return int(np.prod([loop.count for loop in self.outer], dtype=np.int64))


def _merged(loops: list[Loop]) -> list[Loop]:
    """Merge each loop into the one inside it when together they walk both sides as one
    longer loop would (a whole row of a slice that keeps every column, say)."""
    merged: list[Loop] = []
    for loop in loops:
        if merged:
            outer = merged[-1]
            if (outer.src_stride == loop.count * loop.src_stride
                    and outer.dst_stride == loop.count * loop.dst_stride):
                merged[-1] = Loop(outer.count * loop.count, loop.src_stride, loop.dst_stride)
                continue
        merged.append(loop)
    return merged


def row_major_strides(shape) -> list[int]:
    """Element strides of a dense row-major tensor of ``shape``."""
    strides, step = [], 1
    for size in reversed(tuple(shape)):
        strides.append(step)
        step *= int(size)
    return strides[::-1]


def slice_copy(src: TensorRef, dst: TensorRef, starts, counts, steps=None, *,
               src_shape=None, dst_start: int = 0, dst_strides=None) -> Copy:
    """The copy of a box of ``src`` (viewed with ``src_shape``): along each axis
    ``counts[a]`` elements from ``starts[a]``, every ``steps[a]``-th, written densely
    to ``dst`` (or with ``dst_strides`` from ``dst_start``: a box of a bigger output)."""
    src_strides = row_major_strides(src_shape if src_shape is not None else src.shape)
    steps = steps if steps is not None else [1] * len(counts)
    dst_strides = dst_strides if dst_strides is not None else row_major_strides(counts)
    loops = [Loop(int(count), int(step) * stride, dst_stride)
             for count, step, stride, dst_stride in zip(counts, steps, src_strides, dst_strides)]
    src_start = sum(int(start) * stride for start, stride in zip(starts, src_strides))
    return Copy(src, dst, loops, src_start=src_start, dst_start=dst_start)


def copy_layer(layer: Layer, copies: list[Copy], **params) -> Prepared:
    """The Prepared of a layer made of ``copies``: one template, two kernel variants
    (the cost model's keys) by the innermost loop: ``copy_runs`` (memcpy of runs) and
    ``copy_elements`` (element by element)."""
    copies = [copy for copy in copies if copy.elements > 0]
    contiguous = all(copy.contiguous for copy in copies)
    written = sum(copy.elements for copy in copies)
    return layer.prepared(
        "copy.c.j2", variant="copy_runs" if contiguous else "copy_elements",
        features=dict(runs=sum(copy.runs for copy in copies), outputs=written,
                      inputs=written),
        cost_terms=("calls", "outputs", "runs"), copies=copies, **params)


def require_int8(layer: Layer, tensors: list[TensorRef], what: str) -> None:
    """The data-movement kernels here are written for int8 tensors (TFLM's also take
    float32, int16 or int32, which int8 models do not use for activations)."""
    for position, tensor in enumerate(tensors):
        name = what if len(tensors) == 1 else f"{what} {position}"
        layer.require_dtype(tensor, name, "int8")


def index_ctype(values) -> str:
    """The smallest C type for a constant table of offsets (flash is scarce)."""
    return "int16_t" if max(values, default=0) <= np.iinfo(np.int16).max else "int32_t"
