"""What every stage shares: the cache directory, atomic file output, the Jinja setup.

Each helper exists once here so the stages cannot drift apart (one cache root,
one way to publish a file or a directory whole, one template configuration).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import jinja2


# --- the cache ---------------------------------------------------------------------
def cache_dir(*parts: str) -> Path:
    """A folder of tinyflow's cache: $TINYFLOW_CACHE, else $XDG_CACHE_HOME/tinyflow,
    else ~/.cache/tinyflow; ``parts`` name a subfolder (not created here)."""
    root = os.environ.get("TINYFLOW_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "tinyflow")
    return Path(root).joinpath(*parts)


# --- atomic output -----------------------------------------------------------------
def publish_file(path: str | Path, data: str | bytes | None = None, *, write=None) -> Path:
    """Write ``path`` whole or not at all: the content goes to a temporary file in the
    same folder, which then replaces ``path`` in one rename. Give the content as
    ``data``, or as ``write(temporary_path)`` for writers that want a path (numpy).
    A failure removes the temporary file and leaves ``path`` as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, staged_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial" + path.suffix,
                                       dir=path.parent)
    os.close(fd)
    staged = Path(staged_name)
    try:
        if write is not None:
            write(staged)
        elif isinstance(data, bytes):
            staged.write_bytes(data)
        else:
            staged.write_text(data if data is not None else "")
        _readable_like_a_new_file(staged)
        os.replace(staged, path)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return path


def publish_dir(files: dict[str, str | bytes | Path], out_dir: str | Path) -> Path:
    """Make ``out_dir`` hold exactly ``files`` (name -> text, bytes, or a file to copy
    with its mode), all at once: they are
    written into a staging folder beside it, which then takes its place. A failure
    leaves the previous ``out_dir`` (or none) untouched."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        _readable_like_a_new_file(staging, directory=True)
        for name, content in files.items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, Path):
                shutil.copy2(content, target)
            elif isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        replace_dir(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def replace_dir(staging: Path, out_dir: Path) -> None:
    """Put the finished folder ``staging`` at ``out_dir``, replacing what was there.
    If another process published ``out_dir`` at the same moment (a cache entry),
    theirs stays and ours is dropped."""
    try:
        if out_dir.exists():
            backup = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
            backup.rmdir()
            os.rename(out_dir, backup)
            os.rename(staging, out_dir)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.rename(staging, out_dir)
    except OSError:
        if not out_dir.exists():
            raise
        shutil.rmtree(staging, ignore_errors=True)


def _readable_like_a_new_file(path: Path, directory: bool = False) -> None:
    # mkstemp/mkdtemp make private files; a published output gets the umask's mode.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if directory else 0o666) & ~umask)


# --- noisy libraries ---------------------------------------------------------------
@contextlib.contextmanager
def quiet_native_output():
    """Hold back what a library prints on the process's stdout and stderr, C++ logs
    included (TensorFlow's converter prints pages), and show it only if the block
    fails: tinyflow's own output (a live table, JSON on stdout) stays readable."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 1)
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            _restore(saved)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace")[-4000:])
            raise
        else:
            _restore(saved)


def _restore(saved: list[int]) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    for fd, copy in zip((1, 2), saved):
        os.dup2(copy, fd)
        os.close(copy)


# --- templates ---------------------------------------------------------------------
# Text from a model file (tensor names, the model's name) is untrusted: it reaches
# generated C only through these two filters, so it can never end a comment, start a
# preprocessor line or close a string literal.

# The first character of '*/', '/*' and '??' (a trigraph's start): a space follows it.
_SPLIT_IN_COMMENT = re.compile(r"\*(?=/)|/(?=\*)|\?(?=\?)")


def c_comment(text) -> str:
    """``text`` made safe inside a C ``/* ... */`` comment (Jinja filter ``ccomment``):
    one line of printable ASCII (anything else becomes '?'), no comment delimiters
    (a space goes between '*' and '/'), no trigraphs ('??' gets a space)."""
    line = "".join(ch if " " <= ch <= "~" else "?" for ch in str(text))
    return _SPLIT_IN_COMMENT.sub(lambda m: m.group() + " ", line)


def c_string(text) -> str:
    """The body of a C string literal holding ``text``'s UTF-8 bytes (Jinja filter
    ``cstring``): printable ASCII stays, except '\\', '"' and '?' (trigraphs) which get
    a backslash; other bytes become three-digit octal escapes (a hex escape would
    swallow the hex digits after it)."""
    out = []
    for byte in str(text).encode():
        ch = chr(byte)
        if ch in '\\"?':
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return "".join(out)


def template_environment(package: str, folder: str = "templates", *,
                         autoescape: bool = False) -> jinja2.Environment:
    """The one Jinja2 configuration: strict undefined variables (a typo fails loudly),
    trimmed block lines, no HTML escaping of C code (reports ask for ``autoescape``),
    and the filters ``ccomment`` and ``cstring`` for untrusted text in C."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader(package, folder),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=autoescape,
    )
    environment.filters["ccomment"] = c_comment
    environment.filters["cstring"] = c_string
    return environment


__all__ = ["c_comment", "c_string", "cache_dir", "publish_dir", "publish_file", "replace_dir",
           "template_environment"]
