"""Model uploads (analysed off the event loop) and the quote options of an analysed model."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

import anyio.to_thread
import attrs
from litestar import Request, Router, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException
from litestar.params import FromPath, FromQuery, MultipartBody, QueryParameter
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE

from fabcore.app.drafting import UploadedModel
from fabcore.domain.quote import MAX_QUANTITY
from fabcore.entrypoints.web.api.common import (
    DEPENDENCIES,
    CallerDep,
    Core,
    WebDep,
    documented,
    line_quote_out,
    visitor_or,
)
from fabcore.entrypoints.web.dto import (
    AnalysisOut,
    LineQuoteOut,
    ModelOut,
    Units,
    dto,
)
from fabcore.entrypoints.web.settings import MiB

# Bytes read from an upload at a time.
_CHUNK = MiB


@attrs.define
class ModelUpload:
    """A model file and the unit its numbers are in."""

    file: UploadFile
    units: FromQuery[Units] = "mm"


def _model_out(model: UploadedModel, units: str) -> ModelOut:
    return ModelOut(
        model.ref.sha256,
        model.ref.filename,
        model.ref.size,
        units,
        dto(model.analysis, AnalysisOut),
    )


async def _read(upload: UploadFile, limit: int) -> bytes:
    """The file, read once from the spooled upload, refusing more than ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await upload.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise HTTPException(
                status_code=HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                detail=f"the file is larger than the {limit // MiB} MB limit",
            )
        chunks.append(chunk)
    return b"".join(chunks)


@post("/shops/{shop:str}/models", status_code=201)
async def upload_model(
    shop: FromPath[str],
    request: Request[Any, Any, Any],
    data: MultipartBody[ModelUpload],
    caller: CallerDep,
    core: Core,
    web_settings: WebDep,
) -> ModelOut:
    """Upload a model (STL, OBJ, 3MF, PLY, OFF, GLB, STEP) to be measured and priced.

    Anyone may upload, also before signing in. The file is analysed in a
    worker process, with a memory and time limit: a file that cannot be
    analysed is refused (422) with the reason in plain words, a file over
    the size limit with 413. The same file uploaded again is not analysed again.
    """
    actor = visitor_or(caller, shop)
    filename = data.file.filename or "model"
    try:
        content = await _read(data.file, web_settings.max_upload_bytes)
    finally:
        await data.file.close()
    model = await anyio.to_thread.run_sync(
        partial(core.upload_model, actor, content, filename, data.units)
    )
    return _model_out(model, data.units)


@get("/shops/{shop:str}/models/{sha256:str}", sync_to_thread=True)
def get_model(
    shop: FromPath[str],
    sha256: FromPath[str],
    caller: CallerDep,
    core: Core,
    units: FromQuery[Units] = "mm",
    filename: Annotated[str, QueryParameter(min_length=1, max_length=255)] = "model",
) -> ModelOut:
    """An uploaded model's analysis, by its sha256 (404 unless analysed in these units)."""
    model = core.stored_model(visitor_or(caller, shop), sha256, filename, units)
    return _model_out(model, units)


@get("/shops/{shop:str}/models/{sha256:str}/options", sync_to_thread=True)
def model_options(
    shop: FromPath[str],
    sha256: FromPath[str],
    caller: CallerDep,
    core: Core,
    units: FromQuery[Units] = "mm",
    quantity: Annotated[int, QueryParameter(ge=1, le=MAX_QUANTITY)] = 1,
) -> list[LineQuoteOut]:
    """Everything the model can be made of, cheapest first; options needing review say why."""
    quotes = core.quote_options(visitor_or(caller, shop), sha256, units, quantity)
    return [line_quote_out(q) for q in quotes]


def make_router(max_upload_bytes: int) -> Router:
    """The model routes; a request may carry a file of ``max_upload_bytes`` and its form."""
    return Router(
        path="/api/v1",
        route_handlers=documented([upload_model, get_model, model_options]),
        dependencies=DEPENDENCIES,
        tags=["models"],
        request_max_body_size=max_upload_bytes + MiB,
    )
