"""The profiler: per-layer cost of a model on a board, budgets, and reports.

    >>> from tinyflow.profiler import profile
    >>> p = profile("kws_ref_model.tflite", board="qemu-cortex-m4",
    ...             budget="latency=50ms,ram=64KiB,flash=256KiB")
    >>> print(p)            # terminal table; in a notebook it renders as HTML
    >>> p.passed, p.to_json(), p.save_html("kws.html")

Modules: ``layers`` (static facts per layer), ``costs`` (the cost model and its
fitting), ``budget`` (parsing budgets), ``checks`` (checking them),
``render``/``plots`` (text, JSON, HTML), ``calibrate`` (fitting on a device),
``commands`` (the CLI).
"""

from tinyflow.profiler.budget import Budget, parse_budget
from tinyflow.profiler.profile import Measurement, Profile, profile

__all__ = ["Budget", "Measurement", "Profile", "parse_budget", "profile"]
