"""The allow-list lookup: exact segments, parameters, and nothing that could climb out of a route."""

import pytest

from gateway.live import FEED_SERVICES
from gateway.routes import PUBLIC, ROUTES, Route, RouteTable, Upstream
from servicekit.auth import Audience

TABLE = RouteTable(ROUTES)


@pytest.mark.parametrize(
    ("method", "path", "service", "audience"),
    [
        ("POST", "/v1/consumer/complaints", Upstream.COMPLAINTS, Audience.CONSUMER),
        ("GET", "/v1/consumer/complaints/abc/stream", Upstream.COMPLAINTS, Audience.CONSUMER),
        ("POST", "/v1/consumer/cases/c1/offers/o1/reject", Upstream.MEDIATION, Audience.CONSUMER),
        ("PUT", "/v1/merchant/webhook", Upstream.MERCHANTS, Audience.MERCHANT),
        ("GET", "/v1/regulator/export.csv", Upstream.COMPLAINTS, Audience.REGULATOR),
        ("GET", "/v1/regulator/audit/verify", Upstream.MEDIATION, Audience.REGULATOR),
        ("POST", "/v1/public/odr-applications", Upstream.MERCHANTS, PUBLIC),
    ],
)
def test_allow_listed_requests_find_their_service(method: str, path: str, service: Upstream, audience: str) -> None:
    route = TABLE.match(method, path)
    assert route is not None
    assert (route.service, route.audience) == (service, audience)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/v1/consumer/complaints"),
        ("GET", "/v1/consumer/complaints/"),
        ("GET", "/v1/consumer/complaints/x/y"),
        ("GET", "/v1/consumer/complaints/.."),
        ("GET", "/v1/consumer/complaints//stream"),
        ("POST", "/internal/v1/credentials/verify"),
        ("GET", "/internal/v1/case-changes"),
        ("GET", "/v1/regulator/export.json"),
        ("GET", "v1/consumer/complaints"),
    ],
)
def test_everything_else_is_refused(method: str, path: str) -> None:
    assert TABLE.match(method, path) is None


def test_literal_segments_win_over_parameters() -> None:
    table = RouteTable([
        Route(Audience.REGULATOR, "GET", "/v1/regulator/reports/{id}", Upstream.COMPLAINTS),
        Route(Audience.REGULATOR, "GET", "/v1/regulator/reports/stats", Upstream.MEDIATION),
    ])
    route = table.match("GET", "/v1/regulator/reports/stats")
    assert route is not None
    assert route.service == Upstream.MEDIATION


def test_a_duplicate_route_is_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        RouteTable([
            Route(Audience.CONSUMER, "GET", "/v1/consumer/cases/{id}", Upstream.MEDIATION),
            Route(Audience.CONSUMER, "GET", "/v1/consumer/cases/{case_id}", Upstream.COMPLAINTS),
        ])


def test_every_route_is_under_its_audience_prefix() -> None:
    for route in ROUTES:
        assert route.template.startswith(f"/v1/{route.audience}/"), route


@pytest.mark.parametrize("route", [route for route in ROUTES if route.live_event], ids=lambda route: route.template)
def test_a_live_stream_follows_an_allow_listed_detail_of_a_service_with_a_case_feed(route: Route) -> None:
    assert route.service in FEED_SERVICES
    assert (route.method, route.streaming) == ("GET", True)
    assert route.template.endswith("/{id}/stream")
    detail = TABLE.match("GET", route.template.removesuffix("/stream").replace("{id}", "some-case"))
    assert detail is not None
    assert (detail.audience, detail.service) == (route.audience, route.service)


def test_the_consumers_complaint_stream_is_served_by_fan_out() -> None:
    route = TABLE.match("GET", "/v1/consumer/complaints/some-case/stream")
    assert route is not None
    assert route.live_event == "complaint"
