"""The allow-list: every public (audience, method, path) and the service that answers it. Nothing else passes."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from servicekit.auth import Audience


class Upstream(StrEnum):
    COMPLAINTS = "complaints"
    MERCHANTS = "merchants"
    MEDIATION = "mediation"


PUBLIC: Literal["public"] = "public"

CONSUMER, MERCHANT, REGULATOR = Audience.CONSUMER, Audience.MERCHANT, Audience.REGULATOR
COMPLAINTS, MERCHANTS, MEDIATION = Upstream.COMPLAINTS, Upstream.MERCHANTS, Upstream.MEDIATION


@dataclass(frozen=True, slots=True)
class Route:
    """One allowed operation.

    `streaming` routes answer with an event stream that may stay open indefinitely; a `live_event` route's stream
    is served by the gateway itself from the service's case-change feed (`gateway.live`): `live_event` events
    carrying the detail at the route's path without `/stream`. `max_body_bytes` overrides the gateway-wide body
    limit (uploads).
    """

    audience: Audience | Literal["public"]
    method: str
    template: str
    service: Upstream
    streaming: bool = False
    live_event: str | None = None
    max_body_bytes: int | None = None

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.template.strip("/").split("/"))


# Add rows here when a service gains a public endpoint; anything missing answers 404 at the edge.
ROUTES: list[Route] = [
    # consumer
    Route(CONSUMER, "POST", "/v1/consumer/complaints", COMPLAINTS),
    Route(CONSUMER, "GET", "/v1/consumer/complaints", COMPLAINTS),
    Route(CONSUMER, "GET", "/v1/consumer/complaints/{id}", COMPLAINTS),
    Route(CONSUMER, "GET", "/v1/consumer/complaints/{id}/stream", COMPLAINTS, streaming=True,
          live_event="complaint"),
    Route(CONSUMER, "POST", "/v1/consumer/complaints/{id}/withdraw", COMPLAINTS),
    Route(CONSUMER, "POST", "/v1/consumer/complaints/{id}/rating", COMPLAINTS),
    Route(CONSUMER, "GET", "/v1/consumer/complaints/{id}/access-log", COMPLAINTS),
    Route(CONSUMER, "POST", "/v1/consumer/complaints/{id}/personal-data/erasure", COMPLAINTS),
    Route(CONSUMER, "POST", "/v1/consumer/reports", COMPLAINTS),
    # An attachment travels as the raw body; the complaints service refuses more than 5 MB itself.
    Route(CONSUMER, "POST", "/v1/consumer/evidence", COMPLAINTS, max_body_bytes=6 * 1024 * 1024),
    Route(CONSUMER, "GET", "/v1/consumer/complaints/{id}/evidence/{evidence_id}", COMPLAINTS),
    Route(CONSUMER, "POST", "/v1/consumer/consultations", COMPLAINTS),
    Route(CONSUMER, "GET", "/v1/consumer/consultations", COMPLAINTS),
    Route(CONSUMER, "GET", "/v1/consumer/consultations/{id}", COMPLAINTS),
    Route(CONSUMER, "POST", "/v1/consumer/consultations/{id}/complaint", COMPLAINTS),
    Route(CONSUMER, "GET", "/v1/consumer/cases/{id}", MEDIATION),
    Route(CONSUMER, "POST", "/v1/consumer/cases/{id}/messages", MEDIATION),
    Route(CONSUMER, "POST", "/v1/consumer/cases/{id}/offers/{offer_id}/accept", MEDIATION),
    Route(CONSUMER, "POST", "/v1/consumer/cases/{id}/offers/{offer_id}/reject", MEDIATION),
    Route(CONSUMER, "POST", "/v1/consumer/cases/{id}/messages/read", MEDIATION),
    # A message attachment travels as multipart/form-data; the mediation service refuses more than 5 MB of file itself.
    Route(CONSUMER, "POST", "/v1/consumer/cases/{id}/attachments", MEDIATION, max_body_bytes=6 * 1024 * 1024),
    Route(CONSUMER, "GET", "/v1/consumer/cases/{id}/attachments/{attachment_id}", MEDIATION),
    Route(CONSUMER, "GET", "/v1/consumer/cases/{id}/stream", MEDIATION, streaming=True),
    Route(CONSUMER, "POST", "/v1/consumer/cases/{id}/fulfilment/{proof_id}/confirm", MEDIATION),
    Route(CONSUMER, "POST", "/v1/consumer/cases/{id}/fulfilment/{proof_id}/dispute", MEDIATION),
    # merchant (ODR enterprises)
    Route(MERCHANT, "GET", "/v1/merchant/cases", MEDIATION),
    Route(MERCHANT, "GET", "/v1/merchant/cases/{id}", MEDIATION),
    Route(MERCHANT, "POST", "/v1/merchant/cases/{id}/offers", MEDIATION),
    Route(MERCHANT, "POST", "/v1/merchant/cases/{id}/messages", MEDIATION),
    Route(MERCHANT, "POST", "/v1/merchant/cases/{id}/decline", MEDIATION),
    Route(MERCHANT, "POST", "/v1/merchant/cases/{id}/fulfilment", MEDIATION),
    Route(MERCHANT, "POST", "/v1/merchant/cases/{id}/offers/{offer_id}/withdraw", MEDIATION),
    Route(MERCHANT, "POST", "/v1/merchant/cases/{id}/offers/{offer_id}/accept", MEDIATION),
    Route(MERCHANT, "POST", "/v1/merchant/cases/{id}/messages/read", MEDIATION),
    # A message attachment travels as multipart/form-data; the mediation service refuses more than 5 MB of file itself.
    Route(MERCHANT, "POST", "/v1/merchant/cases/{id}/attachments", MEDIATION, max_body_bytes=6 * 1024 * 1024),
    Route(MERCHANT, "GET", "/v1/merchant/cases/{id}/attachments/{attachment_id}", MEDIATION),
    Route(MERCHANT, "GET", "/v1/merchant/cases/{id}/stream", MEDIATION, streaming=True),
    Route(MERCHANT, "GET", "/v1/merchant/complaints/{id}/evidence/{evidence_id}", COMPLAINTS),
    Route(MERCHANT, "PUT", "/v1/merchant/webhook", MERCHANTS),
    Route(MERCHANT, "GET", "/v1/merchant/webhook", MERCHANTS),
    Route(MERCHANT, "GET", "/v1/merchant/webhook/deliveries", MERCHANTS),
    Route(MERCHANT, "GET", "/v1/merchant/webhook/deliveries/{id}", MERCHANTS),
    Route(MERCHANT, "POST", "/v1/merchant/webhook/deliveries/{id}/redeliver", MERCHANTS),
    Route(MERCHANT, "POST", "/v1/merchant/credentials/rotate", MERCHANTS),
    Route(MERCHANT, "GET", "/v1/merchant/scorecard", MERCHANTS),
    Route(MERCHANT, "PUT", "/v1/merchant/scorecard/orders/{month}", MERCHANTS),
    Route(MERCHANT, "GET", "/v1/merchant/portal-users/me", MERCHANTS),
    Route(MERCHANT, "GET", "/v1/merchant/portal-users", MERCHANTS),
    Route(MERCHANT, "POST", "/v1/merchant/portal-users", MERCHANTS),
    Route(MERCHANT, "POST", "/v1/merchant/portal-users/{id}/disable", MERCHANTS),
    Route(MERCHANT, "POST", "/v1/merchant/portal-users/{id}/reset", MERCHANTS),
    # regulator
    Route(REGULATOR, "GET", "/v1/regulator/complaints", COMPLAINTS),
    Route(REGULATOR, "GET", "/v1/regulator/complaints/{id}", COMPLAINTS),
    Route(REGULATOR, "POST", "/v1/regulator/complaints/{id}/accept", COMPLAINTS),
    Route(REGULATOR, "POST", "/v1/regulator/complaints/{id}/refuse", COMPLAINTS),
    Route(REGULATOR, "POST", "/v1/regulator/complaints/{id}/route-to-merchant", COMPLAINTS),
    Route(REGULATOR, "POST", "/v1/regulator/complaints/{id}/transfer", COMPLAINTS),
    Route(REGULATOR, "POST", "/v1/regulator/complaints/{id}/issue-type", COMPLAINTS),
    Route(REGULATOR, "POST", "/v1/regulator/complaints/{id}/reveal", COMPLAINTS),
    Route(REGULATOR, "GET", "/v1/regulator/complaints/{id}/access-log", COMPLAINTS),
    Route(REGULATOR, "GET", "/v1/regulator/personal-data-reads", COMPLAINTS),
    Route(REGULATOR, "GET", "/v1/regulator/complaints/{id}/evidence/{evidence_id}", COMPLAINTS),
    Route(REGULATOR, "POST", "/v1/regulator/reports/{id}/verification", COMPLAINTS),
    Route(REGULATOR, "POST", "/v1/regulator/reports/{id}/decision", COMPLAINTS),
    Route(REGULATOR, "POST", "/v1/regulator/reports/{id}/extension", COMPLAINTS),
    Route(REGULATOR, "GET", "/v1/regulator/station-complaints", COMPLAINTS),
    Route(REGULATOR, "POST", "/v1/regulator/station-complaints", COMPLAINTS),
    Route(REGULATOR, "GET", "/v1/regulator/station-complaints/figures", COMPLAINTS),
    Route(REGULATOR, "POST", "/v1/regulator/station-complaints/evidence", COMPLAINTS,
          max_body_bytes=6 * 1024 * 1024),
    Route(REGULATOR, "GET", "/v1/regulator/station-complaints/{id}", COMPLAINTS),
    Route(REGULATOR, "POST", "/v1/regulator/station-complaints/{id}/settlement", COMPLAINTS),
    Route(REGULATOR, "GET", "/v1/regulator/station-complaints/{id}/evidence/{evidence_id}", COMPLAINTS),
    Route(REGULATOR, "POST", "/v1/regulator/hotline-complaints", COMPLAINTS),
    Route(REGULATOR, "GET", "/v1/regulator/stats", COMPLAINTS),
    Route(REGULATOR, "GET", "/v1/regulator/reports/summary", COMPLAINTS),
    Route(REGULATOR, "GET", "/v1/regulator/consultations", COMPLAINTS),
    Route(REGULATOR, "POST", "/v1/regulator/consultations", COMPLAINTS),
    Route(REGULATOR, "GET", "/v1/regulator/consultations/{id}", COMPLAINTS),
    Route(REGULATOR, "POST", "/v1/regulator/consultations/{id}/answer", COMPLAINTS),
    # A 12315 / 12345 export of up to 5,000 tickets.
    Route(REGULATOR, "POST", "/v1/regulator/imports", COMPLAINTS, max_body_bytes=16 * 1024 * 1024),
    Route(REGULATOR, "GET", "/v1/regulator/export.csv", COMPLAINTS),
    Route(REGULATOR, "GET", "/v1/regulator/odr-applications", MERCHANTS),
    Route(REGULATOR, "GET", "/v1/regulator/odr-applications/{id}", MERCHANTS),
    Route(REGULATOR, "GET", "/v1/regulator/odr-applications/{id}/licence", MERCHANTS),
    Route(REGULATOR, "POST", "/v1/regulator/odr-applications/{id}/approve", MERCHANTS),
    Route(REGULATOR, "POST", "/v1/regulator/odr-applications/{id}/reject", MERCHANTS),
    Route(REGULATOR, "GET", "/v1/regulator/merchants", MERCHANTS),
    Route(REGULATOR, "POST", "/v1/regulator/merchants/{id}/suspend", MERCHANTS),
    Route(REGULATOR, "POST", "/v1/regulator/merchants/{id}/reinstate", MERCHANTS),
    Route(REGULATOR, "POST", "/v1/regulator/merchants/{id}/revoke", MERCHANTS),
    Route(REGULATOR, "POST", "/v1/regulator/merchants/{id}/summons", MERCHANTS),
    Route(REGULATOR, "GET", "/v1/regulator/summons", MERCHANTS),
    Route(REGULATOR, "GET", "/v1/regulator/summons/{id}", MERCHANTS),
    Route(REGULATOR, "GET", "/v1/regulator/scorecards", MERCHANTS),
    Route(REGULATOR, "GET", "/v1/regulator/suspension-proposals", MERCHANTS),
    Route(REGULATOR, "POST", "/v1/regulator/suspension-proposals/{id}/confirm", MERCHANTS),
    Route(REGULATOR, "POST", "/v1/regulator/suspension-proposals/{id}/dismiss", MERCHANTS),
    Route(REGULATOR, "GET", "/v1/regulator/stations", MERCHANTS),
    Route(REGULATOR, "POST", "/v1/regulator/stations", MERCHANTS),
    Route(REGULATOR, "GET", "/v1/regulator/stations/{id}", MERCHANTS),
    Route(REGULATOR, "POST", "/v1/regulator/stations/{id}/staff", MERCHANTS),
    # Staff accounts: a staff member's own (a setup token reaches these too) and the administrator's.
    Route(REGULATOR, "GET", "/v1/regulator/staff/me", MERCHANTS),
    Route(REGULATOR, "POST", "/v1/regulator/staff/me/password", MERCHANTS),
    Route(REGULATOR, "POST", "/v1/regulator/staff/me/totp", MERCHANTS),
    Route(REGULATOR, "POST", "/v1/regulator/staff/me/totp/confirm", MERCHANTS),
    Route(REGULATOR, "GET", "/v1/regulator/staff", MERCHANTS),
    Route(REGULATOR, "POST", "/v1/regulator/staff", MERCHANTS),
    Route(REGULATOR, "GET", "/v1/regulator/staff/{id}", MERCHANTS),
    Route(REGULATOR, "POST", "/v1/regulator/staff/{id}/disable", MERCHANTS),
    Route(REGULATOR, "POST", "/v1/regulator/staff/{id}/enable", MERCHANTS),
    Route(REGULATOR, "POST", "/v1/regulator/staff/{id}/reset", MERCHANTS),
    Route(REGULATOR, "GET", "/v1/regulator/staff-audit", MERCHANTS),
    Route(REGULATOR, "GET", "/v1/regulator/staff-policies/{region}", MERCHANTS),
    Route(REGULATOR, "PUT", "/v1/regulator/staff-policies/{region}", MERCHANTS),
    Route(REGULATOR, "GET", "/v1/regulator/cases", MEDIATION),
    Route(REGULATOR, "GET", "/v1/regulator/cases/{id}", MEDIATION),
    Route(REGULATOR, "POST", "/v1/regulator/cases/{id}/assign", MEDIATION),
    Route(REGULATOR, "POST", "/v1/regulator/cases/{id}/terminate", MEDIATION),
    Route(REGULATOR, "POST", "/v1/regulator/cases/{id}/appraisal/pause", MEDIATION),
    Route(REGULATOR, "POST", "/v1/regulator/cases/{id}/appraisal/resume", MEDIATION),
    Route(REGULATOR, "POST", "/v1/regulator/cases/{id}/recusal", MEDIATION),
    Route(REGULATOR, "POST", "/v1/regulator/cases/{id}/recusal/decision", MEDIATION),
    Route(REGULATOR, "POST", "/v1/regulator/cases/{id}/agreement", MEDIATION),
    Route(REGULATOR, "POST", "/v1/regulator/cases/{id}/messages", MEDIATION),
    Route(REGULATOR, "POST", "/v1/regulator/cases/{id}/messages/read", MEDIATION),
    # A message attachment travels as multipart/form-data; the mediation service refuses more than 5 MB of file itself.
    Route(REGULATOR, "POST", "/v1/regulator/cases/{id}/attachments", MEDIATION, max_body_bytes=6 * 1024 * 1024),
    Route(REGULATOR, "GET", "/v1/regulator/cases/{id}/attachments/{attachment_id}", MEDIATION),
    Route(REGULATOR, "GET", "/v1/regulator/cases/{id}/stream", MEDIATION, streaming=True),
    Route(REGULATOR, "GET", "/v1/regulator/audit/verify", MEDIATION),
    Route(REGULATOR, "POST", "/v1/regulator/reviews/sample", MEDIATION),
    Route(REGULATOR, "GET", "/v1/regulator/reviews", MEDIATION),
    Route(REGULATOR, "POST", "/v1/regulator/reviews/{id}/result", MEDIATION),
    Route(REGULATOR, "GET", "/v1/regulator/audit/outcomes", MEDIATION),
    Route(REGULATOR, "GET", "/v1/regulator/audit/outcomes/{id}", MEDIATION),
    Route(REGULATOR, "GET", "/v1/regulator/audit/signals", MEDIATION),
    Route(REGULATOR, "GET", "/v1/regulator/audit/thresholds", MEDIATION),
    Route(REGULATOR, "PUT", "/v1/regulator/audit/thresholds", MEDIATION),
    Route(REGULATOR, "GET", "/v1/regulator/audit/queue", MEDIATION),
    Route(REGULATOR, "GET", "/v1/regulator/audit/queue/{id}", MEDIATION),
    Route(REGULATOR, "POST", "/v1/regulator/audit/queue/{id}/outcome", MEDIATION),
    Route(REGULATOR, "GET", "/v1/regulator/audit/figures", MEDIATION),
    # no token
    # The business licence travels base64 in the JSON body: 5 MB of file is about 6.7 MB of body.
    Route(PUBLIC, "POST", "/v1/public/odr-applications", MERCHANTS, max_body_bytes=8 * 1024 * 1024),
    Route(PUBLIC, "GET", "/v1/public/odr-applications/{id}/status", MERCHANTS),
    Route(PUBLIC, "POST", "/v1/public/odr-applications/{id}/credentials", MERCHANTS),
    Route(PUBLIC, "POST", "/v1/public/portal-activation", MERCHANTS),
    Route(PUBLIC, "GET", "/v1/public/complaints", COMPLAINTS),
    Route(PUBLIC, "GET", "/v1/public/regions", COMPLAINTS),
    Route(PUBLIC, "GET", "/v1/public/odr-enterprises", MERCHANTS),
    Route(PUBLIC, "GET", "/v1/public/stations", MERCHANTS),
]


def is_parameter(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


# A path parameter never stands for these: they would let a request climb out of its route upstream.
_UNSAFE_VALUES = frozenset({"", ".", ".."})


class RouteTable:
    """Finds the route of a request: bucketed by method and segment count, so a lookup scans a handful of rows."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = list(routes)
        self._buckets: dict[tuple[str, int], list[tuple[tuple[str | None, ...], Route]]] = defaultdict(list)
        seen: set[tuple[str, tuple[str | None, ...]]] = set()
        for route in self.routes:
            pattern = tuple(None if is_parameter(segment) else segment for segment in route.segments)
            if (route.method, pattern) in seen:
                raise ValueError(f"duplicate route {route.method} {route.template}")
            seen.add((route.method, pattern))
            self._buckets[(route.method, len(pattern))].append((pattern, route))
        # Literal segments first, so /reports/stats would win over /reports/{id} should both ever exist.
        for bucket in self._buckets.values():
            bucket.sort(key=lambda entry: [segment is None for segment in entry[0]])

    def match(self, method: str, path: str) -> Route | None:
        """The route allowing `method path`, or None."""
        segments = path.strip("/").split("/") if path.startswith("/") and not path.endswith("/") else None
        if segments is None:
            return None
        for pattern, route in self._buckets.get((method, len(segments)), ()):
            if all(
                segment == expected if expected is not None else segment not in _UNSAFE_VALUES
                for segment, expected in zip(segments, pattern, strict=True)
            ):
                return route
        return None
