"""Graph simplification before planning: fold shape arithmetic, drop what nothing reads.

A Keras 3 model built on ``keras.Input(shape)`` has a dynamic batch size, so its
converted ``Flatten`` or ``Reshape`` computes the new shape at run time:
``SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE``. The .tflite file stores every
activation with batch 1 (the dynamic batch lives only in ``shape_signature``,
which the IR does not read), and tinyflow runs one sample at a time: the batch is
fixed at 1, every shape is static, and that arithmetic has one answer. So:

1. fold: an op that computes int32/int64 values from constants (or, for SHAPE,
   from a tensor's static shape) is evaluated here, in numpy; its output becomes
   a constant tensor and the op goes away;
2. drop ops whose outputs nothing reads anymore (the SHAPE chain's leftovers);
3. drop RESHAPEs that change nothing (same shape, dtype and quantization): their
   readers read the input instead;
4. fold dilated convolutions: on a dynamic batch the converter writes Keras'
   ``Conv2D(dilation_rate=d)`` / ``DepthwiseConv2D(dilation_rate=d)`` as
   ``SPACE_TO_BATCH_ND -> CONV_2D (VALID) -> BATCH_TO_SPACE_ND``, the SAME padding
   hidden in the paddings and crops; the three become one convolution with
   dilation d (see ``_dilated``). A chain that cannot be folded exactly is left as
   it is, with the reason in ``Simplification.refused``;
5. a RESHAPE whose new shape folded to a constant gives its output that shape when
   the file stores another (a dynamic batch can leave the converter guessing a
   static shape, e.g. [1, 1, 10, 3] for an upsampled [1, 8, 10, 3]; TFLite itself
   follows the new-shape input);
6. fold index wrapping into GATHER: Keras 3 wraps negative indices before a gather
   (``Embedding``, ``keras.ops.take``) as ``SELECT(LESS(i, 0), ADD(i, n), i)`` on
   int32; the GATHER reads ``i`` instead and wraps it itself (its option
   ``wrap_negative_indices``, tinyflow's own), and the three ops go.

Tensor indices are kept (only their data changes), so a tensor means the same in
the simplified model and in the file (TFLM's reference reads tensors by index).
Operators are renumbered 0..n-1 (the memory planner counts steps by index); each
keeps its index in the file as ``Operator.file_index`` for messages. A model with
nothing to simplify comes back unchanged, the same object.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from tinyflow.codegen.ir import Model, Operator, Tensor
from tinyflow.codegen.quantize import same_padding

# Values of shape arithmetic: plain integers, never quantized activations.
_INTEGER_DTYPES = ("int32", "int64")

# Ops never dropped even when nothing reads their outputs: they act on state.
_KEEP_UNREAD = frozenset({"ASSIGN_VARIABLE", "VAR_HANDLE", "READ_VARIABLE", "CALL_ONCE"})


@dataclass
class Simplification:
    """What ``simplification`` did to a model: the result and the ops it removed
    (as they were in the file)."""

    original: Model
    model: Model
    folded: list[Operator] = field(default_factory=list)     # evaluated into constants
    unread: list[Operator] = field(default_factory=list)     # nothing read their outputs
    reshapes: list[Operator] = field(default_factory=list)   # RESHAPEs that changed nothing
    # SPACE_TO_BATCH_ND -> conv -> BATCH_TO_SPACE_ND chains folded into a dilated conv
    # (the three ops as they were in the file, in that order)
    dilations: list[tuple[Operator, Operator, Operator]] = field(default_factory=list)
    # chains that look like a dilated convolution but were left: (the conv, why)
    refused: list[tuple[Operator, str]] = field(default_factory=list)
    # RESHAPE outputs whose stored shape gave way to the folded new shape: (op, shape)
    reshaped: list[tuple[Operator, tuple[int, ...]]] = field(default_factory=list)
    # GATHERs that wrap their negative indices themselves (as they were in the file)
    index_wraps: list[Operator] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.model is not self.original

    def __str__(self) -> str:
        refused = "".join(f"\nnot folded into a dilated convolution: {conv.location}: {why}"
                          for conv, why in self.refused)
        if not self.changed:
            return "simplified: nothing to simplify" + refused
        parts = []
        for ops, what in ((self.folded, "folded"), (self.unread, "unread, dropped"),
                          (self.reshapes, "no-op, dropped")):
            if ops:
                names = ", ".join(dict.fromkeys(op.opcode for op in ops))
                parts.append(f"{len(ops)} op{'s' if len(ops) > 1 else ''} {what} ({names})")
        if self.dilations:
            names = ", ".join(dict.fromkeys(conv.opcode for _, conv, _ in self.dilations))
            count = len(self.dilations)
            parts.append(f"{count} SPACE_TO_BATCH_ND -> conv -> BATCH_TO_SPACE_ND "
                         f"chain{'s' if count > 1 else ''} folded into a dilated {names}")
        if self.reshaped:
            parts.append(f"{len(self.reshaped)} RESHAPE output shape"
                         f"{'s' if len(self.reshaped) > 1 else ''} taken from the folded "
                         f"new shape")
        if self.index_wraps:
            parts.append(f"{len(self.index_wraps)} negative-index wrap"
                         f"{'s' if len(self.index_wraps) > 1 else ''} folded into GATHER")
        return (f"simplified: {'; '.join(parts)}, "
                f"{len(self.original.operators)} -> {len(self.model.operators)} ops" + refused)


def simplify(model: Model) -> Model:
    """``model`` with its shape arithmetic folded and unread ops dropped (see the
    module docstring); ``model`` itself when there is nothing to simplify."""
    return simplification(model).model


def simplification(model: Model) -> Simplification:
    tensors = list(model.tensors)          # copied on write: ``model`` is not changed
    result = Simplification(original=model, model=model)
    graph_outputs = set(model.outputs)

    # 1. Fold, in file order: the ops are topologically sorted, so a chain folds in one pass.
    kept = []
    for op in model.operators:
        values = None
        if not graph_outputs.intersection(op.outputs):
            values = _fold(op, tensors)
        if values is None:
            kept.append(op)
            shape = _folded_reshape_shape(op, tensors)
            if shape is not None:
                out = tensors[op.outputs[0]]
                tensors[out.index] = dataclasses.replace(out, shape=shape)
                result.reshaped.append((op, shape))
            continue
        out = tensors[op.outputs[0]]
        tensors[out.index] = dataclasses.replace(out, data=values)
        result.folded.append(op)

    # 2. No-op RESHAPEs: their readers read the input instead.
    renamed: dict[int, int] = {}           # a dropped reshape's output -> its input
    remaining = []
    for op in kept:
        op = _renamed_inputs(op, renamed)
        if _is_noop_reshape(op, tensors, graph_outputs):
            renamed[op.outputs[0]] = op.inputs[0]
            result.reshapes.append(op)
        else:
            remaining.append(op)

    # 3. Dilated convolutions written as SPACE_TO_BATCH_ND -> conv -> BATCH_TO_SPACE_ND.
    remaining = _fold_dilations(remaining, tensors, graph_outputs, result)
    remaining = _fold_index_wraps(remaining, tensors, graph_outputs, result)

    # 4. Drop ops nothing reads, last to first, so whole unread chains go.
    read = set(model.outputs)
    live = []
    for op in reversed(remaining):
        if (read.intersection(op.outputs) or op.opcode in _KEEP_UNREAD
                or op.opcode.startswith("CUSTOM:") or not op.outputs):
            live.append(op)
            read.update(t for t in op.inputs if t >= 0)
        else:
            result.unread.append(op)
    live.reverse()
    result.unread.reverse()

    if not (result.folded or result.reshapes or result.unread or result.dilations
            or result.index_wraps or result.reshaped):
        return result
    operators = [dataclasses.replace(op, index=position,
                                     file_index=_file_index(op))
                 for position, op in enumerate(live)]
    result.model = dataclasses.replace(model, tensors=tensors, operators=operators)
    return result


def describe(simplified: Simplification) -> str:
    """The simplified graph, each op with its index in the file when that differs."""
    model = simplified.model
    lines = [f"{model.name} simplified: {len(model.operators)} ops"]
    for op in model.operators:
        outs = ", ".join(str(list(model.tensors[i].shape)) for i in op.outputs)
        was = _file_index(op)
        origin = f"  (file op #{was})" if was != op.index else ""
        lines.append(f"  {op.index:3d} {op.opcode:<20} -> {outs}{origin}")
    return "\n".join(lines)


def _file_index(op: Operator) -> int:
    return op.index if op.file_index is None else op.file_index


def _renamed_inputs(op: Operator, renamed: dict[int, int]) -> Operator:
    if not renamed.keys() & set(op.inputs):
        return op
    return dataclasses.replace(op, inputs=tuple(renamed.get(t, t) for t in op.inputs))


def _folded_reshape_shape(op: Operator, tensors: list[Tensor]) -> tuple[int, ...] | None:
    """The output shape a RESHAPE's constant new-shape input gives (one -1 inferred),
    when it holds the input's elements and differs from the shape the file stores."""
    if op.opcode != "RESHAPE" or len(op.inputs) < 2 or min(op.inputs[:2]) < 0:
        return None
    x, new_shape, out = (tensors[t] for t in (op.inputs[0], op.inputs[1], op.outputs[0]))
    if not new_shape.is_constant or new_shape.dtype not in _INTEGER_DTYPES:
        return None
    shape = [int(d) for d in new_shape.data.ravel()]
    known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
    if shape.count(-1) == 1 and known > 0 and x.num_elements % known == 0:
        shape[shape.index(-1)] = x.num_elements // known
    if (any(d < 0 for d in shape) or int(np.prod(shape, dtype=np.int64)) != x.num_elements
            or tuple(shape) == tuple(out.shape)):
        return None
    return tuple(shape)


def _is_noop_reshape(op: Operator, tensors: list[Tensor], graph_outputs: set[int]) -> bool:
    """A RESHAPE whose output is its input, byte for byte and in meaning."""
    if op.opcode != "RESHAPE" or not op.inputs or op.inputs[0] < 0:
        return False
    x, y = tensors[op.inputs[0]], tensors[op.outputs[0]]
    return (not x.is_constant and op.outputs[0] not in graph_outputs
            and x.shape == y.shape and x.dtype == y.dtype
            and x.quantization == y.quantization)


# --- negative indices wrapped before a GATHER -------------------------------------------

def _fold_index_wraps(ops: list[Operator], tensors: list[Tensor], graph_outputs: set[int],
                      result: Simplification) -> list[Operator]:
    """Each GATHER whose indices are ``SELECT(LESS(i, 0), ADD(i, n), i)``, n its axis'
    size, reads ``i`` and wraps it itself; the LESS, ADD and SELECT, unread now, go
    with the other unread ops."""
    producer = {t: op for op in ops for t in op.outputs}

    def scalar(t: int, value: int) -> bool:
        tensor = tensors[t]
        return (t >= 0 and tensor.is_constant and tensor.num_elements == 1
                and int(tensor.data.ravel()[0]) == value)

    def wrapped(t: int, size: int) -> int | None:
        """``i`` when tensor ``t`` is i wrapped into [0, size) that way, else None."""
        select = producer.get(t)
        if (t in graph_outputs or select is None or select.opcode not in ("SELECT", "SELECT_V2")
                or len(select.inputs) != 3):
            return None
        condition, added, index = select.inputs
        less, add = producer.get(condition), producer.get(added)
        if (less is None or add is None or less.opcode != "LESS" or add.opcode != "ADD"
                or tensors[index].dtype != "int32" or tensors[index].is_constant
                or add.options.get("fused_activation_function", "NONE") != "NONE"):
            return None
        if len(less.inputs) != 2 or less.inputs[0] != index or not scalar(less.inputs[1], 0):
            return None
        others = [a for a in add.inputs if a != index]     # ADD(i, n) or ADD(n, i)
        if len(add.inputs) != 2 or len(others) != 1 or not scalar(others[0], size):
            return None
        return index

    simplified = []
    for op in ops:
        if op.opcode == "GATHER" and len(op.inputs) == 2 and op.inputs[0] >= 0:
            params = tensors[op.inputs[0]]
            axis = op.options.get("axis", 0)
            axis = axis + len(params.shape) if axis < 0 else axis
            index = (wrapped(op.inputs[1], params.shape[axis])
                     if 0 <= axis < len(params.shape) and op.options.get("batch_dims", 0) == 0
                     else None)
            if index is not None:
                result.index_wraps.append(op)
                op = dataclasses.replace(op, inputs=(op.inputs[0], index),
                                         options={**op.options, "wrap_negative_indices": True})
        simplified.append(op)
    return simplified


# --- dilated convolutions ---------------------------------------------------------------

_CONVOLUTIONS = ("CONV_2D", "DEPTHWISE_CONV_2D")


def _fold_dilations(ops: list[Operator], tensors: list[Tensor], graph_outputs: set[int],
                    result: Simplification) -> list[Operator]:
    """``ops`` with every SPACE_TO_BATCH_ND -> conv -> BATCH_TO_SPACE_ND chain that
    ``_dilated`` can fold replaced by its dilated convolution (at the conv's place)."""
    readers: dict[int, list[Operator]] = {}
    for op in ops:
        for t in set(op.inputs):
            readers.setdefault(t, []).append(op)

    def only_reader(tensor: int, opcodes) -> Operator | None:
        found = readers.get(tensor, [])
        if tensor in graph_outputs or len(found) != 1 or found[0].opcode not in opcodes:
            return None
        return found[0] if found[0].inputs[0] == tensor else None

    replaced: dict[int, Operator | None] = {}    # id(op) -> its replacement (None: gone)
    for to_batch in ops:
        if to_batch.opcode != "SPACE_TO_BATCH_ND":
            continue
        conv = only_reader(to_batch.outputs[0], _CONVOLUTIONS)
        to_space = conv and only_reader(conv.outputs[0], ("BATCH_TO_SPACE_ND",))
        if not to_space:
            continue
        try:
            dilated = _dilated(to_batch, conv, to_space, tensors)
        except _NotFoldable as exc:
            result.refused.append((conv, str(exc)))
            continue
        replaced.update({id(to_batch): None, id(conv): dilated, id(to_space): None})
        result.dilations.append((to_batch, conv, to_space))
    kept = [replaced.get(id(op), op) for op in ops]
    return [op for op in kept if op is not None]


class _NotFoldable(Exception):
    """A SPACE_TO_BATCH_ND -> conv -> BATCH_TO_SPACE_ND chain that is no dilated
    convolution; the message says why."""


def _dilated(to_batch: Operator, conv: Operator, to_space: Operator,
             tensors: list[Tensor]) -> Operator:
    """The one convolution that computes what the three ops compute, or _NotFoldable.

    SPACE_TO_BATCH_ND pads the input (with the zero point) by ``paddings`` and deals
    its pixels into block_h x block_w images, pixel (i, j) of each block to image
    (i, j); a VALID stride-1 convolution over image (i, j) reads padded pixels
    i, i + block, i + 2 * block, ...: a convolution dilated by the block.
    BATCH_TO_SPACE_ND puts the pixels back in place and drops ``crops``. So output
    pixel q reads input pixels q + crop_before - pad_before + block * tap: a
    convolution with dilation ``block`` and padding ``pad_before - crop_before``. A
    tap in the padding adds zero either way (the zero point plus the input offset;
    TFLM's convolution skips taps outside the input). TFLite has no explicit padding,
    so the chain folds when SAME or VALID gives exactly that padding and output size.
    """
    x, y = tensors[to_batch.inputs[0]], tensors[to_space.outputs[0]]
    block = _constant(tensors, to_batch, 1, (2,), "block shape")
    paddings = _constant(tensors, to_batch, 2, (2, 2), "paddings")
    crops = _constant(tensors, to_space, 2, (2, 2), "crops")
    if _constant(tensors, to_space, 1, (2,), "block shape").tolist() != block.tolist():
        raise _NotFoldable("SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND have different blocks")
    if len(x.shape) != 4 or len(y.shape) != 4 or x.shape[0] != 1:
        raise _NotFoldable(f"input {list(x.shape)}: only 4-D inputs of batch 1 fold")
    if (block < 1).any() or (paddings < 0).any() or (crops < 0).any():
        raise _NotFoldable("negative paddings or crops, or a block below 1")
    for before, after in ((x, to_batch.outputs[0]), (tensors[conv.outputs[0]], y.index)):
        after = tensors[after]
        if (before.dtype, before.quantization) != (after.dtype, after.quantization):
            raise _NotFoldable("SPACE_TO_BATCH_ND or BATCH_TO_SPACE_ND changes the "
                               "quantization")
    o = conv.options
    if (o.get("padding") != "VALID" or (o.get("stride_h", 1), o.get("stride_w", 1)) != (1, 1)
            or (o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)) != (1, 1)):
        raise _NotFoldable("the convolution inside is not VALID, stride 1, undilated")
    filter_hw = tensors[conv.inputs[1]].shape[1:3]
    chain = [_chain_window(x.shape[1 + a], filter_hw[a], int(block[a]), paddings[a], crops[a])
             for a in (0, 1)]
    if None in chain or (chain[0][0], chain[1][0]) != tuple(y.shape[1:3]):
        raise _NotFoldable(f"the output {list(y.shape)} is not what the paddings and crops "
                           f"give")
    padding = next((candidate for candidate in ("VALID", "SAME")
                    if all(same_padding(x.shape[1 + a], filter_hw[a], 1, int(block[a]),
                                        candidate) == chain[a] for a in (0, 1))), None)
    if padding is None:
        raise _NotFoldable(f"paddings {paddings.tolist()} and crops {crops.tolist()} are "
                           f"neither SAME nor VALID padding of a dilated convolution")
    options = dict(o, padding=padding, dilation_h_factor=int(block[0]),
                   dilation_w_factor=int(block[1]))
    return dataclasses.replace(conv, inputs=(x.index, *conv.inputs[1:]),
                               outputs=to_space.outputs, options=options,
                               file_index=_file_index(conv))


def _chain_window(size: int, filter_size: int, block: int, padding, crop):
    """(output size, padding before) of the dilated convolution a chain computes, along
    one axis; None when the padded size does not split into blocks."""
    padded = size + int(padding[0]) + int(padding[1])
    if padded % block:
        return None
    out = block * (padded // block - filter_size + 1) - int(crop[0]) - int(crop[1])
    return out, int(padding[0]) - int(crop[0])


def _constant(tensors: list[Tensor], op: Operator, position: int, shape: tuple,
              what: str) -> np.ndarray:
    tensor = tensors[op.inputs[position]] if len(op.inputs) > position else None
    if tensor is None or not tensor.is_constant or tensor.data.shape != shape:
        raise _NotFoldable(f"{op.opcode}'s {what} is not a constant of shape {list(shape)}")
    return tensor.data.astype(np.int64)


# --- folding -------------------------------------------------------------------------------

def _fold(op: Operator, tensors: list[Tensor]) -> np.ndarray | None:
    """The output of ``op`` computed here, or None when it cannot (or must not) be.

    Only single-output ops on plain (unquantized) integers; the result must have the
    output tensor's dtype and stored shape, so nothing downstream sees a change."""
    folder = _FOLDERS.get(op.opcode)
    if folder is None or len(op.outputs) != 1 or any(t < 0 for t in op.inputs):
        return None
    out = tensors[op.outputs[0]]
    if out.dtype not in _INTEGER_DTYPES or out.quantization is not None:
        return None
    inputs = [tensors[t] for t in op.inputs]
    # SHAPE reads only its input's shape; the other ops read their inputs' values.
    read = inputs[:1] if op.opcode in _RESHAPES else [] if op.opcode == "SHAPE" else inputs
    if not all(t.is_constant and t.dtype in _INTEGER_DTYPES and t.quantization is None
               for t in read):
        return None
    try:
        values = folder(op, inputs, out)
    except (ValueError, IndexError, TypeError):
        return None                       # leave it to prepare, which names the problem
    if values is None:
        return None
    values = np.asarray(values)
    if values.shape != tuple(out.shape):
        return None
    return values.astype(out.dtype)


def _fold_shape(op, inputs, out):
    (x,) = inputs
    if any(d < 0 for d in x.shape):       # an unknown dimension: not static
        return None
    return np.array(x.shape, dtype=np.int64)


def _fold_strided_slice(op, inputs, out):
    x, begin, end, strides = (inputs + [None])[:4]
    o = op.options
    # The masks that add or skip axes do not occur in shape arithmetic: not folded.
    if o.get("ellipsis_mask", 0) or o.get("new_axis_mask", 0) or o.get("offset", False):
        return None
    begin, end = begin.data.ravel(), end.data.ravel()
    strides = strides.data.ravel() if strides is not None else np.ones_like(begin)
    data = x.data
    if not (len(begin) == len(end) == len(strides) <= data.ndim):
        return None
    index = []
    for axis in range(len(begin)):
        if o.get("shrink_axis_mask", 0) >> axis & 1:
            position = int(begin[axis])
            if not -data.shape[axis] <= position < data.shape[axis]:
                return None
            index.append(position)        # an int index removes the axis
            continue
        if strides[axis] == 0:
            return None
        # numpy's slice clamps out-of-range bounds and wraps negatives as TFLite does.
        start = None if o.get("begin_mask", 0) >> axis & 1 else int(begin[axis])
        stop = None if o.get("end_mask", 0) >> axis & 1 else int(end[axis])
        index.append(slice(start, stop, int(strides[axis])))
    return data[tuple(index)]


def _fold_pack(op, inputs, out):
    return np.stack([t.data for t in inputs], axis=op.options.get("axis", 0))


def _fold_concatenation(op, inputs, out):
    if op.options.get("fused_activation_function", "NONE") != "NONE":
        return None
    return np.concatenate([t.data for t in inputs], axis=op.options.get("axis", 0))


def _fold_gather(op, inputs, out):
    params, indices = inputs[:2]
    if op.options.get("batch_dims", 0) != 0:
        return None
    axis = op.options.get("axis", 0)
    size = params.data.shape[axis]
    if np.any((indices.data < 0) | (indices.data >= size)):
        return None                       # TFLM refuses these: keep the op, and its error
    return np.take(params.data, indices.data, axis=axis)


def _fold_reshape(op, inputs, out):
    # The new shape is the output tensor's (stored, static); the values keep their order.
    return inputs[0].data.reshape(out.shape)


_RESHAPES = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")

_FOLDERS = {
    "SHAPE": _fold_shape,
    "STRIDED_SLICE": _fold_strided_slice,
    "PACK": _fold_pack,
    "CONCATENATION": _fold_concatenation,
    "GATHER": _fold_gather,
    **dict.fromkeys(_RESHAPES, _fold_reshape),
}
