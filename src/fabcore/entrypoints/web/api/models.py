"""Model uploads (analysed off the event loop) and the quote options of an analysed model."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, get_args

import anyio.to_thread
from litestar import Request, Router, get, post
from litestar.exceptions import ValidationException
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import FromPath, FromQuery, QueryParameter

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
from fabcore.entrypoints.web.uploads import receive_file

_UNITS: tuple[str, ...] = get_args(Units)


@dataclass
class _UploadOperation(Operation):
    """The upload's form in the schema (the handler reads the body itself, streaming)."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(required=True, content={
            "multipart/form-data": OpenAPIMediaType(schema=Schema(
                type=OpenAPIType.OBJECT,
                required=["file"],
                properties={
                    "file": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY,
                                   description="The model file; its extension names the format"),
                    "units": Schema(type=OpenAPIType.STRING, enum=list(_UNITS), default="mm",
                                    description="The unit the file's numbers are in"),
                },
            )),
        })


def _model_out(model: UploadedModel, units: str) -> ModelOut:
    return ModelOut(
        model.ref.sha256,
        model.ref.filename,
        model.ref.size,
        units,
        dto(model.analysis, AnalysisOut),
    )


@post("/shops/{shop:str}/models", status_code=201, operation_class=_UploadOperation)
async def upload_model(
    shop: FromPath[str],
    request: Request[Any, Any, Any],
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
    upload = await receive_file(request, field="file", limit=web_settings.max_upload_bytes,
                                text_fields=("units",))
    try:
        units = upload.fields.get("units", "mm")
        if units not in _UNITS:
            raise ValidationException(detail=f"units must be one of {', '.join(_UNITS)}", extra=[
                {"key": "units", "message": f"must be one of {', '.join(_UNITS)}",
                 "source": "body"}])
        model = await anyio.to_thread.run_sync(
            partial(core.upload_model_file, actor, upload.file, upload.filename, units))
    finally:
        upload.file.close()
    return _model_out(model, units)


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
