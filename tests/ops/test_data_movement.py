"""Ops that move int8 values without changing them, as Keras 3 layers convert to them:
STRIDED_SLICE and SLICE (slicing, Cropping2D, keras.ops.slice), TRANSPOSE (Permute),
REVERSE_V2 (keras.ops.flip), BROADCAST_TO, MIRROR_PAD (keras.ops.pad reflect and
symmetric), SPLIT / SPLIT_V / UNPACK / PACK (keras.ops.split, unstack, stack),
DEPTH_TO_SPACE and SPACE_TO_DEPTH (tf.nn in a Lambda), RESIZE_NEAREST_NEIGHBOR and
RESIZE_BILINEAR (Resizing, UpSampling2D), GATHER (keras.ops.take, Embedding), TILE
(nearest UpSampling, RepeatVector, keras.ops.tile and repeat). Each case is compared
byte for byte with TFLM, or where TFLM cannot run the model (TILE, Embedding's int32
SELECT) with TFLite.

Builders take ``batch``: None is the default ``keras.Input(shape)`` (a dynamic batch,
which tinyflow runs with the batch fixed at 1), 1 a static batch.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from .harness import (Case, assert_case_matches_tflm, dims, first_op, run_tflite_interpreter,
                      seeds_from_name)


def _batch(batch) -> str:
    return "_dynamic" if batch is None else ""


def _case(name, build, params, op, **kwargs) -> Case:
    return Case(name, build, params, op, **seeds_from_name(name), **kwargs)


def _tf_lambda(function_name, **kwargs):
    """A Lambda calling tf.<function_name>(x, **kwargs), for ops Keras has no layer for."""
    import keras
    import tensorflow as tf

    function = tf
    for part in function_name.split("."):
        function = getattr(function, part)
    return keras.layers.Lambda(lambda t: function(t, **kwargs))


# --- STRIDED_SLICE / SLICE -----------------------------------------------------------------------

def sliced(shape, index, batch):
    """x[index] with Python slicing on a Keras tensor (``index`` covers the batch axis)."""
    import keras

    x = keras.Input(shape, batch_size=batch)
    return keras.Model(x, x[tuple(slice(*s) if isinstance(s, tuple) else s for s in index)])


def cropped(shape, cropping, batch):
    import keras

    x = keras.Input(shape, batch_size=batch)
    layer = (keras.layers.Cropping2D(cropping) if len(shape) == 3
             else keras.layers.Cropping1D(cropping))
    return keras.Model(x, layer(x))


def ops_slice(shape, start, size, batch):
    import keras

    x = keras.Input(shape, batch_size=batch)
    return keras.Model(x, keras.ops.slice(x, start, size))


def _index_name(index) -> str:
    def one(s):
        if isinstance(s, tuple):
            return ":".join("" if v is None else str(v) for v in s).replace("-", "m")
        return str(s).replace("-", "m")
    return "_".join(one(s) for s in index)


ALL = (None, None, None)   # ":" on an axis

STRIDED_SLICE_CASES = [
    _case(f"strided_slice_{dims(shape)}_{_index_name(index)}{_batch(batch)}", sliced,
          dict(shape=shape, index=index, batch=batch), "STRIDED_SLICE")
    for shape, index, batch in [
        ((8, 6, 4), (ALL, (1, 5), (None, None, 2)), None),      # x[:, 1:5, ::2]
        ((8, 6, 4), (ALL, (None, None, -1), (1, None), 2), 1),  # reversed, shrink of the last
        ((8, 6, 4), (ALL, (-2, 0, -2), ALL, (1, 3)), None),     # negative start and step
        ((8, 6, 4), (ALL, ALL, ALL, (None, None, 3)), 1),       # every third channel
        ((8, 6, 4), (ALL, 3), None),                            # one row, the axis removed
        ((10,), (ALL, (3, -1)), None),
        ((5, 7), (ALL, (-100, 100), (6, 1, -2)), 1),            # clamped bounds, backwards
        ((3, 4, 5), (ALL, (0, 3), (4, 1, -1), (None, None, -2)), None),
    ]
] + [
    _case(f"cropping_{dims(shape)}_{cropping}{_batch(batch)}".replace(" ", ""), cropped,
          dict(shape=shape, cropping=cropping, batch=batch), "STRIDED_SLICE")
    for shape, cropping, batch in [
        ((8, 6, 4), ((1, 2), (0, 1)), None),
        ((9, 9, 3), ((2, 2), (2, 2)), 1),
        ((12, 5), (3, 1), None),
    ]
]


def _random_slices(count, seed):
    """Random shapes (rank 1-3 after the batch axis) and Python slices of them: bounds
    omitted, negative or past the end, steps of either sign, some axes taken by an
    index (shrink); each slice keeps at least one element."""
    rng = np.random.default_rng(seed)
    params = []
    while len(params) < count:
        shape = tuple(int(d) for d in rng.integers(2, 7, size=int(rng.integers(1, 4))))
        index = [ALL]
        for size in shape:
            if rng.random() < 0.15:
                index.append(int(rng.integers(-size, size)))
                continue
            step = int(rng.choice([1, 1, 2, 3, -1, -2]))
            bound = [None] + list(range(-size - 2, size + 3))
            start, stop = (bound[int(rng.integers(len(bound)))] for _ in range(2))
            index.append((start, stop, step))
        picked = np.zeros((1,) + shape)[tuple(slice(*s) if isinstance(s, tuple) else s
                                              for s in index)]
        if picked.size and picked.ndim >= 2:
            params.append(dict(shape=shape, index=tuple(index), batch=None))
    return params


RANDOM_STRIDED_SLICE_CASES = [
    _case(f"strided_slice_random{i}_{dims(p['shape'])}", sliced, p, "STRIDED_SLICE")
    for i, p in enumerate(_random_slices(12, seed=99))
]

SLICE_CASES = [
    _case(f"slice_{dims(shape)}_from{dims(start)}_size{dims(size)}{_batch(batch)}"
          .replace("-", "m"), ops_slice,
          dict(shape=shape, start=start, size=size, batch=batch), "SLICE")
    for shape, start, size, batch in [
        ((8, 6, 4), (0, 1, 2, 0), (1, 3, 3, 4), None),
        ((8, 6, 4), (0, 0, 0, 1), (1, 8, 6, 2), 1),
        ((10, 3), (0, 4, 0), (1, 5, 3), None),
    ]
]


# --- TRANSPOSE ----------------------------------------------------------------------------------

def permuted(shape, order, batch):
    import keras

    x = keras.Input(shape, batch_size=batch)
    return keras.Model(x, keras.layers.Permute(order)(x))


def transposes_with(perm):
    def check(model):
        op = first_op(model, "TRANSPOSE")
        assert model.tensors[op.inputs[1]].data.tolist() == list(perm)
    return check


TRANSPOSE_CASES = [
    _case(f"transpose_{dims(shape)}_perm{dims(order)}{_batch(batch)}", permuted,
          dict(shape=shape, order=order, batch=batch), "TRANSPOSE",
          check=transposes_with((0,) + order))
    for shape, order, batch in [
        ((4, 6, 3), (3, 1, 2), None),        # channels first: element by element
        ((4, 6, 3), (2, 1, 3), None),        # rows and columns swap: runs of channels
        ((5, 7), (2, 1), 1),
        ((2, 3, 4, 5), (3, 1, 4, 2), 1),     # five axes with the batch
        ((6, 10, 8), (1, 3, 2), None),
    ]
]



def flipped(shape, axis, batch):
    import keras

    x = keras.Input(shape, batch_size=batch)
    return keras.Model(x, keras.ops.flip(x, axis=axis))


REVERSE_CASES = [
    _case(f"reverse_{dims(shape)}_axis{dims(axis) if isinstance(axis, tuple) else axis}"
          f"{_batch(batch)}".replace("-", "m"), flipped,
          dict(shape=shape, axis=axis, batch=batch), "REVERSE_V2")
    for shape, axis, batch in [
        ((6, 5, 3), 1, None), ((6, 5, 3), -1, 1), ((4, 7), (1, 2), None), ((9,), 1, 1),
    ]
]


def broadcast(shape, target, batch):
    import keras

    x = keras.Input(shape, batch_size=batch)
    return keras.Model(x, keras.ops.broadcast_to(x, target))


BROADCAST_CASES = [
    _case(f"broadcast_{dims(shape)}_to{dims(target)}", broadcast,
          dict(shape=shape, target=target, batch=1), "BROADCAST_TO")
    for shape, target in [
        ((1, 4), (1, 3, 4)), ((5, 1), (1, 5, 6)), ((1, 1, 3), (2, 1, 4, 5, 3)),
    ]
]


def mirror_padded(shape, paddings, mode, batch):
    import keras

    x = keras.Input(shape, batch_size=batch)
    return keras.Model(x, keras.ops.pad(x, paddings, mode=mode))


MIRROR_PAD_CASES = [
    _case(f"mirror_pad_{mode}_{dims(shape)}_pads{'-'.join(f'{a}{b}' for a, b in paddings)}"
          f"{_batch(batch)}", mirror_padded,
          dict(shape=shape, paddings=paddings, mode=mode, batch=batch), "MIRROR_PAD")
    for mode in ("reflect", "symmetric")
    for shape, paddings, batch in [
        ((6, 5, 3), ((0, 0), (2, 1), (1, 3), (0, 0)), None),
        ((4, 7), ((0, 0), (3, 0), (0, 2)), 1),
        ((5,), ((0, 0), (4, 4)), 1),
    ]
]

# --- SPLIT / SPLIT_V / UNPACK / PACK ------------------------------------------------------------

def split_outputs(shape, sections, axis, order, batch):
    """keras.ops.split; every part is a model output, in ``order``. (A part nothing
    reads can leave the converter's SPLIT in float32, so every part is used.)"""
    import keras

    x = keras.Input(shape, batch_size=batch)
    parts = keras.ops.split(x, sections, axis=axis)
    return keras.Model(x, [parts[i] for i in order])


def unstack_outputs(shape, axis, batch):
    import keras

    x = keras.Input(shape, batch_size=batch)
    return keras.Model(x, keras.ops.unstack(x, axis=axis))


def unstack_concatenate(shape, axis, batch):
    """keras.ops.unstack, the parts concatenated back in reverse order on the last axis:
    UNPACK's outputs feed another op."""
    import keras

    x = keras.Input(shape, batch_size=batch)
    parts = keras.ops.unstack(x, axis=axis)
    return keras.Model(x, keras.layers.Concatenate(axis=-1)(parts[::-1]))


def stacked_halves(shape, axis, batch):
    """keras.ops.stack of the two halves of x along its first axis (two STRIDED_SLICEs
    into one PACK)."""
    import keras

    x = keras.Input(shape, batch_size=batch)
    half = shape[0] // 2
    return keras.Model(x, keras.ops.stack([x[:, :half], x[:, half:2 * half]], axis=axis))


SPLIT_CASES = [
    _case(f"split_{dims(shape)}_{sections}_axis{axis}_order{dims(order)}{_batch(batch)}"
          .replace(" ", ""), split_outputs,
          dict(shape=shape, sections=sections, axis=axis, order=order, batch=batch),
          "SPLIT" if isinstance(sections, int) else "SPLIT_V")
    for shape, sections, axis, order, batch in [
        ((4, 6, 6), 3, -1, (0, 1, 2), None),
        ((4, 6, 6), 2, 1, (1, 0), 1),
        ((12,), 4, 1, (3, 1, 0, 2), None),
        ((4, 7, 6), [2, 5], 2, (0, 1, 2), None),    # SPLIT_V: widths 2, 3, 2
        ((9, 4), [1, 8], 1, (2, 0, 1), 1),
    ]
]

UNPACK_CASES = [
    _case(f"unpack_concat_{dims(shape)}_axis{axis}{_batch(batch)}", unstack_concatenate,
          dict(shape=shape, axis=axis, batch=batch), "UNPACK", extra_ops=("CONCATENATION",))
    for shape, axis, batch in [((4, 6, 6), 1, None), ((3, 5, 2), -1, 1)]
] + [
    _case(f"unpack_{dims(shape)}_axis{axis}", unstack_outputs,
          dict(shape=shape, axis=axis, batch=1), "UNPACK")
    for shape, axis in [((3, 4), 2), ((2, 3, 4), 2)]
]

PACK_CASES = [
    _case(f"pack_halves_{dims(shape)}_axis{axis}{_batch(batch)}", stacked_halves,
          dict(shape=shape, axis=axis, batch=batch), "PACK", extra_ops=("STRIDED_SLICE",))
    for shape, axis, batch in [((8, 6), 1, None), ((8, 6), -1, 1), ((6, 2, 5), 2, None)]
]


# --- DEPTH_TO_SPACE / SPACE_TO_DEPTH ------------------------------------------------------------

def block_rearranged(shape, function, block, batch):
    import keras

    x = keras.Input(shape, batch_size=batch)
    return keras.Model(x, _tf_lambda(f"nn.{function}", block_size=block)(x))


BLOCK_CASES = [
    _case(f"{function}_{dims(shape)}_block{block}{_batch(batch)}", block_rearranged,
          dict(shape=shape, function=function, block=block, batch=batch), function.upper())
    for function, shape, block, batch in [
        ("depth_to_space", (4, 4, 8), 2, None),
        ("depth_to_space", (3, 5, 18), 3, 1),
        ("depth_to_space", (2, 2, 4), 2, 1),     # one channel out: runs of two
        ("space_to_depth", (4, 4, 2), 2, None),
        ("space_to_depth", (6, 9, 3), 3, 1),
    ]
]


# --- RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR --------------------------------------------------

def resized(shape, size, interpolation, batch):
    import keras

    x = keras.Input(shape, batch_size=batch)
    return keras.Model(x, keras.layers.Resizing(*size, interpolation=interpolation)(x))


def upsampled(shape, factor, batch):
    import keras

    x = keras.Input(shape, batch_size=batch)
    return keras.Model(x, keras.layers.UpSampling2D(factor, interpolation="bilinear")(x))


def resized_v1(shape, size, method, align_corners, half_pixel_centers, batch):
    """tf.compat.v1.image.resize_<method>: the corner options Keras does not offer."""
    import keras

    x = keras.Input(shape, batch_size=batch)
    return keras.Model(x, _tf_lambda(f"compat.v1.image.resize_{method}", size=size,
                                     align_corners=align_corners,
                                     half_pixel_centers=half_pixel_centers)(x))


def resize_options(align_corners, half_pixel_centers, opcode):
    def check(model):
        options = first_op(model, opcode).options
        assert options["align_corners"] == align_corners
        assert options["half_pixel_centers"] == half_pixel_centers
    return check


RESIZE_CASES = [
    _case(f"resizing_{interpolation}_{dims(shape)}_to{dims(size)}{_batch(batch)}", resized,
          dict(shape=shape, size=size, interpolation=interpolation, batch=batch),
          "RESIZE_BILINEAR" if interpolation == "bilinear" else "RESIZE_NEAREST_NEIGHBOR",
          check=resize_options(False, True, "RESIZE_BILINEAR" if interpolation == "bilinear"
                               else "RESIZE_NEAREST_NEIGHBOR"))
    for interpolation, shape, size, batch in [
        ("bilinear", (8, 10, 3), (5, 7), None),       # down, uneven factors
        ("bilinear", (4, 5, 2), (9, 13), 1),          # up, not a whole factor
        ("bilinear", (3, 3, 4), (3, 8), None),        # one axis unchanged
        ("nearest", (8, 10, 3), (5, 13), None),
        ("nearest", (4, 5, 2), (12, 10), 1),
    ]
] + [
    _case(f"upsampling_bilinear_{dims(shape)}_x{dims(factor)}{_batch(batch)}", upsampled,
          dict(shape=shape, factor=factor, batch=batch), "RESIZE_BILINEAR")
    for shape, factor, batch in [((4, 5, 3), (2, 2), None), ((3, 4, 8), (3, 2), 1)]
] + [
    _case(f"resize_{method}_{dims(shape)}_to{dims(size)}_align{int(align)}_half{int(half)}",
          resized_v1, dict(shape=shape, size=size, method=method, align_corners=align,
                           half_pixel_centers=half, batch=1),
          opcode, check=resize_options(align, half, opcode))
    for method, opcode in [("bilinear", "RESIZE_BILINEAR"),
                           ("nearest_neighbor", "RESIZE_NEAREST_NEIGHBOR")]
    for shape, size, align, half in [
        ((5, 4, 3), (9, 7), True, False),
        ((5, 4, 3), (3, 6), False, False),
        ((6, 6, 2), (4, 9), True, False),
    ]
]



def _random_resizes(count, seed):
    """Random sizes in and out (1 to 9 and 1 to 17 pixels, up and down, whole and
    uneven factors) and corner options, for both interpolations."""
    rng = np.random.default_rng(seed)
    params = []
    for i in range(count):
        shape = (int(rng.integers(1, 10)), int(rng.integers(1, 10)), int(rng.integers(1, 4)))
        size = (int(rng.integers(1, 18)), int(rng.integers(1, 18)))
        align, half = [(False, True), (True, False), (False, False)][i % 3]
        method = ["bilinear", "nearest_neighbor"][i // 3 % 2]
        params.append(dict(shape=shape, size=size, method=method, align_corners=align,
                           half_pixel_centers=half, batch=1))
    return params


RANDOM_RESIZE_CASES = [
    _case(f"resize_random{i}_{p['method']}_{dims(p['shape'])}_to{dims(p['size'])}", resized_v1,
          p, "RESIZE_BILINEAR" if p["method"] == "bilinear" else "RESIZE_NEAREST_NEIGHBOR")
    for i, p in enumerate(_random_resizes(18, seed=5))
]


def _random_permutations(count, seed):
    """Random shapes of rank 2 to 5 (with the batch) and permutations keeping the batch."""
    rng = np.random.default_rng(seed)
    params = []
    for _ in range(count):
        rank = int(rng.integers(1, 5))
        shape = tuple(int(d) for d in rng.integers(1, 6, size=rank))
        order = tuple(int(a) + 1 for a in rng.permutation(rank))
        params.append(dict(shape=shape, order=order, batch=None))
    return params


RANDOM_TRANSPOSE_CASES = [
    _case(f"transpose_random{i}_{dims(p['shape'])}_perm{dims(p['order'])}", permuted, p,
          "TRANSPOSE")
    for i, p in enumerate(_random_permutations(8, seed=17)) if p["order"] != tuple(
        range(1, len(p["shape"]) + 1))
]

# --- GATHER -------------------------------------------------------------------------------------

def taken(shape, indices, axis, batch):
    """keras.ops.take of the input with constant indices (negative ones wrap)."""
    import keras

    x = keras.Input(shape, batch_size=batch)
    return keras.Model(x, keras.ops.take(x, np.array(indices, dtype="int32"), axis=axis))


GATHER_CASES = [
    _case(f"gather_{dims(shape)}_axis{axis}_{len(indices)}indices{_batch(batch)}", taken,
          dict(shape=shape, indices=indices, axis=axis, batch=batch), "GATHER")
    for shape, indices, axis, batch in [
        ((6, 4), [3, 0, 0, 5], 1, None),              # rows, one twice
        ((5, 4, 3), [2, -1], 2, 1),                   # columns, a negative index
        ((4, 3, 8), [[7, 1], [0, 0], [6, 5]], 3, None),   # channels, 2-D indices
        ((9,), [8, 7, 6, 5, 4, 3, 2, 1, 0], 1, 1),    # reversed
    ]
]


# --- TILE (nearest UpSampling2D) --------------------------------------------------------------
# Keras 3 converts a nearest UpSampling2D to EXPAND_DIMS -> TILE -> RESHAPE per axis. TFLM
# has no TILE kernel, so TFLite's reference kernels are the oracle. On a dynamic batch the
# converter stores the last RESHAPE's output as [1, 1, W, C]; the simplifier takes the
# shape from the folded new-shape input, as TFLite does.

def upsampled_nearest(shape, factor, batch):
    import keras

    x = keras.Input(shape, batch_size=batch)
    layer = (keras.layers.UpSampling2D(factor) if len(shape) == 3
             else keras.layers.UpSampling1D(factor))
    return keras.Model(x, layer(x))


def tiled(shape, repeats, batch):
    import keras

    x = keras.Input(shape, batch_size=batch)
    return keras.Model(x, keras.ops.tile(x, repeats))


def repeated(shape, repeats, axis, batch):
    """keras.ops.repeat, or RepeatVector (axis None): EXPAND_DIMS -> TILE -> RESHAPE."""
    import keras

    x = keras.Input(shape, batch_size=batch)
    if axis is None:
        return keras.Model(x, keras.layers.RepeatVector(repeats)(x))
    return keras.Model(x, keras.ops.repeat(x, repeats, axis=axis))


def _tflite_reference(model_bytes, inputs):
    """TFLite's interpreter (ai-edge-litert) with its builtin kernels, batch first. (Its
    reference resolver has no int8 TILE; a tile only copies, so any kernel is exact.)"""
    return run_tflite_interpreter(model_bytes, inputs)


TILE_CASES = [
    _case(f"upsampling_nearest_{dims(shape)}_x"
          f"{dims(factor) if isinstance(factor, tuple) else factor}{_batch(batch)}",
          upsampled_nearest, dict(shape=shape, factor=factor, batch=batch),
          "TILE", reference=_tflite_reference)
    for shape, factor, batch in [
        ((4, 5, 3), (2, 2), None), ((4, 5, 3), (2, 2), 1), ((3, 4, 8), (3, 2), None),
        ((6, 4), 3, None),
    ]
] + [
    _case(f"tile_{dims(shape)}_by{dims(repeats)}{_batch(batch)}", tiled,
          dict(shape=shape, repeats=repeats, batch=batch), "TILE", reference=_tflite_reference)
    for shape, repeats, batch in [((3, 4), (1, 2, 3), 1), ((2, 3, 2), (1, 1, 2, 3), 1)]
] + [
    _case(f"repeat_{dims(shape)}_{repeats}x_axis{axis}{_batch(batch)}", repeated,
          dict(shape=shape, repeats=repeats, axis=axis, batch=batch), "TILE",
          reference=_tflite_reference)
    for shape, repeats, axis, batch in [((8,), 3, None, None), ((4, 6), 2, 1, None),
                                        ((4, 6), 3, 2, 1)]
]

# GATHER with indices from an int32 model input: the harness calibrates float inputs
# only, so these models are converted and fed here (indices inside the table: outside
# it TFLM reads past the params).

def _convert_int_inputs(model, samples: list[np.ndarray]) -> bytes:
    """Full-integer int8 conversion calibrated on ``samples`` (one array per model
    input, in its own dtype: int32 indices stay integers), fed by input name."""
    import tensorflow as tf

    from tinyflow.common import quiet_native_output

    names = [tensor.name.split(":")[0] for tensor in model.inputs]

    def dataset():
        for i in range(len(samples[0])):
            yield {name: array[i:i + 1] for name, array in zip(names, samples)}

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    with quiet_native_output():
        return converter.convert()


def embedding(vocabulary, length, width, batch):
    import keras

    x = keras.Input((length,), dtype="int32", batch_size=batch)
    return keras.Model(x, keras.layers.Embedding(vocabulary, width)(x))


def _embedding_model(vocabulary, length, width, batch):
    """The converted Embedding model (checked to fold to one GATHER) and a batch of
    indices in [-vocabulary, vocabulary)."""
    pytest.importorskip("tensorflow")
    import keras

    from tinyflow.codegen.ir import load_model
    from tinyflow.codegen.simplify import simplify

    keras.utils.set_random_seed(vocabulary + length)
    rng = np.random.default_rng(vocabulary)
    indices = rng.integers(0, vocabulary, size=(32, length)).astype(np.int32)
    model_bytes = _convert_int_inputs(embedding(vocabulary, length, width, batch), [indices])
    model = load_model(model_bytes)
    assert {"LESS", "ADD", "GATHER"} <= {op.opcode for op in model.operators}
    assert [op.opcode for op in simplify(model).operators] == ["GATHER"]
    shape = (BATCH_OF_INDICES, *model.input_tensors[0].shape)
    return model_bytes, [rng.integers(-vocabulary, vocabulary, size=shape).astype(np.int32)]


@pytest.mark.parametrize("vocabulary, length, width, batch", [
    (20, 5, 8, None), (20, 5, 8, 1), (300, 7, 3, None)])
def test_embedding_matches_tflite(vocabulary, length, width, batch):
    """keras.layers.Embedding: Keras 3 wraps negative indices (LESS, ADD, SELECT_V2 on
    int32) before the GATHER; TFLM cannot run that (no int32 SELECT_V2, no SELECT), so
    TFLite's reference kernels are the oracle, on indices in [-vocabulary, vocabulary).
    The simplifier folds the wrap into the GATHER."""
    from conftest import assert_bit_exact

    from .test_conv import tflite_reference_kernels

    model_bytes, inputs = _embedding_model(vocabulary, length, width, batch)
    assert_bit_exact(model_bytes, inputs=inputs, reference=tflite_reference_kernels)


@pytest.mark.slow
def test_embedding_on_cortex_m4_matches_tflite():
    """The run-time index path (wrap, clamp) as arm-none-eabi-gcc compiles it, on QEMU."""
    from tinyflow.codegen.ir import load_model
    from tinyflow.firmware.infer import run_on_board

    from .harness import require_tools
    from .test_conv import tflite_reference_kernels

    require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    model_bytes, inputs = _embedding_model(300, 7, 3, None)
    ours = run_on_board(load_model(model_bytes), inputs, "qemu-cortex-m4")
    for a, b in zip(ours, tflite_reference_kernels(model_bytes, inputs), strict=True):
        assert a.shape == b.shape and a.tobytes() == b.tobytes()

BATCH_OF_INDICES = 24


def gather_by_input(shape, length, axis):
    """tf.gather of the first input along ``axis`` at the second input's indices (no
    wrapping: a plain GATHER with run-time indices, which TFLM runs)."""
    import keras
    import tensorflow as tf

    x = keras.Input(shape, batch_size=1, name="values")
    indices = keras.Input((length,), dtype="int32", batch_size=1, name="indices")
    # The (1, length) indices put an axis of 1 in the output, in front of the picked one.
    out_shape = list(shape[:axis - 1]) + [1, length] + list(shape[axis:])
    picked = keras.layers.Lambda(lambda t: tf.gather(t[0], t[1], axis=axis),
                                 output_shape=tuple(out_shape))([x, indices])
    return keras.Model([x, indices], picked)


@pytest.mark.parametrize("shape, length, axis", [((6, 4), 5, 1), ((5, 3, 4), 3, 3)])
def test_gather_with_run_time_indices_matches_tflm(shape, length, axis):
    pytest.importorskip("tensorflow")
    import keras

    from conftest import assert_bit_exact
    from tinyflow.codegen.ir import load_model

    keras.utils.set_random_seed(len(shape) + length)
    rng = np.random.default_rng(length)
    size = shape[axis - 1]

    def samples(count):
        return [rng.uniform(-1, 1, size=(count, *shape)).astype(np.float32),
                rng.integers(0, size, size=(count, length)).astype(np.int32)]

    model_bytes = _convert_int_inputs(gather_by_input(shape, length, axis), samples(32))
    model = load_model(model_bytes)
    gather = first_op(model, "GATHER")
    assert not model.tensors[gather.inputs[1]].is_constant       # indices at run time
    x, indices = samples(BATCH_OF_INDICES)
    values = next(t for t in model.input_tensors if t.dtype == "int8")
    x = np.clip(np.round(x / values.scale) + values.zero_point, -128, 127).astype(np.int8)
    by_dtype = {"int8": x, "int32": indices}          # in the converted model's input order
    assert_bit_exact(model_bytes, inputs=[by_dtype[t.dtype] for t in model.input_tensors])

CASES = (STRIDED_SLICE_CASES + RANDOM_STRIDED_SLICE_CASES + SLICE_CASES + TRANSPOSE_CASES
         + RANDOM_TRANSPOSE_CASES + REVERSE_CASES + BROADCAST_CASES + MIRROR_PAD_CASES
         + SPLIT_CASES + UNPACK_CASES + PACK_CASES + BLOCK_CASES + RESIZE_CASES
         + RANDOM_RESIZE_CASES + GATHER_CASES + TILE_CASES)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_data_movement_matches_tflm(case):
    assert_case_matches_tflm(case)


# Cross-compiled for Cortex-M4 and run on QEMU: the loop nests as arm-none-eabi-gcc -O2
# compiles them (host GCC 12 -O2 once miscompiled a nest with a negative stride; see
# copy.c.j2), one case of each kernel variant and of each op's index arithmetic.
CORTEX_M4_CASES = [
    "strided_slice_8x6x4_::_m2:0:m2_::_1:3_dynamic", "strided_slice_5x7_::_m100:100_6:1:m2",
    "transpose_4x6x3_perm3x1x2_dynamic", "split_4x7x6_[2,5]_axis2_order0x1x2_dynamic",
    "depth_to_space_3x5x18_block3", "resizing_bilinear_4x5x2_to9x13",
    "resize_nearest_neighbor_5x4x3_to9x7_align1_half0", "gather_4x3x8_axis3_3indices_dynamic",
]


@pytest.mark.slow
@pytest.mark.parametrize("name", CORTEX_M4_CASES)
def test_data_movement_on_cortex_m4_matches_tflm(name):
    from .harness import board_and_reference_outputs, by_name

    (case,) = by_name(CASES, name)
    ours, reference = board_and_reference_outputs(case, seed=case.input_seed + 1)
    for a, b in zip(ours, reference, strict=True):
        mismatched = np.flatnonzero(a.view(np.uint8) != b.view(np.uint8))
        assert mismatched.size == 0, f"{name}: {mismatched.size} of {a.nbytes} bytes differ"


# --- what TFLM refuses or tinyflow does not generate: one clear reason each --------------------

def _int8(index, shape):
    from tinyflow.codegen.ir import Quantization, Tensor

    return Tensor(index, f"t{index}", shape, "int8", Quantization((0.5,), (0,)))


def _int32(index, values):
    from tinyflow.codegen.ir import Tensor

    data = np.array(values, dtype=np.int32)
    return Tensor(index, f"c{index}", data.shape, "int32", data=data)


def _int64_activation(index, shape):
    """int64 indices computed at run time (TFLM's GATHER takes int32 only)."""
    from tinyflow.codegen.ir import Tensor

    return Tensor(index, f"indices{index}", shape, "int64")


def _refusal(opcode, tensors, inputs, outputs, options):
    """The message prepare_layers gives for a one-op model (built as IR: the converter
    does not emit these)."""
    from tinyflow.codegen.generator import prepare_layers
    from tinyflow.codegen.ir import Model, Operator
    from tinyflow.errors import UnsupportedModelError

    op = Operator(0, opcode, inputs, outputs, options)
    model = Model("refused", tensors, [op], (inputs[0],), outputs)
    with pytest.raises(UnsupportedModelError) as error:
        prepare_layers(model)
    return str(error.value)


@pytest.mark.parametrize("opcode, tensors, inputs, options, reason", [
    ("GATHER", lambda: [_int8(0, (5, 4)), _int8(1, (1, 3, 4)), _int64_activation(2, (1, 3))],
     (0, 2), {"axis": 0}, "must be int32"),
    ("GATHER", lambda: [_int8(0, (5, 4)), _int8(1, (2, 4)), _int32(2, [1, 5])], (0, 2),
     {"axis": 0}, r"outside \[0, 5\)"),
    ("STRIDED_SLICE", lambda: [_int8(0, (1, 2, 2, 2, 2)), _int8(1, (1, 1, 2, 2, 2)),
                               _int32(2, [0] * 5), _int32(3, [1] * 5), _int32(4, [1] * 5)],
     (0, 2, 3, 4), {}, "1 to 4 axes"),
    ("STRIDED_SLICE", lambda: [_int8(0, (1, 6)), _int8(1, (1, 4)), _int32(2, [0, 0]),
                               _int32(3, [1, 6]), _int32(4, [1, 2])], (0, 2, 3, 4), {},
     r"TFLM's Prepare computes \[1, 3\]"),
    ("RESIZE_BILINEAR", lambda: [_int8(0, (1, 2, 2, 1)), _int8(1, (1, 4, 4, 1)),
                                 _int32(2, [4, 4])], (0, 2),
     {"align_corners": True, "half_pixel_centers": True}, "both set"),
    ("SLICE", lambda: [_int8(0, (1, 6)), _int8(1, (1, 4)), _int32(2, [0, 4]),
                       _int32(3, [1, 4])], (0, 2, 3), {}, r"outside the input's 6"),
    # paddings of an odd count (found by fuzzing: a ValueError from reshaping them)
    ("PAD", lambda: [_int8(0, (1, 6)), _int8(1, (1, 8)), _int32(2, [0, 0, 2])], (0, 2), {},
     r"paddings hold 3 values, not \(before, after\) pairs"),
    ("MIRROR_PAD", lambda: [_int8(0, (1, 6)), _int8(1, (1, 8)), _int32(2, [1])], (0, 2),
     {"mode": 0}, r"paddings hold 1 values"),
])
def test_refusals_name_the_reason(opcode, tensors, inputs, options, reason):
    tensors = tensors()
    message = _refusal(opcode, tensors, inputs, (1,), options)
    assert "op #0 (" + opcode + ")" in message
    assert re.search(reason, message), message


def test_index_wrap_folds_only_for_the_gathered_axis_size():
    """SELECT(LESS(i, 0), ADD(i, n), i) folds into the GATHER when n is the size of the
    gathered axis (Keras' wrap); with another n it is other arithmetic, and stays."""
    from tinyflow.codegen.ir import Model, Operator, Quantization, Tensor
    from tinyflow.codegen.simplify import simplification

    table = Tensor(6, "table", (5, 4), "int8", Quantization((0.5,), (0,)),
                   data=np.zeros((5, 4), dtype=np.int8))

    def model(n):
        tensors = [Tensor(0, "i", (1, 3), "int32"), _int32(1, 0), _int32(2, n),
                   Tensor(3, "negative", (1, 3), "bool"), Tensor(4, "shifted", (1, 3), "int32"),
                   Tensor(5, "wrapped", (1, 3), "int32"), table, _int8(7, (1, 3, 4))]
        ops = [Operator(0, "LESS", (0, 1), (3,)), Operator(1, "ADD", (2, 0), (4,)),
               Operator(2, "SELECT_V2", (3, 4, 0), (5,)),
               Operator(3, "GATHER", (6, 5), (7,), {"axis": 0, "batch_dims": 0})]
        return Model("wrap", tensors, ops, (0,), (7,))

    folded = simplification(model(5))
    assert [op.opcode for op in folded.model.operators] == ["GATHER"]
    gather = folded.model.operators[0]
    assert gather.inputs == (6, 0) and gather.options["wrap_negative_indices"]
    assert "1 negative-index wrap folded into GATHER" in str(folded)
    kept = simplification(model(4)).model
    assert [op.opcode for op in kept.operators] == ["LESS", "ADD", "SELECT_V2", "GATHER"]
