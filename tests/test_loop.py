"""The closed loop: project files, trials trained, compressed, profiled and measured on
the emulated board, failures recorded, resumed studies, the CLI and its JSON."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from tinyflow.cli import main
from tinyflow.errors import InputError
from tinyflow.project import load_project

REPO = Path(__file__).resolve().parent.parent

# A quick project: digits, a few epochs, a small device sample. The budget is one
# that the narrow model meets and the wide one misses (RAM: the firmware reserves a
# 16 KiB stack on this board, plus the arena).
PROJECT = """
[project]
name = "quick"
builder = "model:build"
dataset = "digits"
board = "qemu-cortex-m4"

[budget]
ram = "20KiB"
flash = "64KiB"

[train]
epochs = 8
batch_size = 32
seed = 0

[compress]
quantization = "ptq"
prune = 0.0

[search]
trials = 2
device_samples = 40

[search.space]
filters = [16]
width = [0.5, 1.0]
"""


def write_project(folder: Path, text: str = PROJECT, model: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tinyflow.toml").write_text(textwrap.dedent(text))
    if model is None:
        shutil.copy(REPO / "examples" / "digits" / "model.py", folder / "model.py")
    else:
        (folder / "model.py").write_text(textwrap.dedent(model))
    return folder / "tinyflow.toml"


def test_project_file_problems_are_listed_at_once(tmp_path):
    path = write_project(tmp_path, """
        [project]
        dataset = 3

        [compress]
        quantization = "int4"
        prune = 1.5

        [search]
        trials = 0

        [search.space]
        width = []
        """)
    with pytest.raises(InputError) as error:
        load_project(path)
    message = str(error.value)
    for expected in ("[project] builder is required", "[project] dataset is required",
                     "quantization ['int4']", "prune [1.5]", "[search] trials",
                     "[search.space] width: an empty list"):
        assert expected in message, (expected, message)
    assert "\n" not in message


def test_project_file_unknown_keys_and_bad_toml(tmp_path):
    path = write_project(tmp_path, "[project]\nbuilder = 'model:build'\ndataset = 'digits'\n"
                                   "colour = 'red'\n[serch]\n")
    with pytest.raises(InputError, match=r"unknown key\(s\) colour; unknown section \[serch\]"):
        load_project(path)
    (tmp_path / "tinyflow.toml").write_text("[project\n")
    with pytest.raises(InputError, match="not valid TOML"):
        load_project(tmp_path)


def test_project_file_reads_the_example():
    project = load_project(REPO / "examples" / "digits")
    assert project.builder == "model:build" and project.board == "qemu-cortex-m4"
    assert project.budget.ram_bytes == 20 * 1024 and project.budget.flash_bytes == 26 * 1024
    names = [p.name for p in project.parameters()]
    assert names == ["filters", "width", "quantization", "prune"]


def test_unreachable_storage_is_one_clear_error(tmp_path, capsys):
    path = write_project(tmp_path)
    code = main(["loop", str(path), "--storage", "postgresql://nobody:secret@127.0.0.1:9/none"])
    err = capsys.readouterr().err
    assert code == 1
    assert "study storage postgresql://nobody:***@127.0.0.1:9/none: cannot open it" in err
    assert "secret" not in err and "Traceback" not in err


def test_json_output_path_is_checked_before_any_work(tmp_path, capsys):
    path = write_project(tmp_path)
    code = main(["loop", str(path), "--json", str(tmp_path / "missing" / "out.json")])
    assert code == 1
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_loop_trains_compresses_and_measures_on_the_device(tmp_path, capsys):
    """Two trials on qemu-cortex-m4: each trained, quantized, profiled and, within
    reach of the budget, measured on the device, whose outputs equal the host's int8
    outputs byte for byte, so its accuracy equals the host's on the same samples."""
    path = write_project(tmp_path / "quick")
    out = tmp_path / "loop.json"
    code = main(["loop", str(path), "--json", str(out)])
    printed = capsys.readouterr()
    report = json.loads(out.read_text())
    assert len(report["trials"]) == 2
    for trial in report["trials"]:
        assert trial["state"] == "complete", trial["error"]
        assert Path(trial["model"]).is_file()
        assert 0.5 < trial["accuracy_float"] <= 1 and 0.5 < trial["accuracy_int8"] <= 1
        assert trial["latency"]["unit"] == "instructions"
        assert trial["ram_bytes"] > 0 and trial["flash_bytes"] > 0
    measured = [t for t in report["trials"] if t["on_device"]]
    assert measured, "no trial was measured on the device"
    for trial in measured:
        assert trial["latency"]["source"] == "measured"
        assert trial["latency_measured"] == trial["latency"]["value"]
    # Device accuracy equals host int8 accuracy exactly (the outputs are byte-equal).
    from tinyflow.loop import LoopResult
    from tinyflow.project import load_project as load

    import optuna
    study = optuna.load_study(study_name="quick", storage=f"sqlite:///{tmp_path}/quick/loop.db")
    records = LoopResult.from_study(load(path), study).trials
    for record in records:
        if record.on_device:
            assert record.accuracy_device == record.accuracy_int8_device_samples
    widest = max(report["trials"], key=lambda t: t["params"]["width"])
    narrowest = min(report["trials"], key=lambda t: t["params"]["width"])
    assert widest["macs"] > narrowest["macs"]
    assert code == (0 if report["best"] else 1)
    assert "params" in printed.out and "budget" in printed.out

    # Resume: the study holds two trials; asking for three runs exactly one more.
    assert main(["loop", str(path), "--trials", "3", "--json", str(out)]) in (0, 1)
    assert len(json.loads(out.read_text())["trials"]) == 3


@pytest.mark.slow
def test_a_failing_trial_is_recorded_and_the_search_goes_on(tmp_path):
    """A builder that fails for one width: that trial is recorded as failed with its
    error; the other completes."""
    from tinyflow.loop import run_loop

    model = (REPO / "examples" / "digits" / "model.py").read_text() + textwrap.dedent("""

        def flaky(input_shape, num_classes, filters=8, width=1.0):
            if width > 0.75:
                raise RuntimeError("this width is not buildable")
            return build(input_shape, num_classes, filters=filters, width=width)
        """)
    path = write_project(tmp_path, PROJECT.replace("model:build", "model:flaky"), model=model)
    project = load_project(path)
    project.reach = 0.0          # never measure on the device: this test is about failures
    result = run_loop(project, trials=2)
    states = {r.params["width"]: r for r in result.trials}
    assert states[1.0].state == "failed"
    assert "model builder flaky(filters=16, width=1.0) failed: RuntimeError: this width is " \
           "not buildable" in states[1.0].error
    assert states[0.5].state == "complete" and not states[0.5].on_device
    assert "FAILED" in str(result)


def test_a_model_that_does_not_fit_the_dataset_is_a_clear_error():
    """A builder whose model takes another input shape, or has another number of
    classes, is named with both shapes."""
    import keras

    from tinyflow.datasets import digits
    from tinyflow.training import build_model

    def wrong_input(input_shape, num_classes):
        inputs = keras.Input((28, 28, 1))
        return keras.Model(inputs, keras.layers.Dense(num_classes)(keras.layers.Flatten()(inputs)))

    def wrong_classes(input_shape, num_classes):
        inputs = keras.Input(input_shape)
        return keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))

    data = digits()
    with pytest.raises(InputError, match=r"wrong_input: the model takes inputs of shape "
                                         r"\(28, 28, 1\), the dataset digits has samples of "
                                         r"shape \(8, 8, 1\)"):
        build_model(wrong_input, data)
    with pytest.raises(InputError, match="wrong_classes: the model has 3 outputs, the dataset "
                                         "digits has 10 classes"):
        build_model(wrong_classes, data)


def test_loop_html_draws_the_front_the_budget_and_every_trial(tmp_path):
    """The notebook view: accuracy against latency and against RAM with the budget
    drawn in, the best trial marked, one table row per trial (failures included)."""
    from tinyflow.loop import LoopResult, TrialRecord

    project = load_project(write_project(tmp_path))
    records = [
        TrialRecord(number=0, params={"width": 0.5}, state="complete", accuracy_int8=0.93,
                    latency={"value": 120_000, "unit": "instructions", "seconds": 0.0048,
                             "source": "measured"}, ram_bytes=18_000, flash_bytes=20_000,
                    budget_pass=True, accuracy_device=0.94, on_device=True),
        TrialRecord(number=1, params={"width": 1.0}, state="complete", accuracy_int8=0.97,
                    latency={"value": 300_000, "unit": "instructions", "seconds": 0.012,
                             "source": "estimated"}, ram_bytes=22_000, flash_bytes=30_000,
                    budget_pass=False),
        TrialRecord(number=2, params={"width": 0.75}, state="failed",
                    error="model builder failed: boom"),
    ]
    result = LoopResult(project, records)
    page = result._repr_html_()
    assert page.count("<svg") == 2 and page.count('class="budget"') == 1   # RAM budget only
    assert 'class="best"' in page and "trial 0: 94.0%" in page
    assert "failed: model builder failed: boom" in page
    assert result.best.number == 0 and [r.number for r in result.pareto] == [0, 1]
    assert repr(result) == "LoopResult(quick on qemu-cortex-m4: 3 trials, best trial 0)"
    data = result.to_dict()
    assert data["best"]["number"] == 0 and data["pareto"] == [0, 1]
    assert {"number", "params", "accuracy_float", "accuracy_int8", "accuracy_device", "latency",
            "ram_bytes", "flash_bytes", "budget_pass", "model"} <= set(data["trials"][0])


def test_resolution_resizes_the_dataset_not_the_builder():
    from tinyflow.datasets import digits

    data = digits()
    smaller = data.resized(0.75)
    assert smaller.input_shape == (6, 6, 1) and smaller.x_train.shape[1:] == (6, 6, 1)
    assert len(smaller.x_test) == len(data.x_test) and smaller.name == "digits@6x6"
    assert data.resized(1.0) is data


@pytest.mark.slow
def test_input_resolution_is_a_search_knob(tmp_path):
    """`resolution` in the search space scales the input; the builder sees the new
    shape, and fewer pixels mean fewer MACs."""
    from tinyflow.loop import run_loop

    text = PROJECT.replace("filters = [16]\nwidth = [0.5, 1.0]",
                           "filters = [16]\nwidth = [0.5]\nresolution = [0.75, 1.0]")
    project = load_project(write_project(tmp_path, text))
    project.reach = 0.0           # estimates only: this test is about the search space
    result = run_loop(project, trials=2)
    by_resolution = {r.params["resolution"]: r for r in result.trials}
    assert all(r.state == "complete" for r in result.trials), [r.error for r in result.trials]
    assert by_resolution[0.75].macs < by_resolution[1.0].macs
