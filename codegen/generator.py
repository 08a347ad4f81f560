"""Model IR + memory plan -> a self-contained C library, rendered from Jinja2 templates.

Each layer becomes one static C function specialized for its shapes; the
quantization constants are computed in Python (ops/*.py) and baked in. Output is
deterministic: the same model gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import tinyflow
from tinyflow.codegen.ops import REGISTRY, Layer, Unsupported
from tinyflow.codegen.ops.base import C_TYPES
from tinyflow.errors import UnsupportedModelError
from tinyflow.codegen.ir import Model, load_model
from tinyflow.codegen.memory import MemoryPlan, plan_memory
from tinyflow.common import publish_dir, template_environment

MANIFEST_VERSION = 1


def _carray(values, per_line: int = 16, indent: str = "    ") -> str:
    """Format numbers as the body of a C array initializer."""
    flat = np.asarray(values).ravel()
    if flat.dtype.kind == "f":
        items = [f"{float(v)!r}f" for v in flat.astype(np.float32)]
    else:
        items = [str(v) for v in flat.astype(np.int64).tolist()]
    lines = (", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line))
    return ",\n".join(indent + line for line in lines)


def _c_float(value: float) -> str:
    """A float32 constant as a C literal that reads back to the same bits."""
    return f"{float(np.float32(value))!r}f"


_ENV = template_environment("tinyflow.codegen")
_ENV.filters["carray"] = _carray
_ENV.filters["cfloat"] = _c_float


@dataclass
class GeneratedCode:
    """The rendered files (name -> text) with the plan and manifest they describe."""

    model: Model
    plan: MemoryPlan
    prefix: str
    files: dict[str, str] = field(default_factory=dict)

    @property
    def manifest(self) -> dict:
        return json.loads(self.files["manifest.json"])

    @property
    def weight_bytes(self) -> int:
        return self.manifest["weight_bytes"]

    def write(self, out_dir: str | Path) -> Path:
        return publish_dir(self.files, out_dir)

    def __str__(self) -> str:
        m = self.manifest
        lines = [f"{self.model.name}: {len(m['layers'])} layers, arena {m['arena_bytes']} bytes, "
                 f"weights {m['weight_bytes']} bytes",
                 *(f"  {name:<24} {len(text):>9} chars" for name, text in sorted(self.files.items()))]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        m = self.manifest
        rows = "".join(f"<tr><td>{layer['index']}</td><td>{layer['op']}</td>"
                       f"<td>{layer['output_offset']}</td><td>{layer['output_bytes']}</td></tr>"
                       for layer in m["layers"])
        return (f"<b>{self.model.name}</b>: {len(m['layers'])} layers, arena "
                f"{m['arena_bytes']} bytes, weights {m['weight_bytes']} bytes"
                f"<table><tr><th>#</th><th>op</th><th>output offset</th><th>output bytes</th>"
                f"</tr>{rows}</table>")


def check_supported(model: Model) -> None:
    """Raise UnsupportedModelError listing every op tinyflow cannot generate."""
    _prepare_layers(model, plan_memory(model))


def _prepare_layers(model: Model, plan: MemoryPlan, weight_name=lambda i: f"w{i}"):
    problems, prepared = [], []
    if model.subgraph_count > 1:
        problems.append(f"the model has {model.subgraph_count} subgraphs; "
                        "only single-subgraph models are supported")
    for op in model.operators:
        kernel = REGISTRY.get(op.opcode)
        if kernel is None:
            problems.append(f"{op.location}: op {op.opcode} is not supported")
            continue
        layer = Layer(op, model, plan, weight_name)
        try:
            params = kernel.prepare(layer)
        except Unsupported as exc:
            problems.append(f"{op.location} -> '{model.tensors[op.outputs[0]].name}': {exc}")
            continue
        prepared.append((layer, params))
    if problems:
        if all(t.dtype == "float32" for t in model.tensors if t.is_constant and t.dtype != "int32"):
            problems.append("hint: the model looks float-only; tinyflow generates int8 models. "
                            "Quantize it with a representative dataset first "
                            "(tinyflow.workflow quantize, or TFLiteConverter with "
                            "TFLITE_BUILTINS_INT8).")
        raise UnsupportedModelError(model.name, problems)
    return prepared


def _io_description(model: Model, plan: MemoryPlan, prefix: str):
    entries = []
    for kind, indices in (("input", model.inputs), ("output", model.outputs)):
        for position, t in enumerate(indices):
            tensor = model.tensors[t]
            quantized = tensor.quantization is not None
            entries.append(dict(
                kind=kind, position=position, name=tensor.name, dtype=tensor.dtype,
                ctype=C_TYPES.get(tensor.dtype, "uint8_t"), shape=list(tensor.shape),
                nbytes=tensor.nbytes, elements=tensor.num_elements, offset=plan.offset(t),
                macro=f"{prefix.upper()}_{kind.upper()}{position}", quantized=quantized,
                scale=_c_float(tensor.scale) if quantized else None,
                scale_value=tensor.scale if quantized else None,
                zero_point=tensor.zero_point if quantized else None,
            ))
    return ([e for e in entries if e["kind"] == "input"],
            [e for e in entries if e["kind"] == "output"])


def generate(model: Model | str | Path, *, prefix: str = "tinyflow", planner=None) -> GeneratedCode:
    """Generate the C library for ``model``; raises UnsupportedModelError listing every problem."""
    if not isinstance(model, Model):
        model = load_model(model)
    plan = plan_memory(model, planner)

    def weight_name(tensor_index: int) -> str:
        return f"{prefix}_w{tensor_index}"

    prepared = _prepare_layers(model, plan, weight_name)
    inputs, outputs = _io_description(model, plan, prefix)
    common = dict(version=tinyflow.__version__, model_name=model.name,
                  model_sha256=model.sha256, prefix=prefix, PREFIX=prefix.upper())

    layer_code = []
    used_constants: set[int] = set()
    for layer, params in prepared:
        template = _ENV.get_template("ops/" + params.pop("template"))
        layer_code.append(template.render(layer=layer, **params))
        used_constants |= layer.used_constants

    weights = []
    for index in sorted(used_constants):
        tensor = model.tensors[index]
        weights.append(dict(
            index=index, name=weight_name(index), tensor_name=tensor.name, dtype=tensor.dtype,
            ctype=C_TYPES[tensor.dtype], shape=list(tensor.shape), elements=tensor.num_elements,
            nbytes=tensor.nbytes, body=_carray(tensor.data),
        ))

    layers = [layer for layer, _ in prepared]
    # The runtime is hand-written C, the same for every model: copied verbatim.
    runtime = Path(__file__).parent / "runtime"
    files = {name: (runtime / name).read_text() for name in ("tf_runtime.h", "tf_kernels.h")}
    files[f"{prefix}_model.h"] = _ENV.get_template("model.h.j2").render(
        guard=f"{prefix.upper()}_MODEL_H", arena_bytes=plan.arena_bytes, layers=layers,
        inputs=inputs, outputs=outputs, **common)
    files[f"{prefix}_model.c"] = _ENV.get_template("model.c.j2").render(
        arena_bytes=plan.arena_bytes, planner=plan.planner, layers=layers, inputs=inputs,
        outputs=outputs, layer_code=layer_code, weight_declarations=weights, **common)
    files[f"{prefix}_weights.c"] = _ENV.get_template("weights.c.j2").render(
        weights=weights, **common)
    files[f"{prefix}.mk"] = _ENV.get_template("build.mk.j2").render(**common)

    manifest = dict(
        manifest_version=MANIFEST_VERSION,
        tinyflow_version=tinyflow.__version__,
        model=dict(name=model.name, sha256=model.sha256),
        prefix=prefix,
        arena_bytes=plan.arena_bytes,
        planner=plan.planner,
        weight_bytes=sum(w["nbytes"] for w in weights),
        inputs=[{k: e[k] for k in ("name", "dtype", "shape", "nbytes", "offset", "scale_value",
                                   "zero_point")} for e in inputs],
        outputs=[{k: e[k] for k in ("name", "dtype", "shape", "nbytes", "offset", "scale_value",
                                    "zero_point")} for e in outputs],
        layers=[dict(index=layer.index, op=layer.opcode, output_offset=layer.output_offset,
                     output_bytes=layer.output_bytes) for layer in layers],
        memory_plan=[dict(name=b.name, offset=b.offset, size=b.size, first_use=b.first_use,
                          last_use=b.last_use) for b in plan.buffers],
        files={name: hashlib.sha256(text.encode()).hexdigest() for name, text in sorted(files.items())},
    )
    files["manifest.json"] = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    return GeneratedCode(model=model, plan=plan, prefix=prefix, files=files)


def render_host_main(generated: GeneratedCode) -> str:
    inputs, outputs = _io_description(generated.model, generated.plan, generated.prefix)
    return _ENV.get_template("host_main.c.j2").render(
        version=tinyflow.__version__, model_name=generated.model.name,
        model_sha256=generated.model.sha256, prefix=generated.prefix, inputs=inputs,
        outputs=outputs)
