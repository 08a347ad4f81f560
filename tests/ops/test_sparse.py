"""2:4 structured sparsity: Dense layers whose kernels keep at most two non-zeros in every
aligned group of four inputs (1:4 too) take the sparse layout (codegen/ops/sparse.py) and
stay bit-exact with TFLM running the same zero-filled model."""

from __future__ import annotations

import pytest

from tinyflow.codegen.ops.sparse import SPARSE_2_4, prune_by_magnitude

from .harness import Case, assert_case_matches_tflm, initializers, seeds_from_name


def sparse_dense(depth, units, keep=2, activation=None, seed=1):
    """One Dense layer with seeded weights pruned to ``keep`` of every four inputs."""
    import keras

    x = keras.Input((depth,), batch_size=1)
    layer = keras.layers.Dense(units, activation=activation, **initializers(seed))
    model = keras.Model(x, layer(x))
    kernel, bias = layer.get_weights()      # kernel [depth, units]: groups along the depth
    layer.set_weights([prune_by_magnitude(kernel.T, keep).T, bias])
    return model


def sparse_dense_rows(shape, units, keep=2, seed=1):
    """A Dense layer on several input rows (batch dimensions): the column kernel."""
    import keras

    x = keras.Input(shape, batch_size=1)
    layer = keras.layers.Dense(units, **initializers(seed))
    model = keras.Model(x, layer(x))
    kernel, bias = layer.get_weights()
    layer.set_weights([prune_by_magnitude(kernel.T, keep).T, bias])
    return model


def sparse_conv(shape, filters, kernel, keep=2, padding="valid", activation=None, seed=1):
    """One Conv2D whose filters keep ``keep`` of every four values of their flattened
    (height, width, channel) patch: TFLite's filter layout, flattened per filter."""
    import keras

    x = keras.Input(shape, batch_size=1)
    layer = keras.layers.Conv2D(filters, kernel, padding=padding, activation=activation,
                                **initializers(seed))
    model = keras.Model(x, layer(x))
    weights, bias = layer.get_weights()     # [h, w, channels, filters]
    rows = weights.reshape(-1, filters).T
    layer.set_weights([prune_by_magnitude(rows, keep).T.reshape(weights.shape), bias])
    return model


def _weights_layout(layout):
    """A check that the generated code stores the Dense weights in ``layout``."""
    def check(model) -> None:
        from tinyflow.codegen.generator import generate

        layouts = [w["layout"] for w in generate(model).manifest["weights"]]
        assert layout in layouts, f"no {layout} weights: {layouts}"
    return check


def _sparse(name, depth, units, fused=None, layout=SPARSE_2_4, **options):
    name = f"sparse_dense_{name}"
    return Case(name, sparse_dense, dict(depth=depth, units=units, **options), "FULLY_CONNECTED",
                activation=fused, check=_weights_layout(layout), **seeds_from_name(name))


CASES = [
    _sparse("96_to_48_relu", 96, 48, activation="relu", fused="RELU", seed=51),
    _sparse("120_to_17", 120, 17, seed=52),             # the last step half padding
    _sparse("126_to_40_1of4", 126, 40, keep=1, seed=53),  # 1:4, a last group of two values
    _sparse("256_to_64", 256, 64, seed=54),
    _sparse("600_to_20", 600, 20, seed=56),     # the table in windows of 8, 8 and 3 steps
    # 2:4 but 8 deep: a step of 32 values would be mostly padding, the quads stay
    _sparse("8_to_32_stays_dense", 8, 32, layout="quads", seed=55),
]


def _conv(name, shape, filters, kernel, fused=None, **options):
    name = f"sparse_conv_{name}"
    return Case(name, sparse_conv, dict(shape=shape, filters=filters, kernel=kernel, **options),
                "CONV_2D", activation=fused, check=_weights_layout(SPARSE_2_4),
                **seeds_from_name(name))


CASES += [
    Case("sparse_dense_rows_5x128_to_48", sparse_dense_rows, dict(shape=(5, 128), units=48),
         "FULLY_CONNECTED", check=_weights_layout(SPARSE_2_4),
         **seeds_from_name("sparse_dense_rows_5x128_to_48")),      # two pairs, one single

    _conv("1x1_c64_f32", (6, 6, 64), 32, 1, seed=61),                  # direct columns
    _conv("3x3_c32_f32_same_7x7", (7, 7, 32), 32, 3, padding="same", seed=62),  # rows held
    _conv("2x2_c32_f24_relu", (6, 5, 32), 24, 2, activation="relu", fused="RELU", seed=63),
    _conv("3x3_c6_f48_same_patch", (7, 6, 6), 48, 3, padding="same", seed=64),  # int8 patch
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_sparse_dense_matches_tflm(case):
    assert_case_matches_tflm(case)


def test_sparse_layer_offers_every_kernel_and_each_is_bit_exact():
    """The sparse layout is the 'kernel' knob's default option for a qualifying layer;
    the tuning record can still pick the row quads or the column kernel, all exact."""
    import numpy as np

    from conftest import random_inputs
    from tinyflow.codegen.generator import generate
    from tinyflow.codegen.ir import load_model
    from tinyflow.codegen.ops.base import Layer
    from tinyflow.codegen.tuning import layer_key
    from tinyflow.firmware.host import compile_host
    from tinyflow.reference import ReferenceInterpreter

    from .harness import by_name, converted

    model_bytes = converted(by_name(CASES, "sparse_dense_256_to_64")[0])
    model = load_model(model_bytes)
    (entry,) = generate(model, tuning={}).manifest["layers"]
    assert entry["choices"]["kernel"] == {"choice": "sparse",
                                          "options": ["row", "matrix", "sparse"]}
    key = layer_key(Layer(model.operators[0], model), "kernel")
    inputs = random_inputs(model, 4, seed=3)
    reference = ReferenceInterpreter(model_bytes).run(inputs)
    for kernel, layout in (("sparse", SPARSE_2_4), ("row", "quads"), ("matrix", "pairs")):
        generated = generate(model, tuning={key: kernel})
        layouts = [w["layout"] for w in generated.manifest["weights"]]
        assert layout in layouts and len(set(layouts) & {SPARSE_2_4, "quads", "pairs"}) == 1
        (ours,) = compile_host(generated).run(inputs)
        assert np.array_equal(ours.view(np.uint8), reference[0].view(np.uint8)), kernel
