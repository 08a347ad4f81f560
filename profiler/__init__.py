"""The profiler: per-layer cost of a model on a board, budgets, and reports.

    >>> from tinyflow.profiler import profile, measure_model     # doctest: +SKIP
    >>> p = profile("kws_ref_model.tflite", board="qemu-cortex-m4",
    ...             budget="latency=50ms,ram=64KiB,flash=256KiB")
    >>> print(p)            # terminal table; in a notebook it renders as HTML
    >>> p.passed, p.to_json(), p.save_html("kws.html")
    >>> m = measure_model("kws_ref_model.tflite", "qemu-cortex-m4")   # on the device
    >>> profile("kws_ref_model.tflite", measurement=m)   # estimate and measurement per layer

Modules: ``layers`` (static facts per layer), ``costs`` (the cost model and its
fitting), ``budget`` (parsing budgets), ``checks`` (checking them),
``render``/``plots`` (text, JSON, HTML), ``device`` (measuring on a board),
``calibrate`` and ``calibration_models`` (fitting on a device), ``commands`` (CLI).
"""

from tinyflow.profiler.budget import Budget, parse_budget
from tinyflow.profiler.calibrate import calibrate
from tinyflow.profiler.device import measure_model, stored_measurement
from tinyflow.firmware.measurement import Measurement
from tinyflow.profiler.profile import Profile, profile

__all__ = ["Budget", "Measurement", "Profile", "calibrate", "measure_model", "parse_budget",
           "profile", "stored_measurement"]
