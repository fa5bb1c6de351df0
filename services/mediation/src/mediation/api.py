"""Every router of the mediation service."""

from __future__ import annotations

from fastapi import APIRouter

from mediation.cases.router import router as cases_router

ROUTERS: list[APIRouter] = [cases_router]
