"""The whole HTTP API against its own OpenAPI schema (schemathesis), signed in as the owner.

Whatever the generated requests, the server never answers 5xx, and every
answer conforms to the schema (status code, content type, headers, body).
Mailed links and the payment gateway's notices carry their credential in
the request itself (a signed token, a signature header): generated ones are
refused, so for those a schema-valid request may be refused. So may a
generated multipart form whose file part has no file name: multipart
parsers take such a part for a text field.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from web_fixtures import make_site

SITE = make_site()
OWNER = SITE.owner()
schema = schemathesis.openapi.from_asgi("/schema/openapi.json", SITE.client.app)


@schema.parametrize()
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_api_answers_within_its_schema(case: Any) -> None:
    signed_elsewhere = case.path.startswith(("/api/v1/links/", "/api/v1/payments/"))
    multipart = case.media_type == "multipart/form-data"
    case.call_and_validate(
        headers={**(case.headers or {}), **OWNER.headers},
        excluded_checks=[positive_data_acceptance] if signed_elsewhere or multipart else [],
    )
