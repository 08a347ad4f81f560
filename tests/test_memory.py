"""The static memory planner: no two live buffers overlap, reshape is free, reuse works."""

import numpy as np
import pytest

from conftest import MLPERF_MODELS, mlperf_model
from tinyflow.codegen.ir import load_model
from tinyflow.codegen import plan_memory
from tinyflow.codegen.memory import GreedyBySizePlanner, LinearPlanner


def test_greedy_planner_reuses_space_of_dead_buffers():
    planner = GreedyBySizePlanner()
    a = planner.add_buffer("a", 100, 0, 1)
    b = planner.add_buffer("b", 100, 1, 2)
    c = planner.add_buffer("c", 100, 2, 3)   # a is dead by now: c may take its place
    planner.plan()
    assert a.offset != b.offset and b.offset != c.offset
    assert c.offset == a.offset
    assert planner.arena_bytes == 224          # two slots, the second 16-byte aligned


def test_overlap_check_catches_a_bad_plan():
    model = load_model(mlperf_model("kws_ref_model"))
    plan = plan_memory(model)
    live_together = [(x, y) for x in plan.buffers for y in plan.buffers
                     if x is not y and x.lives_with(y)]
    first, second = live_together[0]
    second.offset = first.offset
    with pytest.raises(AssertionError, match="overlaps"):
        plan.check()


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_plans_are_valid_and_beat_no_reuse(name):
    model = load_model(mlperf_model(name))
    plan = plan_memory(model)
    plan.check()
    baseline = plan_memory(model, LinearPlanner())
    baseline.check()
    assert plan.arena_bytes < baseline.arena_bytes
    # The peak of live bytes at any step is a lower bound for any plan.
    assert plan.arena_bytes >= max(plan.live_bytes_at(s) for s in range(plan.num_steps))


def test_reshape_output_aliases_its_input():
    model = load_model(mlperf_model("kws_ref_model"))
    reshape = next(op for op in model.operators if op.opcode == "RESHAPE")
    plan = plan_memory(model)
    assert plan.tensor_buffer[reshape.inputs[0]] is plan.tensor_buffer[reshape.outputs[0]]


def test_live_set_and_printable_plan():
    model = load_model(mlperf_model("ad01_int8"))
    plan = plan_memory(model)
    # During the first layer the input (640 B) and its output (128 B) are live; it needs
    # no scratch (one int8 row against packed weights).
    assert plan.live_bytes_at(0) == 640 + 128
    text = str(plan)
    assert f"arena: {plan.arena_bytes} bytes" in text and "input_1" in text
    assert "<table>" in plan._repr_html_()


def test_every_output_of_a_multi_output_op_gets_its_own_buffer():
    """SPLIT writes three outputs at one step: each is planned (the one nothing reads
    too: the kernel still writes it), none overlaps another or the input."""
    from tinyflow.codegen.generator import generate
    from tinyflow.codegen.ir import Model, Operator, Quantization, Tensor

    def int8(index, shape):
        return Tensor(index, f"t{index}", shape, "int8", Quantization((0.5,), (0,)))

    axis = Tensor(1, "axis", (), "int32", data=np.array(2, dtype=np.int32))
    tensors = [int8(0, (1, 4, 6)), axis, int8(2, (1, 4, 2)), int8(3, (1, 4, 2)),
               int8(4, (1, 4, 2)), int8(5, (1, 4, 4))]
    ops = [Operator(0, "SPLIT", (1, 0), (2, 3, 4), {"num_splits": 3}),
           Operator(1, "CONCATENATION", (4, 2), (5,), {"axis": 2,
                                                      "fused_activation_function": "NONE"})]
    model = Model("split", tensors, ops, (0,), (5,))
    generated = generate(model)
    plan = generated.plan
    plan.check()
    buffers = [plan.tensor_buffer[t] for t in (0, 2, 3, 4)]
    assert len({id(b) for b in buffers}) == 4
    assert all(b.first_use <= 0 <= b.last_use for b in buffers)
    assert plan.tensor_buffer[3].last_use == 0          # unread, alive while SPLIT writes it
    code = generated.files["tinyflow_model.c"]
    for t in (2, 3, 4):                                  # the kernel writes all three
        assert f"(arena + {plan.offset(t)})" in code


def _chain(ops_shapes, read_later=None):
    """A model of one-input ops on int8 tensors t0 -> t1 -> ...: ``ops_shapes`` lists each
    op's output shape; ``read_later``: (tensor, step) also read by an ADD at the end."""
    from tinyflow.codegen.ir import Model, Operator, Quantization, Tensor

    def int8(index, shape):
        return Tensor(index, f"t{index}", shape, "int8", Quantization((0.5,), (0,)))

    tensors = [int8(0, (1, 4, 4, 8))] + [int8(i + 1, s) for i, s in enumerate(ops_shapes)]
    ops = [Operator(i, "OP", (i,), (i + 1,)) for i in range(len(ops_shapes))]
    outputs = (len(tensors) - 1,)
    if read_later is not None:
        last = len(tensors) - 1
        tensors.append(int8(last + 1, tensors[last].shape))
        ops.append(Operator(len(ops), "ADD", (last, read_later), (last + 1,)))
        outputs = (last + 1,)
    return Model("chain", tensors, ops, (0,), outputs)


def test_in_place_outputs_take_over_their_input_only_when_nothing_reads_it_later():
    from tinyflow.codegen.memory import LayerMemory, plan_buffers

    model = _chain([(1, 4, 4, 8), (1, 4, 4, 8), (1, 4, 4, 4), (1, 4, 4, 8)])
    needs = [LayerMemory(in_place=True, in_place_scratch_bytes=64)] * 4 + [LayerMemory()]
    plan = plan_buffers(model, needs[:4])
    plan.check()
    # op 0 reads the graph's input (the host may run the model on it again): a copy;
    # ops 1 and 2 overwrite their inputs (2 narrows); op 3 would widen: a buffer of its own.
    assert plan.in_place == {1, 2}
    assert plan.tensor_buffer[1] is plan.tensor_buffer[2] is plan.tensor_buffer[3]
    assert plan.tensor_buffer[4] is not plan.tensor_buffer[3]
    # in-place scratch only where the layer is in place
    assert sorted(plan.scratch) == [1, 2] and all(b.size == 64 for b in plan.scratch.values())

    # t2 is read again by a later ADD: op 2 must not overwrite it
    model = _chain([(1, 4, 4, 8), (1, 4, 4, 8), (1, 4, 4, 8)], read_later=2)
    plan = plan_buffers(model, [LayerMemory(in_place=True)] * 3 + [LayerMemory()])
    plan.check()
    assert plan.in_place == {1}
