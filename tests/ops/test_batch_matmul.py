"""BATCH_MATMUL (keras.ops.matmul of two activations) on int8: attention scores
q @ k^T (adj_y), scores @ v, a transposed left operand (adj_x), several heads (batch
dimensions), a key or a query broadcast over the heads, a matrix times its own
transpose, a constant rhs of lower rank, and the default dynamic batch."""

from __future__ import annotations

import pytest

from .harness import Case, assert_case_matches_tflm, dims, first_op, initializers, seeds_from_name


def _dense(units, seed):
    import keras

    return keras.layers.Dense(units, **initializers(seed))


def _heads(t, heads):
    """(batch, seq, heads * d) -> (batch, heads, seq, d)."""
    import keras

    seq, width = t.shape[1], t.shape[2]
    t = keras.layers.Reshape((seq, heads, width // heads))(t)
    return keras.ops.transpose(t, (0, 2, 1, 3))


def attention(shape, width, form, heads=1, batch_size=1, seed=0):
    """Products of projections of one (seq, features) input, by ``form``:
    "scores" q @ k^T, "values" (q @ k^T) @ v, "gram" k^T @ q (a transposed left
    operand), "self" x @ x^T, "shared_key" one key broadcast over the heads' queries,
    "shared_query" one query broadcast over the heads' keys."""
    import keras

    x = keras.Input(shape, batch_size=batch_size)
    q, k, v = (_dense(width, seed + i)(x) for i in range(3))
    if heads > 1 and form not in ("shared_key", "shared_query"):
        q, k, v = (_heads(t, heads) for t in (q, k, v))
    swap = (0, 1, 3, 2) if len(q.shape) == 4 else (0, 2, 1)
    if form == "scores":
        y = keras.ops.matmul(q, keras.ops.transpose(k, swap))
    elif form == "values":
        y = keras.ops.matmul(keras.ops.matmul(q, keras.ops.transpose(k, swap)) * 0.25, v)
    elif form == "gram":
        y = keras.ops.matmul(keras.ops.transpose(k, swap), q)
    elif form == "self":
        y = keras.ops.matmul(x, keras.ops.transpose(x, (0, 2, 1)))
    elif form == "shared_key":
        key = keras.ops.expand_dims(keras.ops.transpose(k, (0, 2, 1)), 1)   # (b, 1, w, seq)
        y = keras.ops.matmul(_heads(q, heads), key[:, :, : width // heads, :])
    elif form == "shared_query":
        query = keras.ops.expand_dims(q[:, :, : width // heads], 1)         # (b, 1, seq, w)
        y = keras.ops.matmul(query, keras.ops.transpose(_heads(k, heads), (0, 1, 3, 2)))
    else:
        raise ValueError(form)
    return keras.Model(x, y)


def matmul_constant(shape, rhs_shape, seed=0):
    """An activation times a constant of lower rank (its batch dimensions broadcast):
    the converter keeps this a BATCH_MATMUL with a constant rhs."""
    import keras
    import numpy as np

    x = keras.Input(shape, batch_size=1)
    w = np.random.default_rng(seed).uniform(-1, 1, rhs_shape).astype(np.float32)
    return keras.Model(x, keras.ops.matmul(x, w))


def adjoints(adj_x, adj_y):
    """The converted BATCH_MATMUL reads its operands transposed as the case expects."""
    def check(model):
        options = first_op(model, "BATCH_MATMUL").options
        assert (bool(options.get("adj_x")), bool(options.get("adj_y"))) == (adj_x, adj_y), options
    return check


def _case(shape, width, form, adj=(False, True), heads=1, batch_size=1):
    name = (f"batch_matmul_{form}_{dims(shape)}_w{width}{f'_heads{heads}' if heads > 1 else ''}"
            f"{'_dynamic_batch' if batch_size is None else ''}")
    seeds = seeds_from_name(name)
    return Case(name, attention, dict(shape=shape, width=width, form=form, heads=heads,
                                      batch_size=batch_size, seed=seeds["keras_seed"]),
                "BATCH_MATMUL", check=adjoints(*adj), **seeds)


def _constant_case(shape, rhs_shape):
    name = f"batch_matmul_constant_{dims(shape)}_by_{dims(rhs_shape)}"
    seeds = seeds_from_name(name)
    return Case(name, matmul_constant, dict(shape=shape, rhs_shape=rhs_shape,
                                            seed=seeds["keras_seed"]),
                "BATCH_MATMUL", check=adjoints(False, False), **seeds)


CASES = [
    _case((6, 8), 8, "scores"),
    _case((5, 12), 16, "values"),
    _case((7, 6), 5, "gram", adj=(True, False)),
    _case((6, 10), 10, "self"),
    _case((8, 8), 16, "scores", adj=(False, False), heads=2),   # one TRANSPOSE for k
    _case((6, 8), 12, "values", adj=(False, False), heads=3),
    _case((5, 8), 8, "shared_key", adj=(False, False), heads=2),
    _case((6, 8), 8, "shared_query", adj=(False, False), heads=2),
    _constant_case((2, 4, 6), (2, 6, 3)),
    _case((4, 6), 8, "scores", batch_size=None),
    _case((6, 4), 8, "values", adj=(False, False), heads=2, batch_size=None),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_batch_matmul_matches_tflm(case):
    assert_case_matches_tflm(case)


# --- what TFLM refuses: one clear reason each (one-op models built as IR) ----------------------

def _activation(index, shape, dtype="int8"):
    from tinyflow.codegen.ir import Quantization, Tensor

    return Tensor(index, f"t{index}", shape, dtype, Quantization((0.5,), (0,)))


# shapes: lhs, rhs, output
@pytest.mark.parametrize("shapes, options, reason", [
    (((1, 2, 3, 4), (1, 3, 4, 5), (1, 3, 3, 5)), {}, "batch dimension 1: 2 and 3 do not broadcast"),
    (((1, 3, 4), (1, 5, 6), (1, 3, 6)), {}, "lhs rows have 4 values, rhs columns 5"),
    (((1, 3, 4), (1, 6, 4), (1, 3, 4)), {"adj_x": True, "adj_y": True},
     "lhs rows have 3 values, rhs columns 4"),
    (((1, 3, 4), (1, 4, 6), (1, 4, 6)), {}, r"output shape \[1, 4, 6\] is not 3x6 matrices"),
    (((4,), (4, 2), (2,)), {}, "lhs has rank 1; TFLM supports 2 to 5"),
])
def test_batch_matmul_refusals_name_the_reason(shapes, options, reason):
    import re

    from .test_data_movement import _refusal

    lhs, rhs, output = shapes
    tensors = [_activation(0, lhs), _activation(1, output), _activation(2, rhs)]
    message = _refusal("BATCH_MATMUL", tensors, (0, 2), (1,),
                       {"adj_x": False, "adj_y": False, **options})
    assert "op #0 (BATCH_MATMUL)" in message
    assert re.search(reason, message), message
