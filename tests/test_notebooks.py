"""The example notebooks: committed without outputs, and run from start to end.

Each notebook is run as a user would run it, in the kernel ``python3`` with its folder
as the working directory; but the folder is a copy in a temporary directory, so that
nothing (the loop's study, its models) is written into the repository, and the
notebook's first code cell, its settings, is replaced with small values.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = {
    "digits": REPO / "examples" / "digits" / "digits.ipynb",
    "keywords": REPO / "examples" / "keywords" / "keywords.ipynb",
}
CELL_TIMEOUT = 300          # seconds; a cell that takes longer is stuck

# Small values for each notebook's settings: a few epochs, one trial, a few samples.
# {tmp} becomes the test's temporary directory.
QUICK_SETTINGS = {
    "digits": dict(EPOCHS=3, DEVICE_SAMPLES=20, TRIALS=1,
                   STORAGE="sqlite:///{tmp}/loop.db"),
    "keywords": dict(SAMPLES_PER_WORD=20, EPOCHS=3, DEVICE_SAMPLES=20, TRIALS=1,
                     STORAGE="sqlite:///{tmp}/loop.db"),
}


def settings_cell(notebook) -> nbformat.NotebookNode:
    """The first code cell: the notebook's settings."""
    return next(cell for cell in notebook.cells if cell.cell_type == "code")


def assigned_names(source: str) -> list[str]:
    """The names a cell of plain assignments sets, in order."""
    tree = ast.parse(source)
    assert all(isinstance(node, ast.Assign) for node in tree.body), \
        "the settings cell must hold plain assignments only"
    return [target.id for node in tree.body for target in node.targets]


def outputs_text(cell) -> str:
    """Everything a cell showed: streams, results and displays (text and HTML)."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts += [output.data.get("text/plain", ""), output.data.get("text/html", "")]
    return "\n".join(parts)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_committed_without_outputs(name):
    notebook = nbformat.read(NOTEBOOKS[name], as_version=4)
    nbformat.validate(notebook)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name} cell {index} has outputs"
            assert cell.execution_count is None, f"{name} cell {index} has an execution count"
    # The test replaces exactly the settings the notebook has.
    assert assigned_names(settings_cell(notebook).source) == list(QUICK_SETTINGS[name])
    assert "tests/test_notebooks.py" in settings_cell(notebook).source, \
        "the settings cell should say that the tests replace it"


def copy_example(name: str, tmp_path: Path) -> Path:
    """A copy of the example's folder (without what a run of it left behind)."""
    folder = tmp_path / name
    shutil.copytree(NOTEBOOKS[name].parent, folder,
                    ignore=shutil.ignore_patterns("__pycache__", "loop-models", "loop.db*",
                                                  ".ipynb_checkpoints"))
    return folder


def test_keywords_project_and_model(tmp_path):
    """The keywords example's project file reads, and its builder makes DS-CNNs of the
    dataset's input and classes over the whole search space."""
    from tinyflow.project import load_project
    from tinyflow.training import load_builder

    # From a copy: importing model.py may leave a __pycache__ beside it.
    project = load_project(copy_example("keywords", tmp_path))
    assert project.dataset == "keywords" and project.board == "qemu-cortex-m4"
    assert [p.name for p in project.parameters()] == ["filters", "width", "prune"]
    build = load_builder(project.builder, project.directory)
    space = {p.name: p for p in project.parameters()}
    for filters, width in ((space["filters"].low, min(space["width"].choices)),
                           (space["filters"].high, max(space["width"].choices))):
        model = build((49, 10, 1), 7, filters=filters, width=width)
        assert tuple(model.inputs[0].shape) == (None, 49, 10, 1)
        assert tuple(model.outputs[0].shape) == (None, 7)
        kinds = {type(layer).__name__ for layer in model.layers}
        assert {"Conv2D", "DepthwiseConv2D", "BatchNormalization", "ReLU",
                "GlobalAveragePooling2D", "Dense"} <= kinds


def run_notebook(name: str, tmp_path: Path) -> list[str]:
    """Run the notebook in a copy of its folder; returns each cell's outputs as text."""
    from nbclient import NotebookClient

    source_folder = NOTEBOOKS[name].parent
    before = sorted(p.relative_to(source_folder) for p in source_folder.rglob("*"))
    folder = copy_example(name, tmp_path)
    notebook = nbformat.read(folder / NOTEBOOKS[name].name, as_version=4)
    settings = {key: value.format(tmp=tmp_path) if isinstance(value, str) else value
                for key, value in QUICK_SETTINGS[name].items()}
    settings_cell(notebook).source = "\n".join(f"{key} = {value!r}"
                                               for key, value in settings.items())
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}})
    client.execute()         # raises CellExecutionError, with the traceback, if a cell fails
    after = sorted(p.relative_to(source_folder) for p in source_folder.rglob("*"))
    assert after == before, "running the notebook wrote into the repository"
    # The loop kept its study where the settings said, its trial models in the copy.
    assert (tmp_path / "loop.db").is_file()
    assert list((folder / "loop-models").glob("*.tflite"))
    return [outputs_text(cell) for cell in notebook.cells if cell.cell_type == "code"]


def assert_shown(name: str, outputs: list[str], *expected: str) -> None:
    """The outputs every notebook shows, and ``expected``."""
    text = "\n".join(outputs)
    for piece in ("test accuracy: float", "bit-exact with TFLM (20 inputs)",
                  "the device's outputs are bit-exact with the host's",
                  "nrf52840dk (emulated on nrf52840dk@qemu-cortex-m4)", "at 64 MHz",
                  f"<b>{name}</b> on qemu-cortex-m4: 1 trials", *expected):
        assert piece in text, f"{piece!r} is not in the notebook's outputs"
    latency = re.search(r"measured latency: ([\d,]+) instructions \(([\d.]+) ms at 25 MHz\)",
                        text)
    assert latency and int(latency[1].replace(",", "")) > 0, "no measured latency"
    assert "FAILED" not in text, "a trial of the loop failed"


@pytest.mark.slow
def test_digits_notebook_runs(tmp_path):
    outputs = run_notebook("digits", tmp_path)
    assert_shown("digits", outputs, "train/val/test 1259/269/269")


@pytest.mark.slow
def test_keywords_notebook_runs(tmp_path):
    outputs = run_notebook("keywords", tmp_path)
    assert_shown("keywords", outputs, "input (49, 10, 1), 7 classes", "silence")
