"""Sliding-window geometry shared by convolutions and pooling: output size and
padding, and how many window taps land inside the input (the work a kernel that
skips padding really does; the cost features of these layers)."""

from __future__ import annotations

from dataclasses import dataclass

from tinyflow.codegen.quantize import same_padding


@dataclass(frozen=True)
class _Axis:
    """One spatial axis of a sliding window, counted over all output positions."""

    outputs: int        # output positions
    valid_taps: int     # window taps that land inside the input
    full: int           # output positions whose window lies wholly inside the input


def _axis(in_size: int, filter_size: int, stride: int, dilation: int, padding: str) -> _Axis:
    out_size, pad = same_padding(in_size, filter_size, stride, dilation, padding)
    valid = full = 0
    for position in range(out_size):
        start = position * stride - pad
        inside = sum(1 for k in range(filter_size) if 0 <= start + k * dilation < in_size)
        valid += inside
        full += inside == filter_size
    return _Axis(out_size, valid, full)


def window_counts(x_shape, filter_h: int, filter_w: int, *, stride_h: int, stride_w: int,
                  dilation_h: int = 1, dilation_w: int = 1, padding: str) -> dict[str, int]:
    """Per channel, over an NHWC input: taps inside the input, window rows inside the
    input (each starts an inner loop), output pixels, and pixels whose window padding
    clips (kernels take a slower border path for those)."""
    batches, in_h, in_w = x_shape[0], x_shape[1], x_shape[2]
    h = _axis(in_h, filter_h, stride_h, dilation_h, padding)
    w = _axis(in_w, filter_w, stride_w, dilation_w, padding)
    pixels = batches * h.outputs * w.outputs
    return dict(taps=batches * h.valid_taps * w.valid_taps,
                window_rows=batches * h.valid_taps * w.outputs,
                pixels=pixels, border_pixels=pixels - batches * h.full * w.full)
