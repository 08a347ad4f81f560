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
    # 2:4 but 8 deep: a step of 32 values would be mostly padding, the quads stay
    _sparse("8_to_32_stays_dense", 8, 32, layout="quads", seed=55),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_sparse_dense_matches_tflm(case):
    assert_case_matches_tflm(case)
