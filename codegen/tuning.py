"""Kernel choices by measurement: the tuning record codegen follows.

Some layers can run more than one kernel path (an op's prepare step offers them with
``Layer.choose``: a single-row fully connected layer on packed row quads or on an int16
column; a convolution gathering its columns tap by tap or through an int8 patch; a
depthwise convolution with its taps written out or looped). ``tinyflow tune`` measures
every path of every such layer on the device (firmware/tune.py) and records the
fastest per layer *shape* for the board: a record applies to any model with a layer of
that shape. Codegen takes the record's choice where it has one, else the op's default.

A record is JSON: {"board": ..., "choices": {key: {"choice": ..., "measured": {...}}}},
the key naming the op, its tensors' shapes and dtypes, its options and the knob.
Records live in the cache (``tuning/<board>.json``), where builds for that board find
them, or wherever ``--tuning FILE`` says.
"""

from __future__ import annotations

import json
from pathlib import Path

from tinyflow.common import cache_dir, publish_file
from tinyflow.errors import TinyflowError


def layer_key(layer, knob: str) -> str:
    """What makes two layers the same for a kernel choice: op, tensor shapes and
    dtypes (weights included), options, and the knob."""
    op = layer.op
    tensors = [layer.model.tensors[t] for t in op.inputs + op.outputs if t >= 0]
    shapes = ";".join(f"{t.dtype}{list(t.shape)}" for t in tensors)
    options = ",".join(f"{k}={v}" for k, v in sorted(op.options.items()))
    return f"{op.opcode}|{shapes}|{options}|{knob}"


def record_path(board_name: str) -> Path:
    return cache_dir("tuning", f"{board_name}.json")


def load_choices(source: str | Path | None) -> dict[str, str]:
    """key -> choice from a record file (an absent file: no choices)."""
    if source is None:
        return {}
    path = Path(source)
    if not path.exists():
        return {}
    try:
        record = json.loads(path.read_text())
        return {key: entry["choice"] for key, entry in record["choices"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TinyflowError(f"{path}: not a tinyflow tuning record ({exc})") from exc


def choices_for(board_name: str) -> dict[str, str]:
    """The saved record of ``board_name`` (``tinyflow tune`` writes it), or none."""
    return load_choices(record_path(board_name))


def save_record(path: str | Path, board_name: str, entries: dict[str, dict]) -> Path:
    """Write (merge into) a record: ``entries`` is key -> {"choice", "measured"}."""
    path = Path(path)
    record = {"board": board_name, "choices": {}}
    if path.exists():
        try:
            record = json.loads(path.read_text())
            record.setdefault("choices", {})
        except ValueError:
            pass
    record["board"] = board_name
    record["choices"].update(entries)
    path.parent.mkdir(parents=True, exist_ok=True)
    return publish_file(path, json.dumps(record, indent=2, sort_keys=True) + "\n")
