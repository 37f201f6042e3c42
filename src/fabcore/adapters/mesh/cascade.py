"""STEP to GLB with OpenCASCADE (``cascadio``), meant to run inside the sandbox.

Kept apart from the readers so that the sandbox's child process imports
nothing but this module and ``cascadio``.
"""

from __future__ import annotations


def step_to_glb(data: bytes) -> bytes:  # pragma: no cover - runs in the sandbox
    """GLB bytes of a STEP file (empty when the converter fails without crashing)."""
    import cascadio

    glb: bytes = cascadio.to_glb_bytes(
        data, cascadio.FileType.STEP, merge_primitives=True, use_parallel=False
    )
    return glb
