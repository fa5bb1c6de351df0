"""The composed view behind `GET /v1/merchant/portal-users/me`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from merchants.applications.models import OdrApplication, opened_decision_reason
from merchants.credentials.models import StaffAccount
from merchants.enrollment.models import Enrollment
from merchants.portal.schemas import ApplicationSummary, EnterpriseRead, PortalMe
from merchants.portal.service import merchant_of
from merchants.registry.models import Merchant
from servicekit.auth import Principal
from servicekit.pii import PiiCipher
from servicekit.problems import Problem


async def me(session: AsyncSession, cipher: PiiCipher, *, principal: Principal) -> PortalMe:
    """The signed-in portal user with the enterprise's enrollment and its latest ODR application."""
    merchant_id = merchant_of(principal)
    async with session.begin():
        account = (await session.execute(
            select(StaffAccount).where(StaffAccount.username == principal.sub, StaffAccount.merchant_id == merchant_id)
        )).scalar_one_or_none()
        row = (await session.execute(
            select(Merchant, Enrollment).outerjoin(Enrollment, Enrollment.merchant_id == Merchant.id)
            .where(Merchant.id == merchant_id)
        )).one_or_none()
        if account is None or row is None:
            raise Problem("not-found", "No such portal account")
        merchant, enrollment = row
        application = (await session.execute(
            select(OdrApplication).where(OdrApplication.merchant_id == merchant_id)
            .order_by(OdrApplication.submitted_at.desc()).limit(1)
        )).scalar_one_or_none()
        return PortalMe(
            username=account.username, display_name=account.display_name, role=account.role,
            enterprise=EnterpriseRead(
                merchant_id=merchant.id, name=merchant.name, uscc=merchant.uscc, region_code=merchant.region_code,
                enrollment_status=enrollment.status if enrollment else "none",
                approved_at=enrollment.approved_at if enrollment else None,
                suspended_at=enrollment.suspended_at if enrollment else None),
            application=ApplicationSummary(
                id=application.id, status=application.status, submitted_at=application.submitted_at,
                decided_at=application.decided_at, decision_reason=opened_decision_reason(application, cipher))
            if application else None)
