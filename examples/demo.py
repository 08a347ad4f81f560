"""The main job: the MLPerf Tiny keyword-spotting model as generated C, cross-compiled
for the default emulated board (qemu-cortex-m4: a Cortex-M4F on QEMU's mps2-an386),
run in QEMU over its serial port, every output byte checked against TFLM, and
measured on the device: latency, per-layer times, stack, arena, flash and RAM."""

import sys
from pathlib import Path

from tinyflow.boards import DEFAULT_BOARD
from tinyflow.firmware.measure import measure

MODEL = Path(__file__).resolve().parents[2] / "shared/models/mlperf-tiny/kws_ref_model.tflite"


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(model_path=MODEL, samples: int = 12) -> int:
    result = measure(model_path, DEFAULT_BOARD, count=int(samples), seed=0, progress=progress)
    print(result)
    if not result.bit_exact:
        print(f"FAIL: outputs differ from TFLM on samples {result.mismatched_samples}")
        return 1
    print(f"\n{result.inferences} inputs on {result.board}: every output byte identical to TFLM")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
