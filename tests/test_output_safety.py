"""Output paths never hurt the user's data: a bad --prefix is a usage error, a folder
tinyflow did not write is refused (or, with --force, kept), a file is not a folder, and
output files are checked before the long work starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import mlperf_model
from tinyflow.cli import main

MODEL = str(mlperf_model("ad01_int8"))


def user_folder(path: Path) -> Path:
    """A folder of the user's: two files tinyflow must never delete or change."""
    path.mkdir()
    (path / "notes.txt").write_text("my notes\n")
    (path / "manifest.json").write_text('{"name": "my own manifest"}\n')
    return path


def assert_user_files_intact(path: Path) -> None:
    assert (path / "notes.txt").read_text() == "my notes\n"
    assert json.loads((path / "manifest.json").read_text()) == {"name": "my own manifest"}


def assert_no_staging_left(parent: Path) -> None:
    assert not [p.name for p in parent.iterdir() if p.name.startswith(".")]


def one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"tinyflow {command}: error: ") and "\n" not in err, err
    return err


@pytest.mark.parametrize("prefix", ["1model", "int", "my-model", "x;y", "", "caf\u00e9"])
def test_prefix_must_be_a_c_identifier(prefix, tmp_path, capsys):
    assert main(["codegen", MODEL, "-o", str(tmp_path / "out"), "--prefix", prefix]) == 2
    assert repr(prefix) in one_line_error(capsys, "codegen")
    assert not (tmp_path / "out").exists()


def test_codegen_refuses_a_folder_it_did_not_write(tmp_path, capsys):
    folder = user_folder(tmp_path / "mine")
    assert main(["codegen", MODEL, "-o", str(folder)]) == 1
    assert "--force" in one_line_error(capsys, "codegen")
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "notes.txt"]
    assert_user_files_intact(folder)
    assert_no_staging_left(tmp_path)


def test_codegen_force_writes_into_the_folder_and_keeps_other_files(tmp_path):
    folder = user_folder(tmp_path / "mine")
    assert main(["codegen", MODEL, "-o", str(folder), "--force"]) == 0
    assert (folder / "notes.txt").read_text() == "my notes\n"
    assert (folder / "tinyflow_model.c").exists()
    assert json.loads((folder / "manifest.json").read_text())["manifest_version"] >= 1
    assert_no_staging_left(tmp_path)


def test_codegen_replaces_its_own_output_and_fills_an_empty_folder(tmp_path):
    folder = tmp_path / "lib"
    folder.mkdir()
    assert main(["codegen", MODEL, "-o", str(folder), "--prefix", "first"]) == 0
    assert (folder / "first_model.c").exists()
    assert main(["codegen", MODEL, "-o", str(folder), "--prefix", "second"]) == 0
    assert (folder / "second_model.c").exists() and not (folder / "first_model.c").exists()
    assert_no_staging_left(tmp_path)


def test_codegen_output_that_is_a_file_is_an_error(tmp_path, capsys):
    target = tmp_path / "model.c"
    target.write_text("int main(void) { return 0; }\n")
    assert main(["codegen", MODEL, "-o", str(target)]) == 1
    assert "is a file, not a directory" in one_line_error(capsys, "codegen")
    assert target.read_text() == "int main(void) { return 0; }\n"
    assert_no_staging_left(tmp_path)


def test_build_refuses_a_folder_of_other_files(tmp_path, capsys):
    folder = user_folder(tmp_path / "mine")
    assert main(["build", MODEL, "--board", "host", "-o", str(folder)]) == 1
    assert "--force" in one_line_error(capsys, "build")
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "notes.txt"]
    assert_user_files_intact(folder)

    assert main(["build", MODEL, "--board", "host", "-o", str(folder), "--force"]) == 0
    assert (folder / "notes.txt").read_text() == "my notes\n"
    assert (folder / "firmware.elf").exists() and (folder / "build.json").exists()
    assert_no_staging_left(tmp_path)


def test_build_replaces_an_earlier_build(tmp_path):
    folder = tmp_path / "fw"
    assert main(["build", MODEL, "--board", "host", "-o", str(folder)]) == 0
    assert main(["build", MODEL, "--board", "native", "-o", str(folder)]) == 0
    record = json.loads((folder / "build.json").read_text())
    assert record["board"] == "native" and record["directory"] == str(folder)
    assert "batch_main.c" not in {p.name for p in folder.iterdir()}   # host's file is gone
    assert_no_staging_left(tmp_path)


def test_build_output_that_is_a_file_is_an_error(tmp_path, capsys):
    target = tmp_path / "firmware.elf"
    target.write_bytes(b"mine")
    assert main(["build", MODEL, "--board", "host", "-o", str(target)]) == 1
    assert "is a file, not a directory" in one_line_error(capsys, "build")
    assert target.read_bytes() == b"mine"
    assert_no_staging_left(tmp_path)


# The inputs file does not exist: the output check must come first to be seen.
@pytest.mark.parametrize("command", [
    ["infer", MODEL, "--inputs", "missing.npy", "--outputs"],
    ["measure", MODEL, "--board", "native", "--inputs", "missing.npy", "--json"],
])
def test_output_files_are_checked_before_the_work(command, tmp_path, capsys):
    assert main(command + [str(tmp_path)]) == 1
    assert "is a directory" in one_line_error(capsys, command[0])

    missing = tmp_path / "no" / "such" / "folder" / "out.npy"
    assert main(command + [str(missing)]) == 1
    assert "does not exist" in one_line_error(capsys, command[0])
    assert not (tmp_path / "no").exists()
