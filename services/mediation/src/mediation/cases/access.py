"""Who is acting on a case: each principal maps to one participant, or the case does not exist for them (404)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mediation.cases.models import MediationCase
from servicekit.auth import Audience, Principal, Role
from servicekit.problems import Problem

NOT_FOUND = "No such case"


@dataclass(frozen=True)
class Actor:
    """A participant as the audit trail records it: role (consumer, enterprise, mediator, regulator, system) and id."""

    role: str
    id: str


SYSTEM = Actor("system", "mediation")


def participant(case: MediationCase, principal: Principal) -> Actor:
    """The caller's part in this case; 404 if it has none, so ids of others' cases reveal nothing."""
    if principal.aud is Audience.CONSUMER and case.consumer_id == principal.sub:
        return Actor("consumer", principal.sub)
    if (principal.aud is Audience.MERCHANT and principal.merchant_id is not None
            and case.merchant_id == principal.merchant_id):
        return Actor("enterprise", principal.sub)
    if principal.aud is Audience.REGULATOR and principal.governs(case.region_code):
        if case.mediator_id is not None and case.mediator_id == principal.sub:
            return Actor("mediator", principal.sub)
        # Regulator staff supervise every case of their region; delegated mediators see only theirs.
        if Role.REGULATOR in principal.roles:
            return Actor("regulator", principal.sub)
    raise Problem("not-found", NOT_FOUND)


async def load_case(session: AsyncSession, case_id: uuid.UUID, *, for_update: bool = False) -> MediationCase:
    """The case (row-locked until the transaction ends when `for_update`), or a 404 problem."""
    query = select(MediationCase).where(MediationCase.id == case_id).execution_options(populate_existing=True)
    if for_update:
        query = query.with_for_update()
    case = (await session.execute(query)).scalar_one_or_none()
    if case is None:
        raise Problem("not-found", NOT_FOUND)
    return case


async def load_case_for(session: AsyncSession, case_id: uuid.UUID, principal: Principal, *,
                        for_update: bool = False) -> tuple[MediationCase, Actor]:
    """The case and the caller's part in it; 404 when the caller has none."""
    case = await load_case(session, case_id, for_update=for_update)
    return case, participant(case, principal)
