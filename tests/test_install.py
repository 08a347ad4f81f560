"""`pip install .` and `pip install -e .` both give a working `tinyflow`."""

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, mlperf_model


def _venv(path: Path) -> Path:
    # --system-site-packages: reuse numpy & co. from the interpreter to keep this quick.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(path)], check=True)
    return path / "bin"


@pytest.mark.slow
@pytest.mark.parametrize("editable", [False, True], ids=["wheel", "editable"])
def test_pip_install_gives_a_working_cli(tmp_path, editable):
    bin_dir = _venv(tmp_path / "venv")
    target = ["-e", str(REPO)] if editable else [str(REPO)]
    subprocess.run([str(bin_dir / "pip"), "install", "-q", *target], check=True, cwd=tmp_path)
    version = subprocess.run([str(bin_dir / "tinyflow"), "--version"], capture_output=True,
                             text=True, check=True, cwd=tmp_path)
    assert version.stdout.startswith("tinyflow ")
    # Templates ship with the package: code generation works from anywhere.
    out = tmp_path / "lib"
    subprocess.run([str(bin_dir / "tinyflow"), "codegen", str(mlperf_model("ad01_int8")),
                    "-o", str(out)], check=True, cwd=tmp_path, capture_output=True)
    assert (out / "tinyflow_model.c").stat().st_size > 0
    where = subprocess.run([str(bin_dir / "python"), "-c",
                            "import tinyflow.codegen, sys; print(tinyflow.codegen.__file__)"],
                           capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert (str(REPO) in where) == editable, where
