"""The secrets a local stack needs: made once, kept in `.odr/secrets.json` (mode 600), reused on later runs."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from servicekit.auth import TokenIssuer, generate_private_key_pem
from servicekit.settings import ServiceSettings

JWT_ISSUER: str = ServiceSettings.model_fields["jwt_issuer"].default


@dataclass(frozen=True)
class StackSecrets:
    jwt_private_key: str
    pii_key: str
    internal_token: str
    otp_secret: str
    regulator_password: str
    subject_key: str

    @classmethod
    def generate(cls) -> StackSecrets:
        """Fresh random secrets (the test stack uses these and never writes them down)."""
        return cls(
            jwt_private_key=generate_private_key_pem(),
            pii_key=secrets.token_urlsafe(32),
            internal_token=secrets.token_urlsafe(32),
            otp_secret=secrets.token_urlsafe(32),
            regulator_password=secrets.token_urlsafe(12),
            subject_key=secrets.token_urlsafe(32),
        )

    @classmethod
    def load_or_create(cls, path: Path) -> StackSecrets:
        """Read `path`, or create it with fresh secrets readable only by the owner."""
        if path.exists():
            # Files written before a secret existed get that one fresh; the ones already there are kept.
            return cls(**{**asdict(cls.generate()), **json.loads(path.read_text())})
        created = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(asdict(created), file, indent=2)
        return created

    @property
    def jwt_public_key(self) -> str:
        return TokenIssuer(self.jwt_private_key, JWT_ISSUER).public_key_pem()
