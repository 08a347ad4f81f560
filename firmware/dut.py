"""What the protocol firmware says and expects as an EEMBC / MLPerf Tiny device under
test (DUT): the model id ``profile`` answers, how the bytes of ``db`` become the
model's input, what ``results`` prints, and the serial baud rate.

MLPerf Tiny's host runner looks its test up by the model id (``kws01``, ``vww01``,
``ic01``, ``ad01``) and sends the dataset files' bytes as they are; the reference
submissions turn them into the model's input on the device. tinyflow does the same
when the build says so; its own host code (``tf-load``, ``tf-results``) always moves the
model's raw input and output bytes, whatever these settings.

>>> from tinyflow.codegen.ir import load_model                       # doctest: +SKIP
>>> settings = dut_settings(load_model("ad01_int8.tflite"))            # doctest: +SKIP
>>> settings.model_id, settings.input_transform, settings.result         # doctest: +SKIP
('ad01', 'float32-quantize', 'mse')
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace

from tinyflow.boards import Board
from tinyflow.codegen.ir import Model
from tinyflow.errors import UsageError

# How the bytes of `db` become the model's input:
#   none              copied as they are (the model's own input bytes)
#   uint8-minus-128   uint8 pixels, minus 128, as int8 (MLPerf's IC and VWW files)
#   float32-quantize  little-endian float32 values, quantized with the input tensor's
#                     scale and zero point (MLPerf's AD windows)
INPUT_TRANSFORMS = ("none", "uint8-minus-128", "float32-quantize")
# What `results` (and the end of `infer`) prints:
#   scores  every output value, dequantized
#   mse     one number: the mean squared error between the dequantized output and the
#           float input (MLPerf's anomaly detection: the reconstruction error)
RESULTS = ("scores", "mse")

# The four MLPerf Tiny reference models (v1.x, mlcommons/tiny trained_models/), by the
# sha256 of their .tflite file: the settings of their reference submissions.
MLPERF_REFERENCE_MODELS = {
    "aeea436800704fce17b17292e4412630ad856e9d777c044c64ef748a880bd0ae":
        ("kws01", "none", "scores"),
    "597a384c8c2c8a1276f04702f25013b7838f2f814f1ca7c174d295b73e3d6b7b":
        ("vww01", "uint8-minus-128", "scores"),
    "3c002613d1b2475eb51dd78dfb85a546c8ae658dee71cf6ade43b022fe205415":
        ("ic01", "uint8-minus-128", "scores"),
    "87cf24194ef93d1d9b11a591d805526b98008e351655d29883c825c9c106ba24":
        ("ad01", "float32-quantize", "mse"),
}

# A model id goes into the firmware as a C string and comes back in `m-model-[...]`:
# plain characters only, no ']' to end the reply early.
_MODEL_ID = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")

# Baud rates each UART kind can be set to, from its clock (None: any).
_BAUD_RANGE = {
    # CMSDK: BAUDDIV = clock / baud must be at least 16.
    "cmsdk": lambda board: (1, board.clock_hz // 16),
    # nRF UART: the BAUDRATE register spans 1200 baud to 1 Mbaud.
    "nrf-uart": lambda board: (1200, 1_000_000),
    # STM32 LPUART: BRR = 256 * clock / baud must lie in [0x300, 0xFFFFF].
    "stm32-lpuart": lambda board: (-(-256 * board.clock_hz // 0xFFFFF),
                                   256 * board.clock_hz // 0x300),
    "pty": lambda board: (1, 10**9),
    "stdio": lambda board: (1, 10**9),
}


@dataclass(frozen=True)
class DutSettings:
    """The DUT side of one build. ``model_id`` None: the model's name."""

    model_id: str | None = None
    input_transform: str = "none"
    result: str = "scores"
    baud: int | None = None           # None: the board's (its file's uart.baud)

    def baud_for(self, board: Board) -> int:
        return self.baud if self.baud is not None else int(board.uart["baud"])

    def to_dict(self) -> dict:
        return asdict(self)

    def received_input_bytes(self, model: Model) -> int:
        """The bytes `db` brings and the firmware buffers for one input of ``model``
        (one float32 per element with float32-quantize; TF_DB_BYTES)."""
        total = sum(t.nbytes for t in model.input_tensors)
        return 4 * total if self.input_transform == "float32-quantize" else total


def reference_settings(model: Model) -> DutSettings | None:
    """The settings of an MLPerf Tiny reference model (recognised by its sha256), else
    None."""
    known = MLPERF_REFERENCE_MODELS.get(model.sha256)
    if known is None:
        return None
    model_id, transform, result = known
    return DutSettings(model_id=model_id, input_transform=transform, result=result)


def dut_settings(model: Model, *, model_id: str | None = None,
                 input_transform: str | None = None, result: str | None = None,
                 baud: int | None = None) -> DutSettings:
    """The settings for ``model``: its reference submission's when it is one of the four
    MLPerf Tiny models, tinyflow's plain ones otherwise, each overridden by the
    arguments that are not None. Checked against the model (UsageError)."""
    settings = reference_settings(model) or DutSettings()
    overrides = dict(model_id=model_id, input_transform=input_transform, result=result,
                     baud=baud)
    settings = replace(settings, **{k: v for k, v in overrides.items() if v is not None})
    check_settings(settings, model)
    return settings


def check_settings(settings: DutSettings, model: Model) -> None:
    """Every way ``settings`` cannot work for ``model``, in one UsageError."""
    problems = []
    if settings.model_id is not None and not _MODEL_ID.match(settings.model_id):
        problems.append(f"model id {settings.model_id!r}: 1 to 40 letters, digits, '_', "
                        "'.' or '-'")
    if settings.input_transform not in INPUT_TRANSFORMS:
        problems.append(f"input transform {settings.input_transform!r}: use one of "
                        f"{', '.join(INPUT_TRANSFORMS)}")
    if settings.result not in RESULTS:
        problems.append(f"result {settings.result!r}: use one of {', '.join(RESULTS)}")
    inputs, outputs = model.input_tensors, model.output_tensors
    if settings.input_transform != "none":
        if len(inputs) != 1 or inputs[0].dtype != "int8":
            problems.append(f"input transform {settings.input_transform} needs one int8 "
                            f"input; the model has {_describe(inputs)}")
        elif (settings.input_transform == "float32-quantize"
              and inputs[0].quantization is None):
            problems.append("input transform float32-quantize needs the input's scale "
                            "and zero point; the model's input has none")
    if settings.result == "mse":
        if settings.input_transform != "float32-quantize":
            problems.append("result mse compares the output with the float input: it "
                            "needs input transform float32-quantize")
        if len(outputs) != 1 or outputs[0].dtype != "int8" or (
                inputs and outputs[0].num_elements != inputs[0].num_elements):
            problems.append(f"result mse needs one int8 output the size of the input; "
                            f"the model has {_describe(outputs)}")
    if settings.baud is not None and (not isinstance(settings.baud, int)
                                      or settings.baud < 1):
        problems.append(f"baud {settings.baud!r}: a whole number >= 1")
    if problems:
        raise UsageError(f"{model.name}: DUT settings: " + "; ".join(problems))


def check_baud(settings: DutSettings, board: Board) -> None:
    """The baud rate must be one the board's UART can be set to (UsageError)."""
    low, high = _BAUD_RANGE[board.uart["kind"]](board)
    baud = settings.baud_for(board)
    if not low <= baud <= high:
        raise UsageError(f"baud {baud:,} is out of range for {board.name} "
                         f"({board.uart['kind']} UART at {board.clock_hz / 1e6:g} MHz: "
                         f"{low:,} to {high:,})")


def _describe(tensors) -> str:
    return ", ".join(f"{t.dtype} {list(t.shape)}" for t in tensors) or "none"
