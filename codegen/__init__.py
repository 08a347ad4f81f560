"""Code generation: model IR -> bit-exact, per-layer specialized C99."""

from tinyflow.codegen.generator import GeneratedCode, check_supported, generate

__all__ = ["GeneratedCode", "check_supported", "generate"]
