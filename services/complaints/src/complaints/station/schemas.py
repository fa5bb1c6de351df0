"""Bodies of the station desk's own endpoints: its figures (the filing and settlement bodies are the complaint's)."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, Field


class Period(StrEnum):
    """How the station's figures are bucketed: by the local day or month the cases were filed."""

    DAY = "day"
    MONTH = "month"


class StationCounts(BaseModel):
    """What a station did with the cases it filed in a period (each counted in the period it was filed)."""

    received: int = Field(description="cases the station filed for walk-in consumers (complaints and reports)")
    settled_on_spot: int = Field(description="of those, complaints the station settled itself (at filing or later)")
    referred: int = Field(description="the others: passed on to the regulator or an ODR enterprise")
    closed: int = Field(description="of those received, cases concluded by now, however they ended")
    recovered_fen: int = Field(description="money recovered for the consumers of those cases, in fen, however "
                                           "settled (on the spot, in negotiation or in mediation)")
    recovered_on_spot_fen: int = Field(description="the part of recovered_fen settled on the spot")


class StationPeriodCounts(StationCounts):
    start: date = Field(description="first day of the day or month")


class StationFigures(BaseModel):
    station_id: uuid.UUID
    period_from: date = Field(serialization_alias="from")
    period_to: date = Field(serialization_alias="to")
    period: Period
    totals: StationCounts
    periods: list[StationPeriodCounts] = Field(description="every day or month of the range, oldest first, "
                                                           "empty ones included")
