"""Proof of fulfilment as the enterprise records it and the consumer answers it."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from mediation.agreements.models import SettlementAgreement
from mediation.fulfilment.models import FulfilmentProof, ProofAnswer, ProofKind, proof_context
from servicekit.pii import PiiCipher


class ProofCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ProofKind
    reference: str = Field(min_length=1, max_length=200, description="Refund transaction id, shipment number, ...")
    note: str | None = Field(default=None, max_length=2_000)


class ProofAnswerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2_000)


class ProofRead(BaseModel):
    id: uuid.UUID
    agreement_id: uuid.UUID
    kind: ProofKind
    reference: str
    note: str | None
    recorded_at: datetime
    answer: ProofAnswer | None
    answered_at: datetime | None
    fulfilment_status: str


def proof_read(proof: FulfilmentProof, agreement: SettlementAgreement, cipher: PiiCipher) -> ProofRead:
    note = (cipher.decrypt(proof.note_enc, context=proof_context(proof.id, "note"))
            if proof.note_enc is not None else None)
    return ProofRead(id=proof.id, agreement_id=agreement.id, kind=ProofKind(proof.kind),
                     reference=cipher.decrypt(proof.reference_enc, context=proof_context(proof.id, "reference")),
                     note=note, recorded_at=proof.recorded_at,
                     answer=ProofAnswer(proof.answer) if proof.answer else None, answered_at=proof.answered_at,
                     fulfilment_status=agreement.fulfilment_status)
