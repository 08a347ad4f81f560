"""Errors a user can act on. Each says what went wrong and where.

The CLI prints ``str(error)`` and exits non-zero for every TinyflowError; anything
else escaping is a bug in tinyflow.
"""


class TinyflowError(Exception):
    """Base class of every error tinyflow reports to its user."""

    exit_code = 1


class ModelFormatError(TinyflowError):
    """The file is not a readable TFLite flatbuffer (truncated, corrupt, wrong format)."""


class UnsupportedModelError(TinyflowError):
    """The model uses ops, dtypes or options tinyflow cannot generate code for.

    ``problems`` lists every one of them, each with its location, so a user sees
    the whole list at once instead of fixing one op per run.
    """

    def __init__(self, model_name, problems):
        self.problems = list(problems)
        lines = [f"{model_name}: {len(self.problems)} unsupported feature(s):"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class InvalidModelError(TinyflowError):
    """The model file breaks the rules of a TFLite graph (codegen/validate.py): its
    structure, shapes, quantization or options are inconsistent.

    ``problems`` lists every problem found, each with its location, together with the
    unsupported ops of the parts that could still be checked.
    """

    def __init__(self, model_name, problems):
        self.problems = list(problems)
        lines = [f"{model_name}: {len(self.problems)} problem(s) in the model:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class InputError(TinyflowError):
    """Inputs given to a model do not match its input tensors (shape, dtype, count)."""


class UsageError(TinyflowError):
    """An argument is malformed (a --prefix that is not a C identifier).

    Exit code 2, like the command line's other usage errors.
    """

    exit_code = 2


class OutputError(TinyflowError):
    """An output path cannot be written safely: a file where a folder goes, a folder
    tinyflow did not make (without --force), a parent folder that does not exist."""


class BuildError(TinyflowError):
    """Compiling or linking generated code or firmware failed."""


class ToolNotFoundError(TinyflowError):
    """An external program (compiler, emulator, flash tool) is not installed."""


class BudgetError(TinyflowError):
    """A budget is malformed (unknown constraint, bad unit, unreadable project file).

    Exit code 2, like a usage error, so CI can tell a typo from a model over budget
    (which `tinyflow profile` reports with exit code 1).
    """

    exit_code = 2


class CalibrationError(TinyflowError):
    """Calibrating a cost model failed (too few measurements, a device run failed)."""


class BoardError(TinyflowError):
    """A board name or board file is wrong (unknown board, schema violation, bad option)."""


class FirmwareSizeError(BuildError):
    """The firmware does not fit the board: names the region, the overflow and what fills it."""


class FlashError(TinyflowError):
    """Flashing a board failed, or no probe / several probes were found."""


class DeviceError(TinyflowError):
    """The device on the serial line did not answer as the protocol says (timeout,
    port gone, error reply)."""


class MismatchError(TinyflowError):
    """The device's outputs differ from the reference interpreter's."""
