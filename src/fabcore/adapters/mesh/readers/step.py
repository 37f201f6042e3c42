"""STEP, converted to triangles by OpenCASCADE (``cascadio``) in a sandbox.

OpenCASCADE can crash the whole process on a damaged file (a segmentation
fault, no exception), and prints its complaints on stdout. So the
conversion runs in a child process (:mod:`..sandbox`) under memory, CPU and
wall-time limits; a crash, a timeout, a limit reached or an error reported
by the converter becomes a plain refusal, and its output goes to the log,
never to ours. The converter hands back a GLB, whose unit is the meter.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from typing import Final

from fabcore.adapters.mesh.cascade import step_to_glb
from fabcore.adapters.mesh.errors import ModelError
from fabcore.adapters.mesh.readers import gltf
from fabcore.adapters.mesh.readers.base import FloatArray, IntArray, Limits
from fabcore.adapters.mesh.sandbox import Outcome, SandboxLimits, run_sandboxed

STEP_EXTRA_HINT: Final = "STEP support needs the optional extra: pip install 'fabcore[step]'"
_MAGIC: Final = b"ISO-10303-21"
# OpenCASCADE reports failures as "**** ERR StepFile : Incorrect Syntax : Fails Count : 1".
_ERROR_LINE: Final = re.compile(r"\*\*\* ERR \w+ : ([^:*\n\x1b]+?)\s*:")
_PLAINLY: Final = {
    "incorrect syntax": "it has a syntax error",
    "unresolved reference": "it refers to entities it does not contain",
}
_AGAIN: Final = "Export it again from your CAD program, or upload an STL or 3MF file."


def available() -> bool:
    """True when the STEP extra (cascadio) is installed; it is not imported here."""
    if "cascadio" in sys.modules:
        return sys.modules["cascadio"] is not None
    return importlib.util.find_spec("cascadio") is not None


def read_step(data: bytes, limits: Limits) -> tuple[FloatArray, IntArray]:
    """Vertices (in meters) and triangles of a STEP file."""
    if not available():
        raise ModelError(STEP_EXTRA_HINT)
    if not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(_MAGIC):
        raise ModelError(
            "the file is not a STEP file: it does not start with 'ISO-10303-21'. " + _AGAIN
        )
    result = run_sandboxed(
        step_to_glb,
        data,
        limits=SandboxLimits(
            memory_bytes=limits.step_memory_bytes,
            cpu_seconds=limits.step_cpu_seconds,
            wall_seconds=limits.step_timeout_s,
            result_bytes=limits.max_upload_bytes * 8,
        ),
    )
    detail = f"{result.outcome.value}: {result.error} {result.output[-2000:]}".strip()
    if result.outcome is Outcome.RETURNED:
        errors = sorted({what.strip().lower() for what in _ERROR_LINE.findall(result.output)})
        if errors:
            found = " and ".join(_PLAINLY.get(e, f"the converter reports '{e}'") for e in errors)
            raise ModelError(
                f"the STEP file is damaged: {found}, so parts of the model may be missing. "
                + _AGAIN,
                detail=detail,
            )
        glb = result.value
        if not glb:
            raise ModelError(
                "the STEP file could not be converted to a mesh: it holds no solid the "
                f"converter can read. {_AGAIN}",
                detail=detail,
            )
        return gltf.read_glb(glb, limits)
    if result.outcome in (Outcome.TIMED_OUT, Outcome.CPU_TIME):
        raise ModelError(
            f"the STEP file takes longer than {limits.step_timeout_s:g} seconds to convert. "
            "Simplify the model or upload an STL or 3MF file.",
            detail=detail,
        )
    if result.outcome in (Outcome.OUT_OF_MEMORY, Outcome.RESULT_TOO_LARGE):
        raise ModelError(
            "the STEP file needs more memory to convert than this service allows. "
            "Simplify the model or upload an STL or 3MF file.",
            detail=detail,
        )
    raise ModelError(
        f"the STEP file could not be converted: the converter failed on it, so it is "
        f"probably damaged. {_AGAIN}",
        detail=detail,
    )
