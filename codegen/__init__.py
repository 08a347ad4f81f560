"""Code generation, the compiler front end: model IR -> memory plan -> bit-exact,
per-layer specialized C99."""

from tinyflow.codegen.generator import (GeneratedCode, check_supported, generate, plan_memory,
                                        prepare_layers)

__all__ = ["GeneratedCode", "check_supported", "generate", "plan_memory", "prepare_layers"]
