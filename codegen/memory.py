"""Static memory planning: every activation tensor gets an offset in one arena.

The planner interface is tiny (add a buffer with its size and first/last use,
plan, read offsets and the peak), so planners can be swapped and compared.
``plan_buffers`` builds the buffer list from a Model and what each layer needs
(``LayerMemory``, from its op's prepare step): lifetimes are operator steps; an
output that aliases its input (a reshape: zero-copy) shares the input's buffer;
an output its kernel can compute in place (a depthwise convolution, a 1x1
convolution that does not widen) takes over its input's buffer when nothing
reads the input afterwards; a layer's scratch (im2col columns, the rows an
in-place kernel holds back) is a buffer that lives for that layer only.
``tinyflow.codegen.plan_memory`` asks the ops and plans in one call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from tinyflow.codegen.ir import Model

ARENA_ALIGNMENT = 16   # bytes; enough for any element type and for 128-bit loads


@dataclass(frozen=True)
class LayerMemory:
    """What one layer asks of the arena besides its input and output tensors."""

    aliases_input: bool = False     # its output is its input, reinterpreted
    scratch_bytes: int = 0          # working space while it runs
    in_place: bool = False          # its kernel may write its output over its input ...
    in_place_scratch_bytes: int = 0  # ... with this much more working space


def _align(value: int, alignment: int = ARENA_ALIGNMENT) -> int:
    return (value + alignment - 1) // alignment * alignment


@dataclass
class Buffer:
    name: str
    size: int
    first_use: int      # first operator step that touches it (-1: written before invoke)
    last_use: int       # last operator step that reads it (len(ops): read after invoke)
    offset: int = -1

    def lives_with(self, other: "Buffer") -> bool:
        return self.first_use <= other.last_use and other.first_use <= self.last_use


class GreedyBySizePlanner:
    """Largest buffers first, each at the lowest offset free over its whole lifetime.

    The same strategy as TFLM's greedy planner; near-optimal on the chain-shaped
    graphs of small CNNs.
    """

    name = "greedy-by-size"

    def __init__(self):
        self.buffers: list[Buffer] = []

    def add_buffer(self, name: str, size: int, first_use: int, last_use: int) -> Buffer:
        buffer = Buffer(name, size, first_use, last_use)
        self.buffers.append(buffer)
        return buffer

    def plan(self) -> None:
        placed: list[Buffer] = []
        order = sorted(self.buffers, key=lambda b: (-b.size, b.first_use, b.name))
        for buffer in order:
            conflicts = sorted((b for b in placed if b.lives_with(buffer)),
                               key=lambda b: b.offset)
            offset = 0
            for other in conflicts:
                if offset + buffer.size <= other.offset:
                    break
                offset = max(offset, _align(other.offset + other.size))
            buffer.offset = offset
            placed.append(buffer)

    @property
    def arena_bytes(self) -> int:
        return _align(max((b.offset + b.size for b in self.buffers), default=0))


class LinearPlanner(GreedyBySizePlanner):
    """Baseline: every buffer gets its own space, nothing is reused."""

    name = "linear"

    def plan(self) -> None:
        offset = 0
        for buffer in self.buffers:
            buffer.offset = offset
            offset = _align(offset + buffer.size)


@dataclass
class MemoryPlan:
    """Where every activation tensor lives in the arena, and what is live when."""

    arena_bytes: int
    buffers: list[Buffer]
    tensor_buffer: dict[int, Buffer]       # tensor index -> its buffer (aliases share one)
    num_steps: int
    planner: str = ""
    step_names: list[str] = field(default_factory=list)
    scratch: dict[int, Buffer] = field(default_factory=dict)   # layer index -> its scratch
    in_place: frozenset[int] = frozenset()   # layers whose output overwrites their input

    @property
    def scratch_bytes(self) -> int:
        """The largest scratch any one layer uses (they never live together)."""
        return max((b.size for b in self.scratch.values()), default=0)

    def offset(self, tensor_index: int) -> int:
        return self.tensor_buffer[tensor_index].offset

    def live_at(self, step: int) -> list[Buffer]:
        return [b for b in self.buffers if b.first_use <= step <= b.last_use]

    def live_bytes_at(self, step: int) -> int:
        return sum(b.size for b in self.live_at(step))

    def check(self) -> None:
        """Raise AssertionError if two buffers alive at the same step overlap in memory."""
        for i, a in enumerate(self.buffers):
            assert a.offset >= 0 and a.offset % ARENA_ALIGNMENT == 0, f"{a.name} misaligned"
            assert a.offset + a.size <= self.arena_bytes, f"{a.name} outside the arena"
            for b in self.buffers[i + 1:]:
                if a.lives_with(b):
                    assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset, (
                        f"{a.name} [{a.offset}, {a.offset + a.size}) overlaps "
                        f"{b.name} [{b.offset}, {b.offset + b.size}) while both are live")

    def __str__(self) -> str:
        width = 48
        scale = width / max(self.arena_bytes, 1)
        scratch = (f", scratch up to {self.scratch_bytes} bytes in {len(self.scratch)} layers"
                   if self.scratch else "")
        in_place = (f", {len(self.in_place)} layers write their output over their input "
                    f"({', '.join(str(i) for i in sorted(self.in_place))})"
                    if self.in_place else "")
        lines = [f"arena: {self.arena_bytes} bytes ({self.planner}), {len(self.buffers)} "
                 f"buffers{scratch}{in_place}",
                 f"{'buffer':<38} {'offset':>8} {'size':>8} {'steps':>9}  layout"]
        for b in sorted(self.buffers, key=lambda b: (b.offset, b.first_use)):
            start = int(b.offset * scale)
            bar = " " * start + "#" * max(1, int(b.size * scale))
            lines.append(f"{b.name[:38]:<38} {b.offset:>8} {b.size:>8} "
                         f"{b.first_use:>4}-{b.last_use:<4}  |{bar:<{width}}|")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{b.name}</td><td>{b.offset}</td><td>{b.size}</td>"
                       f"<td>{b.first_use}&ndash;{b.last_use}</td></tr>"
                       for b in sorted(self.buffers, key=lambda b: b.offset))
        return (f"<b>arena {self.arena_bytes} bytes</b> ({self.planner})<table><tr><th>buffer"
                f"</th><th>offset</th><th>size</th><th>steps</th></tr>{rows}</table>")


def plan_buffers(model: Model, needs: Sequence[LayerMemory] | None = None,
                 planner=None) -> MemoryPlan:
    """Plan every non-constant tensor of ``model``, and each layer's scratch, into one
    arena. ``needs`` has one LayerMemory per operator (default: no alias, no scratch)."""
    planner = planner or GreedyBySizePlanner()
    num_steps = len(model.operators)
    needs = list(needs) if needs is not None else [LayerMemory()] * num_steps

    # Resolve aliases: a reshape's output uses its input's storage; so does an in-place
    # output, if its input is neither the graph's (the host writes it once and may run
    # the model on it again) nor read by any later layer or after the run.
    root: dict[int, int] = {}
    in_place = set()
    reads_after: dict[int, int] = {}       # tensor -> the last step reading it
    for op in model.operators:
        for t in op.inputs:
            reads_after[t] = op.index
    for t in model.outputs:
        reads_after[t] = num_steps

    def overwritable(op, x: int) -> bool:
        if x < 0 or model.tensors[x].is_constant:
            return False
        r = root.get(x, x)
        sharing = [t for t in reads_after if root.get(t, t) == r]
        return (r not in model.inputs and not any(t in model.inputs for t in sharing)
                and all(reads_after[t] <= op.index for t in sharing)
                and model.tensors[op.outputs[0]].nbytes <= model.tensors[x].nbytes)

    for op, need in zip(model.operators, needs):
        x = op.inputs[0] if op.inputs else -1
        if need.aliases_input and x >= 0 and not model.tensors[x].is_constant:
            root[op.outputs[0]] = root.get(x, x)
        elif need.in_place:
            # the first input the output may take over (an element-wise op has two)
            x = next((t for t in op.inputs if overwritable(op, t)), -1)
            if x >= 0:
                root[op.outputs[0]] = root.get(x, x)
                in_place.add(op.index)

    first_use: dict[int, int] = {}
    last_use: dict[int, int] = {}

    def touch(tensor_index: int, step: int) -> None:
        if tensor_index < 0 or model.tensors[tensor_index].is_constant:
            return
        r = root.get(tensor_index, tensor_index)
        first_use[r] = min(first_use.get(r, step), step)
        last_use[r] = max(last_use.get(r, step), step)

    for t in model.inputs:
        touch(t, -1)
    for op in model.operators:
        for t in op.inputs + op.outputs:
            touch(t, op.index)
    for t in model.outputs:
        touch(t, num_steps)

    by_root = {}
    for r in sorted(first_use):
        tensor = model.tensors[r]
        members = [t for t, rt in root.items() if rt == r]
        size = max([tensor.nbytes] + [model.tensors[m].nbytes for m in members])
        by_root[r] = planner.add_buffer(tensor.name or f"t{r}", size, first_use[r], last_use[r])
    scratch_sizes = {op.index: need.scratch_bytes
                     + (need.in_place_scratch_bytes if op.index in in_place else 0)
                     for op, need in zip(model.operators, needs)}
    scratch = {index: planner.add_buffer(f"scratch of layer {index} {model.operators[index].opcode}",
                                         size, index, index)
               for index, size in scratch_sizes.items() if size}
    planner.plan()

    tensor_buffer = {r: b for r, b in by_root.items()}
    for t, r in root.items():
        tensor_buffer[t] = by_root[r]
    plan = MemoryPlan(arena_bytes=planner.arena_bytes,
                      buffers=list(by_root.values()) + list(scratch.values()),
                      tensor_buffer=tensor_buffer, num_steps=num_steps, planner=planner.name,
                      step_names=[op.opcode for op in model.operators], scratch=scratch,
                      in_place=frozenset(in_place))
    plan.check()
    return plan
