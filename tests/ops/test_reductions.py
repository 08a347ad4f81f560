"""SUM (keras.ops.sum) and REDUCE_MAX (keras.ops.max, GlobalMaxPooling2D/1D) on int8,
over one axis, several, all of them, with and without keep_dims. They share MEAN's
axis handling (codegen/ops/mean.py), so these cases check what is their own: SUM's
rescaling without the 1/count, and REDUCE_MAX's raw maximum."""

from __future__ import annotations

import re

import numpy as np
import pytest

from .harness import Case, assert_case_matches_tflm, dims, first_op, seeds_from_name, span


def reduce_over(shape, reduction, axis, keepdims, batch_size=1):
    """keras.ops.sum or keras.ops.max (``reduction``) over ``axis``."""
    import keras

    x = keras.Input(shape, batch_size=batch_size)
    return keras.Model(x, getattr(keras.ops, reduction)(x, axis=axis, keepdims=keepdims))


def global_max_pooling(shape, keepdims, batch_size=1):
    """GlobalMaxPooling1D/2D by the input's rank; Keras 3 converts both to REDUCE_MAX."""
    import keras

    x = keras.Input(shape, batch_size=batch_size)
    layer = keras.layers.GlobalMaxPooling2D if len(shape) == 3 else keras.layers.GlobalMaxPooling1D
    return keras.Model(x, layer(keepdims=keepdims)(x))


def keeps_dims(opcode, keepdims):
    def check(model):
        assert first_op(model, opcode).options.get("keep_dims", False) == keepdims
    return check


def _axes(axis) -> str:
    return "_".join(str(a) for a in axis) if isinstance(axis, tuple) else str(axis)


def _reduce_case(opcode, shape, axis, keepdims, calibration=(-1.0, 1.0), batch_size=1):
    reduction = {"SUM": "sum", "REDUCE_MAX": "max"}[opcode]
    name = (f"{reduction}_{dims(shape)}_axes{_axes(axis)}{'_keepdims' if keepdims else ''}"
            f"_range{span(calibration)}{'_dynamic_batch' if batch_size is None else ''}")
    return Case(name, reduce_over, dict(shape=shape, reduction=reduction, axis=axis,
                                        keepdims=keepdims, batch_size=batch_size),
                opcode, check=keeps_dims(opcode, keepdims), calibration=calibration,
                **seeds_from_name(name))


def _global_max_case(shape, keepdims, batch_size=1):
    name = (f"global_max_pool_{dims(shape)}{'_keepdims' if keepdims else ''}"
            f"{'_dynamic_batch' if batch_size is None else ''}")
    return Case(name, global_max_pooling, dict(shape=shape, keepdims=keepdims,
                                               batch_size=batch_size),
                "REDUCE_MAX", check=keeps_dims("REDUCE_MAX", keepdims), **seeds_from_name(name))


SUM_CASES = [
    _reduce_case("SUM", (6, 5, 3), -1, True),
    _reduce_case("SUM", (6, 5, 3), (1, 2), False, calibration=(-0.5, 2.0)),
    _reduce_case("SUM", (6, 5, 3), (1, 3), True),          # not neighbouring: two inner loops
    _reduce_case("SUM", (4, 9), 1, False, calibration=(0.0, 1.0)),
    _reduce_case("SUM", (2, 3, 4, 5), (1, 2, 3, 4), False),
    _reduce_case("SUM", (16, 16, 4), (1, 2), False),         # 256 values per sum
    _reduce_case("SUM", (5, 7, 3), -2, False, batch_size=None),
]

REDUCE_MAX_CASES = [
    _reduce_case("REDUCE_MAX", (6, 5, 3), -1, False),
    _reduce_case("REDUCE_MAX", (6, 5, 3), (1, 2), True, calibration=(-2.0, 0.5)),
    _reduce_case("REDUCE_MAX", (6, 5, 3), (1, 3), False),
    _reduce_case("REDUCE_MAX", (2, 3, 4, 5), (-1, 1), True),
    _reduce_case("REDUCE_MAX", (10,), -1, False),
    _reduce_case("REDUCE_MAX", (4, 9, 2), 1, False, batch_size=None),
    _global_max_case((6, 5, 3), False),
    _global_max_case((7, 4, 8), True),
    _global_max_case((12, 6), False, batch_size=None),
]

CASES = SUM_CASES + REDUCE_MAX_CASES


@pytest.mark.parametrize("case", CASES, ids=str)
def test_reduction_matches_tflm(case):
    assert_case_matches_tflm(case)


# --- what TFLM refuses: one clear reason each (one-op models built as IR) ----------------------

def _tensor(index, shape, dtype="int8", scale=0.5, zero_point=0):
    from tinyflow.codegen.ir import Quantization, Tensor

    return Tensor(index, f"t{index}", shape, dtype, Quantization((scale,), (zero_point,)))


def _axis_tensor(index, values):
    from tinyflow.codegen.ir import Tensor

    data = np.array(values, dtype=np.int32)
    return Tensor(index, f"axes{index}", data.shape, "int32", data=data)


@pytest.mark.parametrize("opcode, tensors, reason", [
    ("REDUCE_MAX", lambda: [_tensor(0, (1, 4, 3)), _tensor(1, (1, 3), scale=0.25),
                            _axis_tensor(2, [1])], "differs from the output's"),
    ("SUM", lambda: [_tensor(0, (1, 4, 3), "int16"), _tensor(1, (1, 3), "int16"),
                     _axis_tensor(2, [1])], "is int16; supported: int8"),
    ("SUM", lambda: [_tensor(0, (1, 4, 3)), _tensor(1, (1, 3)), _axis_tensor(2, [3])],
     "axis 3 is out of range for rank 3"),
    ("REDUCE_MAX", lambda: [_tensor(0, (1, 4, 3)), _tensor(1, (1, 4)), _axis_tensor(2, [1])],
     r"output shape \[1, 4\] does not match the reduction of \[1, 4, 3\]"),
])
def test_reduction_refusals_name_the_reason(opcode, tensors, reason):
    from .test_data_movement import _refusal

    message = _refusal(opcode, tensors(), (0, 2), (1,), {"keep_dims": False})
    assert f"op #0 ({opcode})" in message
    assert re.search(reason, message), message
