"""The ODR enrollment life cycle as a pure table of (status, action) -> next status."""

from __future__ import annotations

from enum import StrEnum

from servicekit.problems import Problem


class EnrollmentStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class EnrollmentAction(StrEnum):
    APPLY = "apply"
    APPROVE = "approve"
    REJECT = "reject"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    REVOKE = "revoke"


S, A = EnrollmentStatus, EnrollmentAction
MOVES: dict[tuple[EnrollmentStatus, EnrollmentAction], EnrollmentStatus] = {
    (S.PENDING, A.APPROVE): S.APPROVED,
    (S.PENDING, A.REJECT): S.REJECTED,
    # A rejected enterprise may fix its dossier and apply again; a revoked one may not.
    (S.REJECTED, A.APPLY): S.PENDING,
    (S.APPROVED, A.SUSPEND): S.SUSPENDED,
    (S.APPROVED, A.REVOKE): S.REVOKED,
    (S.SUSPENDED, A.REINSTATE): S.APPROVED,
    (S.SUSPENDED, A.REVOKE): S.REVOKED,
}
FINAL: frozenset[EnrollmentStatus] = frozenset(
    status for status in EnrollmentStatus if not any(current == status for current, _ in MOVES)
)


def next_status(current: EnrollmentStatus, action: EnrollmentAction) -> EnrollmentStatus:
    """The status `action` leads to from `current`, or a 409 problem when the table has no such move."""
    target = MOVES.get((current, action))
    if target is None:
        raise Problem("conflict", f"Cannot {action.value} an enrollment that is {current.value}",
                      current_status=current.value, action=action.value)
    return target
