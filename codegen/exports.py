"""The generated library laid out for a build system: a make fragment (the default), a
CMake target, a Zephyr module, an Arduino library or a PlatformIO library.

``generate()`` renders the library once (C sources, headers, manifest); a format only
decides where those files go and which build files come with them. What each format
needs is here and in ``export_templates/<format>/``; nothing else in tinyflow knows it.

Text from the model file (its name) is untrusted. It reaches each build file only
through the filter of that file's language: ``text_line`` for comments and
``library.properties`` values (one line of printable ASCII), ``cmake_string``,
``kconfig_string``, ``json_string``; the example sketch uses the C filters.
"""

from __future__ import annotations

import hashlib
import json
import re

import tinyflow
from tinyflow.codegen.ops.base import C_TYPES
from tinyflow.common import template_environment
from tinyflow.errors import UsageError

FORMATS = ("make", "cmake", "zephyr", "arduino", "platformio")

# Where each format puts the library's sources and headers (relative to the output
# folder): Arduino and PlatformIO compile everything under src/, CMake and Zephyr
# name their sources in the CMakeLists beside them.
SOURCE_DIR = {"make": "", "cmake": "", "zephyr": "", "arduino": "src/", "platformio": "src/"}

# The longest model name carried into a build file (a comment, a description):
# PlatformIO's description and Arduino's sentence have limits, and a name is a label.
NAME_LIMIT = 120


def check_format(name: str) -> str:
    """``name`` if it is an export format, else UsageError listing the formats."""
    if name not in FORMATS:
        raise UsageError(f"format {name!r} is not one of {', '.join(FORMATS)}")
    return name


# --- filters: model text in each build file's language ------------------------------
def text_line(text, limit: int = NAME_LIMIT) -> str:
    """One line of printable ASCII (anything else becomes '?'), without surrounding
    spaces, at most ``limit`` characters: safe in a '#' comment of CMake, YAML and
    Kconfig, and as a value in library.properties (which has no escapes at all)."""
    line = "".join(ch if " " <= ch <= "~" else "?" for ch in str(text)).strip()
    return line if len(line) <= limit else line[:limit - 3] + "..."


def cmake_string(text) -> str:
    """The body of a CMake quoted argument: a backslash escapes '\\', '"' and '$' (no
    variable reference is expanded). A ';' stays: it splits no quoted argument, and
    CMake would keep a '\\;' as two characters."""
    return re.sub(r'([\\"$])', r"\\\1", text_line(text))


def kconfig_string(text) -> str:
    """The body of a Kconfig string: '\\' and '"' escaped; '$' (a macro reference
    Kconfig expands, with no escape for it) becomes '?'."""
    return re.sub(r'([\\"])', r"\\\1", text_line(text).replace("$", "?"))


def json_string(text) -> str:
    """A JSON string literal (quotes included), ASCII with escapes."""
    return json.dumps(str(text))


def package_name(prefix: str) -> str:
    """The library's name where registries want a slug (PlatformIO): lower case
    letters, digits and single dashes, e.g. 'tinyflow-model'."""
    return re.sub(r"[^a-z0-9]+", "-", f"{prefix}_model".lower()).strip("-")


_ENV = template_environment("tinyflow.codegen", "export_templates")
_ENV.filters.update(text_line=text_line, cmake_string=cmake_string,
                    kconfig_string=kconfig_string, json_string=json_string)

# format -> (template, output path); paths may use {prefix}.
_BUILD_FILES = {
    "make": [],
    "cmake": [("cmake/CMakeLists.txt.j2", "CMakeLists.txt")],
    "zephyr": [("zephyr/module.yml.j2", "zephyr/module.yml"),
               ("zephyr/CMakeLists.txt.j2", "CMakeLists.txt"),
               ("zephyr/Kconfig.j2", "Kconfig")],
    "arduino": [("arduino/library.properties.j2", "library.properties"),
                ("arduino/run_model.ino.j2", "examples/run_model/run_model.ino")],
    "platformio": [("platformio/library.json.j2", "library.json")],
}


def export_files(generated, format: str = "make") -> dict[str, str]:
    """The files of ``generated`` (a GeneratedCode) laid out for ``format``: path in
    the output folder -> text. ``make`` is the library as generated (with its make
    fragment); the others put the sources where their tool looks and add its build
    files. ``manifest.json`` stays at the top (it marks the folder as tinyflow's) and
    lists the files of this layout with their hashes."""
    check_format(format)
    if format == "make":
        return dict(generated.files)
    prefix = generated.prefix
    manifest = generated.manifest
    library = {name: text for name, text in generated.files.items()
               if name.endswith((".c", ".h"))}
    files = {SOURCE_DIR[format] + name: text for name, text in sorted(library.items())}
    context = dict(
        version=tinyflow.__version__, prefix=prefix, PREFIX=prefix.upper(),
        model_name=generated.model.name, model_sha256=generated.model.sha256,
        sources=sorted(name for name in library if name.endswith(".c")),
        header=f"{prefix}_model.h", package_name=package_name(prefix),
        inputs=manifest["inputs"], outputs=manifest["outputs"],
        ctypes=_io_ctypes(manifest))
    for template, path in _BUILD_FILES[format]:
        files[path] = _ENV.get_template(template).render(**context)
    manifest["format"] = format
    manifest["files"] = {path: hashlib.sha256(text.encode()).hexdigest()
                         for path, text in sorted(files.items())}
    files["manifest.json"] = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    return files


def _io_ctypes(manifest: dict) -> dict[str, str]:
    """dtype -> C type of the model's inputs and outputs (the sketch casts to them)."""
    return {io["dtype"]: C_TYPES.get(io["dtype"], "uint8_t")
            for io in manifest["inputs"] + manifest["outputs"]}
