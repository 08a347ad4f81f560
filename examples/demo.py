"""The main job: the MLPerf Tiny keyword-spotting model as generated C, checked
byte for byte against TFLM on random inputs."""

import sys
from pathlib import Path

import numpy as np

from tinyflow.codegen import generate
from tinyflow.codegen.host import compile_host
from tinyflow.reference import ReferenceInterpreter

MODEL = Path(__file__).resolve().parents[2] / "shared/models/mlperf-tiny/kws_ref_model.tflite"


def main(model_path=MODEL, samples: int = 20) -> int:
    generated = generate(model_path)
    print(generated.plan)
    host = compile_host(generated)
    inputs = np.random.default_rng(0).integers(-128, 128, size=(samples, 1, 49, 10, 1),
                                               dtype=np.int8)
    ours = host.run([inputs])[0]
    reference = ReferenceInterpreter(model_path).run([inputs])[0]
    same = int((ours == reference).sum())
    print(f"{samples} inputs: {same} of {ours.size} output bytes identical to TFLM")
    return 0 if same == ours.size else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
