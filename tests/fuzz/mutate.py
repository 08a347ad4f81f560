"""Mutated .tflite models: a structure-aware mutator through the TFLite schema's object
API, and byte mutations of the file itself.

The structure-aware mutations change one thing a converter or an attacker could get
wrong: a dim, a scale or zero point, a per-channel axis, an option, an op's tensor
index, the order of the ops, a buffer, the graph's inputs and outputs, a dtype, an
opcode. Each is seeded (``random.Random``), so a failing mutant can be rebuilt from
its model, seed and description.
"""

from __future__ import annotations

import random

import flatbuffers
import numpy as np

from tflite_micro.tensorflow.lite.micro.python.schema_py_generated import ModelT


def unpack(data: bytes) -> ModelT:
    """The model as mutable objects (every array a writable numpy copy)."""
    model = ModelT.InitFromPackedBuf(data)
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            tensor.shape = _writable(tensor.shape, np.int32)
            q = tensor.quantization
            if q is not None:
                q.scale = None if q.scale is None else _writable(q.scale, np.float32)
                q.zeroPoint = None if q.zeroPoint is None else _writable(q.zeroPoint, np.int64)
        for op in subgraph.operators:
            op.inputs = _writable(op.inputs, np.int32)
            op.outputs = _writable(op.outputs, np.int32)
        subgraph.inputs = _writable(subgraph.inputs, np.int32)
        subgraph.outputs = _writable(subgraph.outputs, np.int32)
    return model


def _writable(values, dtype) -> np.ndarray:
    return np.array([] if values is None else values, dtype=dtype)


def pack(model: ModelT) -> bytes:
    builder = flatbuffers.Builder(1 << 16)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


# --- structure-aware mutations: each changes one thing, returns what it did ---------------

_INT32_MAX = 2**31 - 1


def _used_tensors(subgraph) -> list[int]:
    used = {int(t) for op in subgraph.operators for t in list(op.inputs) + list(op.outputs)}
    return sorted(t for t in used if 0 <= t < len(subgraph.tensors))


def _quantized(subgraph) -> list[int]:
    return [i for i in _used_tensors(subgraph)
            if subgraph.tensors[i].quantization is not None
            and subgraph.tensors[i].quantization.scale is not None
            and len(subgraph.tensors[i].quantization.scale)]


def mutate_shape(model, sg, rng):
    index = rng.choice(_used_tensors(sg))
    tensor = sg.tensors[index]
    shape = tensor.shape
    if len(shape) == 0 or rng.random() < 0.15:
        tensor.shape = np.append(shape, rng.choice([1, 2, 3])).astype(np.int32)
        return f"tensor {index}: shape + one dim -> {list(tensor.shape)}"
    axis = rng.randrange(len(shape))
    old = int(shape[axis])
    shape[axis] = rng.choice([0, -1, 1, 2, old - 1, min(old + 1, _INT32_MAX),
                              min(old * 2, _INT32_MAX), 65536, _INT32_MAX])
    return f"tensor {index}: dim {axis} {old} -> {int(shape[axis])}"


def mutate_scale(model, sg, rng):
    index = rng.choice(_quantized(sg))
    scales = sg.tensors[index].quantization.scale
    position = rng.randrange(len(scales))
    old = float(scales[position])
    scales[position] = rng.choice([0.0, -old, float("nan"), float("inf"), 3e38, 1e-38,
                                   old * 2**20, old * 2**-20, old * 1.5, old / 3])
    return f"tensor {index}: scale[{position}] {old:g} -> {float(scales[position]):g}"


def mutate_zero_point(model, sg, rng):
    index = rng.choice(_quantized(sg))
    q = sg.tensors[index].quantization
    if q.zeroPoint is None or len(q.zeroPoint) == 0:
        q.zeroPoint = np.zeros(len(q.scale), np.int64)
    position = rng.randrange(len(q.zeroPoint))
    old = int(q.zeroPoint[position])
    q.zeroPoint[position] = rng.choice([-129, 128, 255, -128, 127, 5, -5, _INT32_MAX,
                                        -2**31, old + 1])
    return f"tensor {index}: zero_point[{position}] {old} -> {int(q.zeroPoint[position])}"


def mutate_channels(model, sg, rng):
    """Per-channel quantization made inconsistent: axis, or the number of scales."""
    index = rng.choice(_quantized(sg))
    q = sg.tensors[index].quantization
    if rng.random() < 0.5:
        old = q.quantizedDimension
        q.quantizedDimension = rng.choice([-1, 0, 1, 2, 3, 4, 7])
        return f"tensor {index}: quantized axis {old} -> {q.quantizedDimension}"
    keep = rng.choice([1, max(1, len(q.scale) - 1), len(q.scale) + 1, 2 * len(q.scale)])
    q.scale = np.resize(q.scale, keep).astype(np.float32)
    if q.zeroPoint is None or rng.random() < 0.7:
        q.zeroPoint = np.resize(_writable(q.zeroPoint, np.int64), keep).astype(np.int64)
    return f"tensor {index}: {keep} scales, {len(q.zeroPoint)} zero points"


def mutate_option(model, sg, rng):
    ops = [i for i, op in enumerate(sg.operators) if op.builtinOptions is not None
           and any(isinstance(v, (int, float)) and not isinstance(v, bool)
                   for v in vars(op.builtinOptions).values())]
    if not ops:
        return mutate_tensor_index(model, sg, rng)
    index = rng.choice(ops)
    options = sg.operators[index].builtinOptions
    fields = sorted(k for k, v in vars(options).items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool))
    name = rng.choice(fields)
    old = getattr(options, name)
    value = rng.choice([0, -1, 1, 2, 3, 4, 5, 7, 100])
    setattr(options, name, float(value) if isinstance(old, float) else value)
    return f"op {index}: option {name} {old} -> {getattr(options, name)}"


def mutate_tensor_index(model, sg, rng):
    index = rng.randrange(len(sg.operators))
    op = sg.operators[index]
    which = "inputs" if rng.random() < 0.6 or len(op.outputs) == 0 else "outputs"
    indices = getattr(op, which)
    choice = rng.random()
    if choice < 0.15:
        setattr(op, which, np.append(indices, rng.randrange(len(sg.tensors))).astype(np.int32))
        return f"op {index}: one more {which[:-1]}"
    if choice < 0.3 or len(indices) == 0:
        setattr(op, which, indices[:-1] if len(indices) else indices)
        return f"op {index}: last {which[:-1]} dropped"
    position = rng.randrange(len(indices))
    old = int(indices[position])
    indices[position] = rng.choice([-1, rng.randrange(len(sg.tensors)), old + 1, old - 1])
    return f"op {index}: {which[:-1]} {position} tensor {old} -> {int(indices[position])}"


def mutate_op_order(model, sg, rng):
    ops = sg.operators
    choice = rng.random()
    i, j = rng.randrange(len(ops)), rng.randrange(len(ops))
    if choice < 0.5:
        ops[i], ops[j] = ops[j], ops[i]
        return f"ops {i} and {j} swapped"
    if choice < 0.75:
        del ops[i]
        return f"op {i} removed"
    ops.insert(j, ops[i])
    return f"op {i} duplicated at {j}"


def mutate_buffer(model, sg, rng):
    index = rng.choice(_used_tensors(sg))
    tensor = sg.tensors[index]
    choice = rng.random()
    if choice < 0.4:
        old = tensor.buffer
        tensor.buffer = rng.choice([0, rng.randrange(len(model.buffers)), len(model.buffers) + 3])
        return f"tensor {index}: buffer {old} -> {tensor.buffer}"
    buffer = model.buffers[tensor.buffer] if 0 <= tensor.buffer < len(model.buffers) else None
    if buffer is None or buffer.data is None or len(buffer.data) == 0:
        return mutate_shape(model, sg, rng)
    data = np.array(buffer.data, dtype=np.uint8)
    if choice < 0.6:
        buffer.data = data[:rng.randrange(len(data))]
        return f"tensor {index}: buffer {tensor.buffer} truncated to {len(buffer.data)} bytes"
    generator = np.random.default_rng(rng.randrange(2**32))
    positions = generator.integers(0, len(data), size=max(1, len(data) // 8))
    data[positions] = generator.choice([0, 0x7F, 0x80, 0xFF], size=len(positions))
    buffer.data = data
    return f"tensor {index}: {len(positions)} bytes of buffer {tensor.buffer} set to extremes"


def mutate_graph_io(model, sg, rng):
    which = "inputs" if rng.random() < 0.5 else "outputs"
    indices = getattr(sg, which)
    if rng.random() < 0.2 or len(indices) == 0:
        setattr(sg, which, np.array([], np.int32))
        return f"graph {which} emptied"
    if rng.random() < 0.2:
        # One more: any tensor (a constant, an activation), or the other list's first.
        other = sg.outputs if which == "inputs" else sg.inputs
        extra = rng.choice([rng.randrange(len(sg.tensors))] + [int(t) for t in other[:1]])
        setattr(sg, which, np.append(indices, extra).astype(np.int32))
        return f"graph {which}: tensor {extra} added"
    old = int(indices[0])
    other = sg.outputs if which == "inputs" else sg.inputs
    indices[0] = rng.choice([-1, len(sg.tensors), rng.randrange(len(sg.tensors)), old + 1]
                            + [int(t) for t in other[:1]])
    return f"graph {which[:-1]} 0: tensor {old} -> {int(indices[0])}"


def mutate_dtype(model, sg, rng):
    index = rng.choice(_used_tensors(sg))
    old = sg.tensors[index].type
    # FLOAT32 0, FLOAT16 1, INT32 2, UINT8 3, INT64 4, STRING 5, BOOL 6, INT16 7, INT8 9,
    # UINT32 16, INT4 17, and a value beyond the enum.
    sg.tensors[index].type = rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 9, 16, 17, 60])
    return f"tensor {index}: dtype {old} -> {sg.tensors[index].type}"


def mutate_opcode(model, sg, rng):
    index = rng.randrange(len(sg.operators))
    op = sg.operators[index]
    if rng.random() < 0.5:
        old = op.opcodeIndex
        op.opcodeIndex = rng.randrange(len(model.operatorCodes))
        return f"op {index}: opcode index {old} -> {op.opcodeIndex}"
    code = model.operatorCodes[rng.randrange(len(model.operatorCodes))]
    new = rng.choice([0, 1, 3, 4, 9, 14, 17, 22, 25, 34, 40, 114, 127, 200])
    code.deprecatedBuiltinCode, code.builtinCode = min(new, 127), new
    return f"an operator code -> builtin {new}"


MUTATIONS = (mutate_shape, mutate_scale, mutate_zero_point, mutate_channels, mutate_option,
             mutate_tensor_index, mutate_op_order, mutate_buffer, mutate_graph_io,
             mutate_dtype, mutate_opcode)


def structure_mutant(data: bytes, rng: random.Random, count: int = 1) -> tuple[bytes, str]:
    """``data`` with ``count`` structure-aware mutations; (bytes, what was done)."""
    model = unpack(data)
    subgraph = model.subgraphs[0]
    done = []
    for _ in range(count):
        if not subgraph.operators or not _used_tensors(subgraph):
            break
        mutation = rng.choice(MUTATIONS)
        if mutation in (mutate_scale, mutate_zero_point, mutate_channels) \
                and not _quantized(subgraph):
            mutation = mutate_shape
        done.append(mutation(model, subgraph, rng))
    return pack(model), "; ".join(done)


# --- byte mutations -------------------------------------------------------------------------

def byte_mutant(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """``data`` with bits flipped, bytes overwritten or inserted, or cut short."""
    buf = bytearray(data)
    choice = rng.random()
    if choice < 0.35:
        positions = [rng.randrange(len(buf)) for _ in range(rng.randint(1, 8))]
        for p in positions:
            buf[p] ^= 1 << rng.randrange(8)
        return bytes(buf), f"bits flipped at {positions}"
    if choice < 0.65:
        position = rng.randrange(len(buf) - 4)
        value = rng.choice([b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\xff\xff\xff\x7f",
                            b"\x00\x00\x00\x80", b"\x01\x00\x00\x00"])
        buf[position:position + 4] = value
        return bytes(buf), f"4 bytes at {position} set to {value.hex()}"
    if choice < 0.85:
        position = rng.randrange(len(buf))
        inserted = bytes(rng.randrange(256) for _ in range(rng.choice([1, 4, 16])))
        buf[position:position] = inserted
        return bytes(buf), f"{len(inserted)} bytes inserted at {position}"
    keep = rng.randrange(len(buf))
    return bytes(buf[:keep]), f"truncated to {keep} bytes"
