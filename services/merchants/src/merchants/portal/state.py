"""A portal account's life cycle as a pure table of (status, action) -> next status.

The status is read off the account's columns (`status_of`): disabled once `disabled_at` is set, waiting for
activation while it has no password, else active. Re-enabling a disabled colleague is a reset: a fresh activation
code, so whoever had the old password no longer gets in.
"""

from __future__ import annotations

from enum import StrEnum

from merchants.credentials.models import StaffAccount
from servicekit.problems import Problem


class PortalUserStatus(StrEnum):
    PENDING_ACTIVATION = "pending_activation"
    ACTIVE = "active"
    DISABLED = "disabled"


class PortalUserAction(StrEnum):
    ACTIVATE = "activate"
    DISABLE = "disable"
    RESET = "reset"


S, A = PortalUserStatus, PortalUserAction
MOVES: dict[tuple[PortalUserStatus, PortalUserAction], PortalUserStatus] = {
    (S.PENDING_ACTIVATION, A.ACTIVATE): S.ACTIVE,
    (S.PENDING_ACTIVATION, A.DISABLE): S.DISABLED,
    (S.PENDING_ACTIVATION, A.RESET): S.PENDING_ACTIVATION,
    (S.ACTIVE, A.DISABLE): S.DISABLED,
    (S.ACTIVE, A.RESET): S.PENDING_ACTIVATION,
    (S.DISABLED, A.RESET): S.PENDING_ACTIVATION,
}


def status_of(account: StaffAccount) -> PortalUserStatus:
    if account.disabled_at is not None:
        return S.DISABLED
    return S.PENDING_ACTIVATION if account.password_hash is None else S.ACTIVE


def next_status(current: PortalUserStatus, action: PortalUserAction) -> PortalUserStatus:
    """The status `action` leads to from `current`, or a 409 problem when the table has no such move."""
    target = MOVES.get((current, action))
    if target is None:
        raise Problem("conflict", f"Cannot {action.value} a portal account that is {current.value}",
                      current_status=current.value, action=action.value)
    return target
