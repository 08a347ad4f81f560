"""What every stage shares: the cache directory, atomic file output, the Jinja setup.

Each helper exists once here so the stages cannot drift apart (one cache root,
one way to publish a file or a directory whole, one template configuration).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import jinja2

from tinyflow.errors import OutputError


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
        _readable_like_a_new_file(staged)     # before writing: a copied file keeps its mode
        if write is not None:
            write(staged)
        else:
            _write_content(staged, data if data is not None else "")
        os.replace(staged, path)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return path


def publish_dir(files: dict[str, str | bytes | Path], out_dir: str | Path) -> Path:
    """Make ``out_dir`` hold exactly ``files`` (name -> text, bytes, or a file to copy
    with its mode), all at once: they are written into a staging folder beside it,
    which then takes its place. A failure leaves the previous ``out_dir`` (or none)
    untouched."""
    out_dir = Path(out_dir)
    # Absolute: "." and "x/.." then have a real name and a parent to stage beside.
    folder = Path(os.path.abspath(out_dir))
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{out_dir} is a file, not a directory")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        _readable_like_a_new_file(staging, directory=True)
        for name, content in files.items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_content(target, content)
        replace_dir(staging, folder)
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
            try:
                os.rename(staging, out_dir)
            except OSError:
                # Put the previous folder back, unless another process's took its place.
                if out_dir.exists():
                    shutil.rmtree(backup, ignore_errors=True)
                else:
                    os.rename(backup, out_dir)
                raise
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.rename(staging, out_dir)
    except OSError:
        if not out_dir.exists():
            raise
        shutil.rmtree(staging, ignore_errors=True)


def check_output_dir(out_dir: str | Path, *, marker: str, marker_keys: set[str],
                     force: bool = False) -> bool:
    """Whether a folder the user named (``-o DIR``) may be replaced whole: it is absent,
    empty, or tinyflow wrote it before (it has ``marker``, a JSON object with
    ``marker_keys``). False for another folder with ``force``; without, OutputError
    (as for a file), so that the user's files are never touched."""
    folder = Path(out_dir)
    if not folder.exists():
        return True
    if not folder.is_dir():
        raise OutputError(f"{out_dir} is a file, not a directory")
    try:
        empty = not any(folder.iterdir())
    except OSError as exc:
        raise OutputError(f"cannot read {out_dir}: {exc.strerror}") from exc
    if empty or _json_has_keys(folder / marker, marker_keys):
        return True
    if not force:
        raise OutputError(f"{out_dir} holds files tinyflow did not write (it has no "
                          f"{marker} of tinyflow); choose another directory, or add "
                          "--force to write into it (its other files are kept)")
    return False


def publish_output_dir(files: dict[str, str | bytes | Path], out_dir: str | Path, *,
                       marker: str, marker_keys: set[str], force: bool = False) -> Path:
    """Publish ``files`` at a folder the user named, as ``check_output_dir`` allows:
    replaced whole like ``publish_dir``, or with ``force`` in a folder of other files,
    written into it one by one, its other files kept."""
    out_dir = Path(out_dir)
    try:
        if check_output_dir(out_dir, marker=marker, marker_keys=marker_keys, force=force):
            publish_dir(files, out_dir)
            return out_dir
        for name, content in files.items():
            publish_file(out_dir / name, write=lambda staged, content=content:
                         _write_content(staged, content))
    except OSError as exc:
        where = exc.filename or out_dir
        raise OutputError(f"cannot write {where}: {exc.strerror or exc}") from exc
    return out_dir


def _write_content(target: Path, content: str | bytes | Path) -> None:
    """Text, bytes, or a copy of a file with its mode (an executable stays one)."""
    if isinstance(content, Path):
        shutil.copy2(content, target)
    elif isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content)


def _json_has_keys(path: Path, keys: set[str]) -> bool:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and keys <= data.keys()


def check_output_file(path: str | Path) -> Path:
    """Fail now, before long work, if ``path`` cannot become an output file: it is a
    folder, or its folder is missing or not writable (OutputError)."""
    path = Path(path)
    folder = path.parent
    if path.is_dir():
        raise OutputError(f"{path} is a directory; give a file name")
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: the folder {folder} is not writable")
    return path


def _readable_like_a_new_file(path: Path, directory: bool = False) -> None:
    # mkstemp/mkdtemp make private files; a published output gets the umask's mode.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if directory else 0o666) & ~umask)


# --- machine-readable output of the commands ----------------------------------------
def add_json_argument(parser, what: str) -> None:
    """The one convention for JSON output: ``--json FILE``, or ``--json`` / ``--json -``
    for stdout (the human-readable report then goes to stderr)."""
    parser.add_argument("--json", nargs="?", const="-", metavar="FILE",
                        help=f"{what} as JSON, to FILE or (no FILE, or -) to stdout")


def check_json_target(target: str | None) -> None:
    """Before the work: a JSON file that could not be written is an error now."""
    if target not in (None, "-"):
        check_output_file(target)


def report_stream(json_target: str | None):
    """Where the human-readable report goes: stderr when JSON takes stdout."""
    return sys.stderr if json_target == "-" else sys.stdout


def write_json(target: str, text: str) -> None:
    """JSON to stdout (``-``) or, atomically, to a file."""
    if target == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        publish_file(target, text)
        print(f"wrote {target}", file=sys.stderr)


# --- noisy libraries ---------------------------------------------------------------
@contextlib.contextmanager
def quiet_native_output():
    """Hold back what a library prints, and show it only if the block fails:
    tinyflow's own output (a live table, JSON on stdout, a notebook cell) stays
    readable. TensorFlow's converter prints pages through every channel there is: C++
    logs on the process's file descriptors, Python prints (which a notebook kernel
    routes elsewhere), warnings and its logger; all four are held here."""
    import io
    import logging
    import warnings

    sys.stdout.flush()
    sys.stderr.flush()
    saved_fds = [os.dup(1), os.dup(2)]
    saved_streams = sys.stdout, sys.stderr
    python_text = io.StringIO()
    tf_logger = logging.getLogger("tensorflow")
    saved_level = tf_logger.level
    with tempfile.TemporaryFile() as native_text, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tf_logger.setLevel(logging.ERROR)
        os.dup2(native_text.fileno(), 1)
        os.dup2(native_text.fileno(), 2)
        sys.stdout = sys.stderr = python_text
        failed = True
        try:
            yield
            failed = False
        finally:
            sys.stdout, sys.stderr = saved_streams
            tf_logger.setLevel(saved_level)
            for fd, copy in zip((1, 2), saved_fds):
                os.dup2(copy, fd)
                os.close(copy)
            if failed:
                native_text.seek(0)
                held = native_text.read().decode(errors="replace") + python_text.getvalue()
                sys.stderr.write(held[-4000:])


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


__all__ = ["c_comment", "c_string", "cache_dir", "check_output_dir", "check_output_file",
           "publish_dir",
           "publish_file", "publish_output_dir", "replace_dir",
           "template_environment"]
