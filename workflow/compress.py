"""Make a Keras model smaller for a microcontroller; every path ends in an int8 .tflite
that tinyflow's code generator accepts.

- ``quantize``            post-training full-integer int8 (per-channel weights), or int16x8
- ``prune_structured``    drop the weakest Conv2D filters and Dense units: a thinner model
- ``fine_tune``           a short ``fit`` to recover accuracy after pruning
- ``pruning_plan``        which filters and units ``prune_structured`` keeps
- ``quantization_aware``  int8 with quantization-aware training (tfmot, in a child process)

>>> thin = prune_structured(model, 0.5)                         # doctest: +SKIP
>>> fine_tune(thin, x_train, y_train, epochs=2)                 # doctest: +SKIP
>>> tflite = quantize(thin, x_train[:200])                      # doctest: +SKIP

TensorFlow and Keras are imported only when a function runs: code generation,
profiling and measurement do not need them.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from tinyflow.common import quiet_native_output
from tinyflow.errors import InputError, TinyflowError

log = logging.getLogger("tinyflow.compress")

# Ops that a dynamic batch size leaves in a converted model: Keras 3's Flatten computes
# the batch size at run time. tinyflow generates code for static shapes only.
_DYNAMIC_SHAPE_OPS = {"SHAPE", "STRIDED_SLICE", "PACK"}


# --- post-training quantization ----------------------------------------------------------

def quantize(model, representative_data, *, int8_io: bool = True,
             activations: str = "int8") -> bytes:
    """Convert ``model`` to int8 with post-training quantization.

    representative_data: an array of samples (batch first) that covers the range of
    real inputs; the converter calibrates activation ranges on it.
    int8_io: integer model inputs and outputs (as on a microcontroller: int8, or int16
    for int16 activations); with False the model keeps float32 at its edges
    (QUANTIZE / DEQUANTIZE ops).
    activations: "int8", or "int16" for int16x8 (int16 activations, int8 weights,
    int64 biases: the converter's EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8).

    A model built on ``keras.Input(shape)`` (dynamic batch) whose conversion needs
    run-time shape ops is converted again from a batch-1 copy, which has static shapes.
    """
    tflite = int8_tflite(model, representative_data, int8_io=int8_io, activations=activations)
    if _has_dynamic_shape_ops(tflite) and _has_dynamic_batch(model):
        tflite = int8_tflite(_batch_one_copy(model), representative_data, int8_io=int8_io,
                             activations=activations)
    return tflite


# The converter's op set and integer I/O type for each activation type.
_ACTIVATION_TYPES = {"int8": ("TFLITE_BUILTINS_INT8", "int8"),
                     "int16": ("EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8",
                               "int16")}


def int8_tflite(model, representative_data, *, int8_io: bool = True,
                activations: str = "int8") -> bytes:
    """TensorFlow's full-integer conversion of a Keras model as it is (Keras 3, or
    tf_keras in the quantization-aware training worker): int8, or int16x8 with
    ``activations="int16"``."""
    import tensorflow as tf

    if activations not in _ACTIVATION_TYPES:
        raise InputError(f"activations must be one of {', '.join(_ACTIVATION_TYPES)}, "
                         f"got {activations!r}")
    ops_set, io_type = _ACTIVATION_TYPES[activations]

    samples = np.asarray(representative_data, dtype=np.float32)

    def dataset():
        for sample in samples:
            yield [sample[np.newaxis]]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = dataset
    converter.target_spec.supported_ops = [getattr(tf.lite.OpsSet, ops_set)]
    if int8_io:
        converter.inference_input_type = getattr(tf, io_type)
        converter.inference_output_type = getattr(tf, io_type)
    with quiet_native_output():
        return converter.convert()


def _has_dynamic_shape_ops(tflite: bytes) -> bool:
    from tinyflow.codegen.ir import load_model
    return any(op.opcode in _DYNAMIC_SHAPE_OPS for op in load_model(tflite).operators)


def _has_dynamic_batch(model) -> bool:
    """True for a Sequential or functional model with a dynamic batch size (a subclassed
    model has no ``inputs``, and Keras cannot copy it)."""
    inputs = getattr(model, "inputs", None) or []
    return any(tensor.shape[0] is None for tensor in inputs)


def _batch_one_copy(model):
    """The same layers rebuilt on batch-1 inputs, with the same weights."""
    import keras

    inputs = [keras.Input(batch_shape=(1, *tensor.shape[1:]), dtype=tensor.dtype)
              for tensor in model.inputs]
    copy = keras.models.clone_model(model, input_tensors=_single(inputs))
    copy.set_weights(model.get_weights())
    return copy


# --- the layer graph ---------------------------------------------------------------------

def _layer_calls(model) -> list:
    """Keras's record (a node) of every layer call of a Sequential or functional model,
    each after the calls that make its inputs. ``node.operation`` is the layer,
    ``node.input_tensors`` / ``node.output_tensors`` its symbolic tensors."""
    import keras

    try:
        graph = keras.Model(model.inputs, model.outputs)   # a Sequential's graph, too
    except (AttributeError, ValueError) as exc:
        raise InputError(f"{model.name}: a Sequential or functional model is needed, built "
                         f"on keras.Input ({exc})") from exc
    known = {id(tensor) for tensor in graph.inputs}
    nodes = []
    for operation in graph.operations:           # Keras orders them inputs first
        if isinstance(operation, keras.layers.InputLayer):
            continue
        # A layer also keeps the calls made outside this model (another model built on
        # it): its call here is the one whose inputs this model computes.
        calls = [node for node in operation._inbound_nodes
                 if all(id(tensor) in known for tensor in node.input_tensors)]
        if len(calls) != 1:
            raise InputError(f"{model.name}: layer {operation.name} is called {len(calls)} "
                             "times; shared layers are not supported")
        known.update(id(tensor) for tensor in calls[0].output_tensors)
        nodes.append(calls[0])
    return nodes


# --- structured pruning ------------------------------------------------------------------

def pruning_plan(model, fraction: float) -> dict[str, np.ndarray]:
    """The filters of each Conv2D and the units of each Dense that ``prune_structured``
    keeps (indices, ascending), by layer name."""
    return _ChannelPlan(model, fraction).kept_filters()


def prune_structured(model, fraction: float):
    """A thinner copy of ``model`` without the ``fraction`` of Conv2D filters and Dense
    units with the smallest L1 norms (each layer keeps at least one).

    Channels are followed through the layers that act per channel (DepthwiseConv2D,
    BatchNormalization, activations, pooling, Dropout), Flatten, Concatenate and
    merges such as Add, whose inputs keep the same channels: those are ranked
    together, by the sum of their filters' norms. Layers that end in a model output
    (the classifier) keep all their units. The copy is a functional Keras model with
    the kept slices of the weights; fine-tune it (``fine_tune``) to recover accuracy.
    """
    import keras

    plan = _ChannelPlan(model, fraction)
    rebuilt = {}                          # id(original tensor) -> its copy
    for tensor in model.inputs:
        rebuilt[id(tensor)] = keras.Input(batch_shape=tensor.shape, dtype=tensor.dtype)
    for node in plan.nodes:
        layer, role = node.operation, _pruning_role(node)
        in_keep = plan.kept(node.input_tensors[0])
        out_keep = plan.kept(node.output_tensors[0])
        copy = _thinner_copy(layer, role, len(out_keep))
        args, kwargs = node.arguments.fill_in(rebuilt)
        outputs = keras.tree.flatten(copy(*args, **kwargs))
        for original, output in zip(node.output_tensors, outputs):
            rebuilt[id(original)] = output
        if copy is not layer and layer.weights:
            copy.set_weights(_kept_weights(layer, role, in_keep, out_keep))
    inputs = [rebuilt[id(tensor)] for tensor in model.inputs]
    outputs = [rebuilt[id(tensor)] for tensor in model.outputs]
    return keras.Model(_single(inputs), _single(outputs), name=model.name)


def fine_tune(model, x, y, *, epochs: int = 2, batch_size: int = 32,
              learning_rate: float = 1e-3, loss=None, seed: int = 0):
    """Train ``model`` a little (Adam), typically after ``prune_structured``; returns
    Keras's history. loss: a Keras loss; by default the one ``model`` was compiled with,
    else sparse categorical cross-entropy (from logits unless the model ends in a softmax)."""
    import keras

    keras.utils.set_random_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.get(_portable_loss(model, loss)), metrics=["accuracy"])
    return model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0)


def _portable_loss(model, loss=None):
    """``loss`` if given, else the loss ``model`` was compiled with, else sparse
    categorical cross-entropy (from logits unless the model ends in a softmax). As a
    name or {"class_name", "config"}: the forms both Keras 3 and tf_keras read."""
    import keras

    loss = loss if loss is not None else model.loss
    if isinstance(loss, keras.losses.Loss):
        config = {key: value for key, value in loss.get_config().items()
                  if key in ("from_logits", "label_smoothing", "ignore_class", "axis")}
        return {"class_name": type(loss).__name__, "config": config}
    if callable(loss):
        return loss.__name__                     # a loss function such as keras.losses.mse
    if loss is not None:
        return loss
    last = model.layers[-1]
    ends_in_softmax = (isinstance(last, keras.layers.Softmax)
                       or last.get_config().get("activation") == "softmax")
    return {"class_name": "SparseCategoricalCrossentropy",
            "config": {"from_logits": not ends_in_softmax}}


def _single(tensors: list):
    """One tensor as itself (as a Keras model would have it), several as a list."""
    return tensors[0] if len(tensors) == 1 else tensors


# Activations over the channel axis: dropping a channel changes the others.
_CHANNEL_MIXING = ("softmax", "log_softmax")


def _pruning_role(node) -> str:
    """How a layer call passes channels on (last axis, channels_last):

    "filters"      Conv2D / Dense: new channels, one per filter or unit (all kept
                   when a softmax follows over them)
    "depthwise"    DepthwiseConv2D: each input channel, depth_multiplier times
    "per_channel"  each channel on its own (BatchNormalization, activations, pooling, ...)
    "flatten"      Flatten: the channels repeated for every position
    "concatenate"  Concatenate on the channel axis: the inputs' channels one after another
    "merge"        Add and the like (or Concatenate on another axis): inputs line up channel by channel
    "other"        anything else: its inputs and outputs keep all their channels
    """
    import keras
    layers = keras.layers

    layer = node.operation
    if not isinstance(layer, layers.Layer):        # a keras.ops call in a functional model
        return "other"
    config = layer.get_config()
    if config.get("data_format", "channels_last") != "channels_last":
        return "other"
    if isinstance(layer, layers.Dense) or (isinstance(layer, layers.Conv2D)
                                           and config["groups"] == 1):
        return "filters"
    if config.get("activation") in _CHANNEL_MIXING:
        return "other"
    rank = len(node.input_tensors[0].shape)
    if isinstance(layer, layers.DepthwiseConv2D):
        return "depthwise"
    if isinstance(layer, layers.BatchNormalization):
        return "per_channel" if config["axis"] in (-1, rank - 1) else "other"
    if isinstance(layer, (layers.ReLU, layers.Activation, layers.LeakyReLU, layers.ELU,
                          layers.MaxPooling1D, layers.MaxPooling2D, layers.AveragePooling1D,
                          layers.AveragePooling2D, layers.GlobalAveragePooling1D,
                          layers.GlobalAveragePooling2D, layers.GlobalMaxPooling1D,
                          layers.GlobalMaxPooling2D, layers.Dropout, layers.SpatialDropout2D,
                          layers.ZeroPadding2D)):
        return "per_channel"
    if isinstance(layer, layers.Flatten):
        return "flatten"
    if isinstance(layer, layers.Concatenate) and config["axis"] in (-1, rank - 1):
        return "concatenate"
    if isinstance(layer, (layers.Add, layers.Subtract, layers.Multiply, layers.Average,
                          layers.Maximum, layers.Minimum, layers.Concatenate)):
        widths = {tensor.shape[-1] for tensor in node.input_tensors}
        return "merge" if len(widths) == 1 else "other"     # else channels broadcast
    return "other"


class _UnionFind:
    """Sets of the integers 0, 1, ...: ``union`` merges two sets, ``find`` names the set
    an integer is in (by one of its members)."""

    def __init__(self):
        self.parent: list[int] = []

    def add(self) -> int:
        self.parent.append(len(self.parent))
        return len(self.parent) - 1

    def find(self, item: int) -> int:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


class _ChannelPlan:
    """Which channels of every tensor of a model survive pruning.

    Every Conv2D filter and Dense unit starts a *slot*; every tensor lists, per channel,
    the slot it carries, passed on as ``_pruning_role`` says. A merge (Add, ...) makes
    its inputs' matching slots one (union-find), kept or dropped together, and joins
    the layers that started them into one group, whose slots are ranked together.
    Slots started by model inputs or by "other" layers, that reach a model output,
    enter an "other" layer or a softmax, are fixed: always kept.
    """

    def __init__(self, model, fraction: float):
        if not 0 <= fraction < 1:
            raise InputError(f"pruning fraction {fraction}: expected 0 <= fraction < 1")
        self.nodes = _layer_calls(model)
        self.slots = _UnionFind()
        self.groups = _UnionFind()        # over the layers that start slots
        self.owner: list[int | None] = []  # per slot: the group that started it, None if fixed
        self.score: list[float] = []      # per slot: the L1 norm of its filter
        self.fixed: list[bool] = []
        self.producers: set[str] = set()  # the names of the layers that start slots
        self.channels: dict[int, np.ndarray] = {}   # id(tensor) -> slot per channel

        for tensor in model.inputs:
            self.channels[id(tensor)] = self._fixed_slots(tensor.shape[-1])
        for node in self.nodes:
            self._follow(node)
        for tensor in model.outputs:
            self._fix(self.channels[id(tensor)])
        self.kept_slots = self._choose(fraction)

    # -- following the channels
    def _follow(self, node) -> None:
        role = _pruning_role(node)
        inputs = [self.channels[id(tensor)] for tensor in node.input_tensors]
        layer = node.operation
        if role == "filters":
            kernel = layer.get_weights()[0]                 # [..., inputs, filters]
            norms = np.abs(kernel).reshape(-1, kernel.shape[-1]).sum(axis=0)
            outputs = [self._new_slots(layer.name, norms)]
            if layer.get_config()["activation"] in _CHANNEL_MIXING:
                self._fix(outputs[0])
        elif role == "depthwise":
            outputs = [np.repeat(inputs[0], layer.get_config()["depth_multiplier"])]
        elif role == "per_channel":
            outputs = [inputs[0]]
        elif role == "flatten":
            positions = int(np.prod(node.input_tensors[0].shape[1:-1]))
            outputs = [np.tile(inputs[0], positions)]
        elif role == "concatenate":
            outputs = [np.concatenate(inputs)]
        elif role == "merge":
            for other in inputs[1:]:
                for a, b in zip(inputs[0], other):
                    self._join(a, b)
            outputs = [inputs[0]]
        else:
            for slots in inputs:
                self._fix(slots)
            outputs = [self._fixed_slots(tensor.shape[-1] if tensor.shape else 1)
                       for tensor in node.output_tensors]
        for tensor, slots in zip(node.output_tensors, outputs):
            self.channels[id(tensor)] = slots

    def _new_slots(self, layer_name: str, norms: np.ndarray) -> np.ndarray:
        group = self.groups.add()
        self.producers.add(layer_name)
        slots = [self._add_slot(group, float(norm), fixed=False) for norm in norms]
        return np.array(slots, dtype=np.int64)

    def _fixed_slots(self, count: int) -> np.ndarray:
        return np.array([self._add_slot(None, 0.0, fixed=True) for _ in range(count)],
                        dtype=np.int64)

    def _add_slot(self, owner, score, fixed) -> int:
        self.owner.append(owner)
        self.score.append(score)
        self.fixed.append(fixed)
        return self.slots.add()

    def _fix(self, slots) -> None:
        for slot in slots:
            self.fixed[slot] = True

    def _join(self, a: int, b: int) -> None:
        if self.owner[a] is not None and self.owner[b] is not None:
            self.groups.union(self.owner[a], self.owner[b])
        self.slots.union(a, b)

    # -- choosing the channels
    def _choose(self, fraction: float) -> set[int]:
        """The kept slots (by union-find root): per group, the fixed ones and the
        strongest others, (1 - fraction) of all (at least one)."""
        members: dict[int, list[int]] = {}
        for slot in range(len(self.owner)):
            members.setdefault(self.slots.find(slot), []).append(slot)
        kept, candidates = set(), {}              # group -> [(score, root)] it may drop
        for root, slots in members.items():
            owners = [self.owner[s] for s in slots if self.owner[s] is not None]
            if not owners:
                kept.add(root)                    # started by inputs or "other" layers
                continue
            group = self.groups.find(owners[0])
            score = sum(self.score[s] for s in slots)
            candidates.setdefault(group, []).append(
                (float("inf") if any(self.fixed[s] for s in slots) else score, root))
        for ranked in candidates.values():
            ranked.sort(key=lambda item: (-item[0], item[1]))   # fixed first, then strongest
            fixed = sum(score == float("inf") for score, _ in ranked)
            keep = max(1, fixed, int(len(ranked) * (1 - fraction) + 0.5))
            kept.update(root for _, root in ranked[:keep])
        return kept

    # -- reading the plan
    def kept(self, tensor) -> np.ndarray:
        """The indices of ``tensor``'s channels that survive, ascending."""
        slots = self.channels[id(tensor)]
        return np.flatnonzero([self.slots.find(s) in self.kept_slots for s in slots])

    def kept_filters(self) -> dict[str, np.ndarray]:
        return {node.operation.name: self.kept(node.output_tensors[0]) for node in self.nodes
                if node.operation.name in self.producers}


def _thinner_copy(layer, role: str, channels: int):
    """A new layer like ``layer`` (``channels`` filters or units if it makes them);
    keras.ops calls have no state and are used as they are."""
    import keras

    if not isinstance(layer, keras.layers.Layer):
        return layer
    config = layer.get_config()
    if role == "filters":
        config["units" if "units" in config else "filters"] = channels
    return type(layer).from_config(config)


def _kept_weights(layer, role: str, in_keep: np.ndarray, out_keep: np.ndarray) -> list:
    """``layer``'s weights for its kept input channels ``in_keep`` and output channels
    ``out_keep``."""
    weights = layer.get_weights()
    if role == "filters":        # kernel [..., inputs, filters], bias [filters]
        return [weights[0][..., in_keep, :][..., out_keep]] + [w[out_keep] for w in weights[1:]]
    if role == "depthwise":      # kernel [height, width, inputs, multiplier], bias [outputs]
        return [weights[0][:, :, in_keep, :]] + [w[out_keep] for w in weights[1:]]
    if role == "per_channel":    # BatchNormalization: gamma, beta, mean, variance per channel
        return [w[in_keep] for w in weights]
    return weights               # "other": all its channels were kept


# --- quantization-aware training ---------------------------------------------------------

# The layers the QAT worker rebuilds in tf_keras, with the config keys that mean the same
# there as in Keras 3 (the weights are copied, so initializers and regularizers are not).
_QAT_LAYERS = {
    "Conv2D": ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
               "groups", "activation", "use_bias"),
    "DepthwiseConv2D": ("kernel_size", "strides", "padding", "data_format", "depth_multiplier",
                        "dilation_rate", "activation", "use_bias"),
    "Dense": ("units", "activation", "use_bias"),
    "BatchNormalization": ("axis", "momentum", "epsilon", "center", "scale"),
    "ReLU": ("max_value", "negative_slope", "threshold"),
    "Activation": ("activation",),
    "MaxPooling2D": ("pool_size", "strides", "padding", "data_format"),
    "AveragePooling2D": ("pool_size", "strides", "padding", "data_format"),
    "GlobalAveragePooling2D": ("data_format", "keepdims"),
    "Flatten": ("data_format",),
    "Reshape": ("target_shape",),
    "Dropout": ("rate",),
    "Add": (),
    "Concatenate": ("axis",),
}


def quantization_aware(model, x_train, y_train, representative_data, *, epochs: int = 2,
                       batch_size: int = 32, learning_rate: float = 1e-4, loss=None,
                       metrics=("accuracy",), int8_io: bool = True, seed: int = 0) -> bytes:
    """Fine-tune a trained ``model`` with quantization-aware training, then convert it to
    int8 (calibrated on ``representative_data``, like ``quantize``).

    Keras 3 has no QAT and tfmot does not take Keras 3 models, so the same architecture
    is rebuilt in tf_keras with ``model``'s weights, in a child process (tfmot would
    switch this process's tf.keras to Keras 2). Supported layers: the keys of
    ``_QAT_LAYERS``. loss: a Keras loss name or {"class_name", "config"}; by default the
    one ``model`` was compiled with, else sparse categorical cross-entropy (from logits
    unless the model ends in a softmax). metrics: names, logged per epoch.
    """
    spec, weights = _qat_spec(model)
    spec.update(loss=_portable_loss(model, loss), metrics=list(metrics), epochs=epochs,
                batch_size=batch_size, learning_rate=learning_rate, int8_io=int8_io, seed=seed)
    with tempfile.TemporaryDirectory(prefix="tinyflow-qat-") as folder:
        folder = Path(folder)
        (folder / "spec.json").write_text(json.dumps(spec))
        np.savez(folder / "weights.npz", **weights)
        np.savez(folder / "data.npz", x=np.asarray(x_train, dtype=np.float32),
                 y=np.asarray(y_train),
                 representative=np.asarray(representative_data, dtype=np.float32))
        result = subprocess.run([sys.executable, "-m", "tinyflow._qat_worker", str(folder)],
                                capture_output=True, text=True,
                                env=dict(os.environ, TF_USE_LEGACY_KERAS="1"))
        if result.returncode != 0:
            error = folder / "error.txt"
            reason = (error.read_text() if error.exists()
                      else ([""] + result.stderr.strip().splitlines())[-1])
            raise TinyflowError(f"{model.name}: quantization-aware training failed: {reason}")
        for epoch, figures in enumerate(json.loads((folder / "history.json").read_text())):
            log.info("quantization-aware training, epoch %d: %s", epoch + 1, figures)
        return (folder / "model.tflite").read_bytes()


def _qat_spec(model) -> tuple[dict, dict]:
    """``model`` as the QAT worker rebuilds it (its inputs; per layer call, the class,
    config and the tensors taken and made; its outputs), and its weights by
    "layer name/index"."""
    import keras

    names: dict[int, str] = {}                # id(tensor) -> its name in the spec

    def name(tensor) -> str:
        return names.setdefault(id(tensor), f"t{len(names)}")

    spec = {"inputs": [{"name": name(tensor), "shape": list(tensor.shape[1:])}
                       for tensor in model.inputs], "layers": []}
    weights = {}
    for node in _layer_calls(model):
        layer, kind = node.operation, type(node.operation).__name__
        if not isinstance(layer, keras.layers.Layer) or kind not in _QAT_LAYERS:
            raise InputError(f"{model.name}: quantization-aware training rebuilds only "
                             f"{', '.join(_QAT_LAYERS)}; {layer.name} is a {kind}")
        config = layer.get_config()
        spec["layers"].append({
            "class_name": kind, "name": layer.name,
            "config": {key: config[key] for key in _QAT_LAYERS[kind] if key in config},
            "inputs": [name(tensor) for tensor in node.input_tensors],
            "output": name(node.output_tensors[0]),
        })
        for index, array in enumerate(layer.get_weights()):
            weights[f"{layer.name}/{index}"] = array
    spec["outputs"] = [name(tensor) for tensor in model.outputs]
    return spec, weights
