"""The one way tinyflow configures Jinja2, shared by every stage that renders files.

Each stage keeps its templates in its own package; all of them get the same
settings: strict undefined variables (a typo fails loudly), trimmed block lines,
no HTML escaping of C code.
"""

from __future__ import annotations

import jinja2


def template_environment(package: str, folder: str = "templates", *,
                         autoescape: bool = False) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader(package, folder),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=autoescape,
    )
