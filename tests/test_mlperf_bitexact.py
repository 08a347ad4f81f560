"""The four MLPerf Tiny int8 models: every output byte equals TFLM's."""

import pytest

from conftest import MLPERF_MODELS, assert_bit_exact, mlperf_model


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_mlperf_model_matches_tflm(name):
    assert_bit_exact(mlperf_model(name), batch=24, seed=1234)
