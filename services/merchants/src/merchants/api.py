"""Every router of the merchants service."""

from __future__ import annotations

from fastapi import APIRouter

from merchants.credentials.router import router as credentials_router

ROUTERS: list[APIRouter] = [credentials_router]
