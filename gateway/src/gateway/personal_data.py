"""The consumer's data export (PIPL Art. 45): one JSON document of everything the platform holds about them.

Services never call each other, so each serves its own part at a consumer endpoint of its own (complaints:
cases, attachments, consultations, the access log, text messages; mediation: negotiation and mediation cases with
offers, agreements, messages) and the gateway, which already speaks to all of them, reads each part with the
caller's own token and puts them together. Merchants holds nothing about a consumer beyond copies of the cases'
events in enterprises' webhook deliveries, which are the enterprise's records and are erased with the case.
A part that fails fails the whole export with its own problem: half an export would look complete.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from gateway.routes import CONSUMER, Route, Upstream
from gateway.runtime import get_runtime
from servicekit.auth import bearer_token
from servicekit.db import utcnow
from servicekit.problems import Problem, problem_responses

# The part of each service, by the name it has in the document.
PARTS: dict[str, Route] = {
    "complaints": Route(CONSUMER, "GET", "/v1/consumer/personal-data/complaints", Upstream.COMPLAINTS),
    "mediation": Route(CONSUMER, "GET", "/v1/consumer/personal-data/mediation", Upstream.MEDIATION),
}

router = APIRouter(generate_unique_id_function=lambda route: route.name)


@router.get("/v1/consumer/personal-data", summary="Download all my personal data",
            responses={200: {"description": "One JSON document: `consumer_id`, `exported_at` and one member per "
                             "service (`complaints`, `mediation`), each as that service's own export answers it",
                             "content": {"application/json": {"schema": {"type": "object"}}}},
                       **problem_responses(401, 403, 503, 504)})
async def export_personal_data(request: Request) -> Response:
    """Everything the platform holds about the signed-in consumer: their complaints and reports in full with
    timelines, deadlines and ratings, the attachments they uploaded (metadata), consultations, who among staff read
    their personal data (role and bureau, never the person), the text messages sent to them, and every negotiation
    or mediation case with its offers, agreement, fulfilment and messages. Served as a download
    (`Content-Disposition: attachment`)."""
    proxy = get_runtime(request).proxy
    principal = proxy.verifier.verify(bearer_token(request))
    if principal.aud != CONSUMER:
        raise Problem("forbidden", f"This endpoint is for the {CONSUMER} audience")
    document: dict[str, Any] = {"consumer_id": principal.sub, "exported_at": utcnow().isoformat()}
    for name, route in PARTS.items():
        part = await proxy.read_as_caller(request, route)
        if part.status != 200:
            refused = Response(part.body, status_code=part.status)
            refused.raw_headers.extend(part.headers)
            return refused
        document[name] = json.loads(part.body)
    filename = f"personal-data-{utcnow().date().isoformat()}.json"
    return JSONResponse(document, headers={"Content-Disposition": f'attachment; filename="{filename}"',
                                           "Cache-Control": "no-store"})
