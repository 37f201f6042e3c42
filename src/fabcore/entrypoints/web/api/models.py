"""Model uploads (analysed off the event loop) and the quote options of an analysed model."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, get_args
from urllib.parse import urlencode

import anyio.to_thread
from litestar import Request, Response, Router, get, post
from litestar.exceptions import ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.status_codes import HTTP_202_ACCEPTED

from fabcore.app.drafting import PendingModel, UploadedModel
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
    AnalysisStatusOut,
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


def _status_out(shop: str, model: UploadedModel | PendingModel, units: str) -> AnalysisStatusOut:
    query = urlencode({"units": units, "filename": model.ref.filename})
    url = f"/api/v1/shops/{shop}/models/{model.ref.sha256}/analysis?{query}"
    if isinstance(model, UploadedModel):
        return AnalysisStatusOut(model.ref.sha256, model.ref.filename, model.ref.size, units,
                                 "done", url, analysis=dto(model.analysis, AnalysisOut))
    request = model.request
    return AnalysisStatusOut(
        model.ref.sha256, model.ref.filename, model.ref.size, units, request.state.value, url,
        attempts=request.attempts, waiting=model.waiting, requested_at=request.requested_at,
        started_at=request.started_at, finished_at=request.finished_at, reason=request.reason)


@post("/shops/{shop:str}/models", status_code=201, operation_class=_UploadOperation,
      responses={HTTP_202_ACCEPTED: ResponseSpec(
          data_container=AnalysisStatusOut,
          description="A large file, stored: a worker analyses it (poll its status_url)")})
async def upload_model(
    shop: FromPath[str],
    request: Request[Any, Any, Any],
    caller: CallerDep,
    core: Core,
    web_settings: WebDep,
) -> ModelOut | Response[AnalysisStatusOut]:
    """Upload a model (STL, OBJ, 3MF, PLY, OFF, GLB, STEP) to be measured and priced.

    Anyone may upload, also before signing in. The file is analysed in a
    worker process, with a memory and time limit: a file that cannot be
    analysed is refused (422) with the reason in plain words, a file over
    the size limit with 413. The same file uploaded again is not analysed again.
    Where background workers run, a file of ``FABCORE_DEFER_ANALYSIS_MB`` or
    more is answered at once with 202 and the analysis's status, which its
    ``status_url`` reports until the analysis is done or refused.
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
            partial(core.upload_model_file, actor, upload.file, upload.filename, units,
                    defer_from=web_settings.defer_analysis_bytes, sha256=upload.sha256))
    finally:
        upload.file.close()
    if isinstance(model, PendingModel):
        status = _status_out(shop, model, units)
        return Response(status, status_code=HTTP_202_ACCEPTED,
                        headers={"Location": status.status_url})
    return _model_out(model, units)


@get("/shops/{shop:str}/models/{sha256:str}/analysis", sync_to_thread=True)
def analysis_status(
    shop: FromPath[str],
    sha256: FromPath[str],
    caller: CallerDep,
    core: Core,
    units: FromQuery[Units] = "mm",
    filename: Annotated[str, QueryParameter(min_length=1, max_length=255)] = "model",
) -> AnalysisStatusOut:
    """Where an uploaded model's analysis stands: pending, analysing, done or rejected.

    A page polls this after a 202 from the upload; once ``done`` the model
    has its analysis and options like any other.
    """
    model = core.analysis_status(visitor_or(caller, shop), sha256, filename, units)
    return _status_out(shop, model, units)


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
        route_handlers=documented([upload_model, get_model, model_options, analysis_status]),
        dependencies=DEPENDENCIES,
        tags=["models"],
        request_max_body_size=max_upload_bytes + MiB,
    )
