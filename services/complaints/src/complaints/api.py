"""Every router of the service, in the order they are mounted."""

from __future__ import annotations

from fastapi import APIRouter

from complaints.complaint.router import consumer_router, regulator_router

ROUTERS: list[APIRouter] = [consumer_router, regulator_router]
