"""Model IR + memory plan -> a self-contained C library, rendered from Jinja2 templates.

Each layer becomes one static C function specialized for its shapes; the
quantization constants are computed in Python (ops/*.py) and baked in. Output is
deterministic: the same model gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import tinyflow
from tinyflow.codegen.ops import REGISTRY, Layer, Unsupported
from tinyflow.codegen.ops.base import C_TYPES, Prepared
from tinyflow.errors import InvalidModelError, UnsupportedModelError, UsageError
from tinyflow.codegen.exports import export_files
from tinyflow.codegen.ir import Model, load_model
from tinyflow.codegen.memory import LayerMemory, MemoryPlan, plan_buffers
from tinyflow.codegen.quantize import MultiplierRangeError
from tinyflow.codegen.simplify import simplify
from tinyflow.codegen.validate import validation
from tinyflow.common import publish_output_dir, template_environment

MANIFEST_VERSION = 1

# C's keywords up to C23, which no prefix may be.
C_KEYWORDS = frozenset("""
    auto break case char const continue default do double else enum extern float for
    goto if inline int long register restrict return short signed sizeof static struct
    switch typedef union unsigned void volatile while _Alignas _Alignof _Atomic _Bool
    _Complex _Generic _Imaginary _Noreturn _Static_assert _Thread_local alignas alignof
    bool constexpr false nullptr static_assert thread_local true typeof typeof_unqual
""".split())


def check_prefix(prefix: str) -> str:
    """``prefix`` if it is a C identifier that is not a keyword; else UsageError. It
    names the generated files and every C symbol, so nothing else may pass."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", prefix) or prefix in C_KEYWORDS:
        raise UsageError(f"prefix {prefix!r} is not a C identifier (letters, digits and "
                         "underscores, not starting with a digit, not a C keyword)")
    return prefix


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

    def write(self, out_dir: str | Path, *, format: str = "make", force: bool = False) -> Path:
        """Publish the files as ``out_dir``, laid out for a build system (``format``:
        make, cmake, zephyr, arduino or platformio; see codegen/exports.py), replacing
        a previous output of tinyflow whole; a folder of other files is refused unless
        ``force`` (see ``publish_output_dir``)."""
        return publish_output_dir(export_files(self, format), out_dir, marker="manifest.json",
                                  marker_keys={"manifest_version", "tinyflow_version"},
                                  force=force)

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


def prepare_layers(model: Model, weight_name=lambda index: f"w{index}", *,
                   strict: bool = True,
                   tuning: dict[str, str] | None = None) -> list[tuple[Layer, Prepared | None]]:
    """Run every op's prepare step: one (Layer, Prepared) per operator, in order.

    ``model`` must be valid (``checked_model``). With ``strict`` (code generation),
    raise UnsupportedModelError listing every problem at once; otherwise an
    unsupported layer gets None (inspecting a model that cannot be generated yet).
    ``tuning``: a tuning record's kernel choices (codegen/tuning.py)."""
    problems, prepared = _prepare_each(model, weight_name, tuning=tuning)
    if problems and strict:
        if all(t.dtype == "float32" for t in model.tensors if t.is_constant and t.dtype != "int32"):
            problems.append("hint: the model looks float-only; tinyflow generates int8 models. "
                            "Quantize it with a representative dataset first "
                            "(tinyflow.quantize_keras, or TFLiteConverter with "
                            "TFLITE_BUILTINS_INT8).")
        raise UnsupportedModelError(model.name, problems)
    return prepared


def _prepare_each(model: Model, weight_name=lambda index: f"w{index}", *,
                  skip: frozenset[int] = frozenset(), tuning: dict[str, str] | None = None):
    """(problems, [(Layer, Prepared or None)]); ops whose file index is in ``skip``
    are not prepared (validation found them broken)."""
    problems, prepared = [], []
    if model.subgraph_count > 1:
        problems.append(f"the model has {model.subgraph_count} subgraphs; "
                        "only single-subgraph models are supported")
    for op in model.operators:
        layer = Layer(op, model, weight_name, tuning)
        kernel = REGISTRY.get(op.opcode)
        result = None
        if (op.index if op.file_index is None else op.file_index) in skip:
            pass
        elif kernel is None:
            problems.append(f"{op.location}: op {op.opcode} is not supported")
        else:
            try:
                result = kernel.prepare(layer)
            except (Unsupported, MultiplierRangeError) as exc:
                problems.append(f"{op.location} -> '{model.tensors[op.outputs[0]].name}': {exc}")
        prepared.append((layer, result))
    return problems, prepared


def checked_model(model: Model) -> Model:
    """``model`` validated (codegen/validate.py) and simplified, ready to prepare.

    A model that breaks the rules raises InvalidModelError listing every problem, and
    also the unsupported ops among those the problems leave intact (when the graph
    itself is sound), so one run shows everything to fix."""
    found = validation(model)
    if found.ok:
        return simplify(model)
    problems = list(found.problems)
    if found.graph_sound:
        more, _ = _prepare_each(simplify(model), skip=frozenset(found.broken_ops))
        problems += more
    raise InvalidModelError(model.name, problems)


def check_supported(model: Model) -> None:
    """Raise InvalidModelError or UnsupportedModelError listing every problem."""
    prepare_layers(checked_model(model))


def _plan(model: Model, prepared, planner=None) -> MemoryPlan:
    needs = [LayerMemory(result.aliases_input, result.scratch_bytes, result.in_place,
                         result.in_place_scratch_bytes) if result else LayerMemory()
             for _, result in prepared]
    plan = plan_buffers(model, needs, planner)
    for layer, _ in prepared:
        layer.plan = plan
    return plan


def plan_memory(model: Model | str | Path, planner=None) -> MemoryPlan:
    """The arena plan the generated code uses: every activation tensor and every
    layer's scratch, with reshapes sharing their input's buffer. The plan is of the
    simplified model (codegen/simplify.py), as the generated code runs it."""
    if not isinstance(model, Model):
        model = load_model(model)
    model = checked_model(model)
    return _plan(model, prepare_layers(model, strict=False), planner)


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


def generate(model: Model | str | Path, *, prefix: str = "tinyflow", planner=None,
             tuning: dict[str, str] | None = None) -> GeneratedCode:
    """Generate the C library for ``model``; raises InvalidModelError (a malformed model)
    or UnsupportedModelError listing every problem.

    The code runs the simplified model (codegen/simplify.py: shape arithmetic folded,
    unread ops dropped); ``GeneratedCode.model`` is that model, its ops the layers.
    ``tuning``: kernel choices from a tuning record (codegen/tuning.py); without one,
    every layer takes its op's default path."""
    check_prefix(prefix)
    if not isinstance(model, Model):
        model = load_model(model)
    model = checked_model(model)

    def weight_name(tensor_index: int) -> str:
        return f"{prefix}_w{tensor_index}"

    prepared = prepare_layers(model, weight_name, tuning=tuning)
    plan = _plan(model, prepared, planner)
    inputs, outputs = _io_description(model, plan, prefix)
    common = dict(version=tinyflow.__version__, model_name=model.name,
                  model_sha256=model.sha256, prefix=prefix, PREFIX=prefix.upper())

    layer_code = []
    # Every constant array the code reads, by C name: (tensor, layout, data), and its layers.
    # A kernel may read a tensor rearranged at build time (Layer.packed_constants).
    arrays: dict[str, tuple] = {}
    weight_users: dict[str, list[int]] = {}
    for layer, result in prepared:
        template = _ENV.get_template("ops/" + result.template)
        layer_code.append(template.render(layer=layer, tables=result.tables, **result.params))
        for index in layer.used_constants:
            tensor = model.tensors[index]
            arrays[weight_name(index)] = (tensor, None, tensor.data)
        for packed in layer.packed_constants.values():
            arrays[packed.name] = (packed.tensor, packed.layout, packed.data)
        for name in layer_weight_names(layer, weight_name):
            weight_users.setdefault(name, []).append(layer.index)

    weights = []
    for name, (tensor, layout, data) in sorted(arrays.items(),
                                                key=lambda item: (item[1][0].index, item[0])):
        weights.append(dict(
            index=tensor.index, name=name, tensor_name=tensor.name, dtype=str(data.dtype),
            layout=layout or "tflite", ctype=C_TYPES[str(data.dtype)],
            shape=list(tensor.shape if layout is None else data.shape), elements=int(data.size),
            nbytes=int(data.nbytes), body=_carray(data), layers=sorted(weight_users[name]),
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
        scratch_bytes=plan.scratch_bytes,
        weights=[{k: w[k] for k in ("name", "index", "tensor_name", "dtype", "layout", "shape",
                                    "nbytes", "layers")} for w in weights],
        layers=[_layer_entry(layer, result, plan, weight_name) for layer, result in prepared],
        memory_plan=[dict(name=b.name, offset=b.offset, size=b.size, first_use=b.first_use,
                          last_use=b.last_use) for b in plan.buffers],
        files={name: hashlib.sha256(text.encode()).hexdigest() for name, text in sorted(files.items())},
    )
    files["manifest.json"] = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    return GeneratedCode(model=model, plan=plan, prefix=prefix, files=files)


def layer_weight_names(layer: Layer, weight_name) -> list[str]:
    """The C names of the constant arrays a rendered layer reads: tensors as stored and
    tensors packed into a kernel's layout."""
    return sorted([weight_name(i) for i in layer.used_constants] + list(layer.packed_constants))


def _layer_entry(layer: Layer, result: Prepared, plan: MemoryPlan, weight_name) -> dict:
    """What later stages know of a layer (the profiler, calibration, device readback):
    everything its op decided, and the C symbols its code and tables compile to."""
    scratch = plan.scratch.get(layer.index)
    return dict(
        index=layer.index, op=layer.opcode, variant=result.variant, template=result.template,
        macs=result.macs, features=result.features, cost_terms=list(result.cost_terms),
        function=f"layer_{layer.index}",
        tables=[dict(symbol=f"layer{layer.index}_{t.name}", ctype=t.ctype,
                     elements=len(t.values), nbytes=t.nbytes) for t in result.tables],
        table_bytes=result.table_bytes,
        weights=layer_weight_names(layer, weight_name),
        scratch_bytes=scratch.size if scratch else 0,
        scratch_offset=scratch.offset if scratch else None,
        aliases_input=result.aliases_input, in_place=layer.in_place,
        choices={knob: dict(choice=chosen, options=list(options))
                 for knob, (chosen, options) in layer.choices.items()},
        output_offset=layer.output_offset, output_bytes=layer.output_bytes)
