"""A model file is untrusted input: the names in it (tensors, the model's own name)
reach generated C only as comment text or escaped string literals, never as code."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import mlperf_model, random_inputs
from tinyflow.codegen.generator import generate
from tinyflow.codegen.ir import load_model
from tinyflow.firmware.build import build_firmware, library_cflags
from tinyflow.firmware.host import compile_host

# Ends a comment, includes a file, redefines the model's entry point, closes a string,
# splices lines (a backslash, and '??/' which is one under -std=c99's trigraphs).
HOSTILE = ('x */ #include "/etc/passwd" /* \n#define tinyflow_invoke abort\n "quote" '
           '\\ back ??/\n??= \u00e9 */')

STRICT_CFLAGS = library_cflags("host") + ["-pedantic-errors"]


def renamed(model_bytes: bytes, name: str) -> bytes:
    """The model with every tensor, subgraph and its description named ``name``."""
    schema = pytest.importorskip(
        "tflite_micro.tensorflow.lite.micro.python.schema_py_generated")
    import flatbuffers

    model = schema.ModelT.InitFromPackedBuf(model_bytes)
    for subgraph in model.subgraphs:
        subgraph.name = name.encode()
        for index, tensor in enumerate(subgraph.tensors):
            tensor.name = f"{name} {index}".encode()
    model.description = name.encode()
    builder = flatbuffers.Builder(len(model_bytes))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.fixture(scope="module")
def models():
    """(the original ad01 model, the same model with hostile names everywhere)."""
    original = mlperf_model("ad01_int8").read_bytes()
    hostile = load_model(renamed(original, HOSTILE), name=HOSTILE)
    assert hostile.tensors[0].name.startswith(HOSTILE) and HOSTILE in hostile.description
    return load_model(original, name="ad01_int8"), hostile


def code_without_comments(path: Path) -> list[str]:
    """The C of a file with its comments removed (macros not expanded), as tokens."""
    stripped = subprocess.run(["gcc", "-std=c99", "-fpreprocessed", "-dD", "-E", "-P",
                               str(path)], capture_output=True, text=True, check=True)
    return stripped.stdout.split()


def test_hostile_names_change_only_comments_and_strings(models, tmp_path):
    original, hostile = models
    plain = generate(original).write(tmp_path / "plain")
    attacked = generate(hostile).write(tmp_path / "hostile")
    for name in sorted(p.name for p in attacked.iterdir()):
        text = (attacked / name).read_text()
        assert HOSTILE not in text, name
        lines = [line.lstrip() for line in text.splitlines()]
        assert not any(line.startswith(("#define tinyflow", '#include "/')) for line in lines)
        if name.endswith((".c", ".h")):
            assert code_without_comments(attacked / name) == \
                code_without_comments(plain / name), name

    # Compiles under the strictest flags: no warning about a '/*' inside a comment,
    # no stray token, no trigraph.
    for source in ("tinyflow_model.c", "tinyflow_weights.c"):
        subprocess.run(["gcc", *STRICT_CFLAGS, "-c", str(attacked / source),
                        "-o", str(tmp_path / (source + ".o"))], check=True)

    inputs = random_inputs(original, 8, seed=3)
    ours = compile_host(hostile).run(inputs)
    expected = compile_host(original).run(inputs)
    assert [o.tobytes() for o in ours] == [e.tobytes() for e in expected]


def test_protocol_firmware_with_a_hostile_model_name(models, tmp_path, monkeypatch):
    monkeypatch.setenv("TINYFLOW_CACHE", str(tmp_path / "cache"))
    _, hostile = models
    firmware = build_firmware(hostile, "native")
    # The name's '/' and newlines do not reach the cache path.
    assert firmware.directory.parent.parent.parent == tmp_path / "cache"
    for path in firmware.directory.iterdir():
        if path.suffix in (".c", ".h", ".ld", ".json"):
            assert HOSTILE not in path.read_text(), path.name

    # The firmware's TF_MODEL_NAME string holds exactly the model's name.
    program = tmp_path / "print_name.c"
    program.write_text('#include <stdio.h>\n#include "tf_model_info.h"\n'
                       "int main(void) { fputs(TF_MODEL_NAME, stdout); return 0; }\n")
    subprocess.run(["gcc", *STRICT_CFLAGS, "-I", str(firmware.directory), str(program),
                    "-o", str(tmp_path / "print_name")], check=True)
    printed = subprocess.run([str(tmp_path / "print_name")], capture_output=True, check=True)
    assert printed.stdout == HOSTILE.encode()


def test_filters_keep_comments_closed_and_strings_exact():
    from tinyflow.common import c_comment, c_string

    for text in (HOSTILE, "/*/", "**//", "???/", "a\x00b\tc", "\u00e9"):
        comment = c_comment(text)
        assert "*/" not in comment and "/*" not in comment and "??" not in comment
        assert comment.isascii() and comment.isprintable()
        literal = c_string(text)
        assert "??" not in literal and literal.isascii() and literal.isprintable()
    assert c_string('say "hi"\\\n') == r'say \"hi\"\\\012'
    # Ordinary names come out unchanged: generated code stays as it was.
    assert c_comment("input_1") == "input_1" and c_string("CONV_2D") == "CONV_2D"
