"""The firmware stage: a generated model onto a board, measured on the device.

Modules, one job each:

- ``render``     the firmware's C sources from templates/ (protocol, startup, drivers,
                 linker script) around the generated model
- ``build``      cross-compile and link; flash/RAM use read from the ELF; cached builds
- ``runners``    one module per way onto a board: qemu, native, nrfjprog, pyocd,
                 openocd, bossac (``process.Commands`` runs and logs every tool)
- ``session``    the host side of the MLPerf Tiny / EEMBC serial protocol
- ``device``     build + start (QEMU, native) or open a port -> a ready session
- ``infer``      batches of inputs through the device
- ``measure``    outputs vs TFLM, latency, per-layer times, memory; ``divergence``
                 names the first layer that differs from TFLM
- ``commands``   the CLI: boards, build, flash, measure

Entry points for other stages: ``build.build_firmware(model, board)`` (sizes of the
firmware on a board) and ``measure.measure(model, board)`` (per-layer times on it).
"""
