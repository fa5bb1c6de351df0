"""Personal data at rest: AES-GCM encryption and a keyed blind index, both keys derived from `settings.pii_key`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_NONCE_BYTES = 12


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"odr-pii/" + purpose).derive(secret)


class PiiCipher:
    """Encrypts personal fields and computes blind indexes; separate derived keys for the two uses."""

    def __init__(self, secret: str) -> None:
        self._aead = AESGCM(_derive(secret.encode(), b"aes-256-gcm"))
        self._index_key = _derive(secret.encode(), b"blind-index")

    def encrypt(self, plaintext: str, *, context: str) -> bytes:
        """Nonce || ciphertext+tag; `context` (e.g. "complaint:<id>:phone") binds the value to its row and field."""
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), context.encode())

    def decrypt(self, blob: bytes, *, context: str) -> str:
        """Reverse of `encrypt`; raises cryptography's InvalidTag if the blob or its context was altered."""
        return self._aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], context.encode()).decode()

    def blind_index(self, value: str) -> bytes:
        """HMAC-SHA256 of the normalised value: equal inputs match, the value itself cannot be read back."""
        return hmac.new(self._index_key, normalise(value).encode(), hashlib.sha256).digest()


def normalise(value: str) -> str:
    """Whitespace and case do not make a different person."""
    return "".join(value.split()).lower()


def seal_for_event(cipher: PiiCipher, value: str, *, context: str) -> str:
    """A personal value an event must carry: AES-GCM with the shared PII key, base64, bound to `context` (the event
    contract names it, e.g. "complaints.complaint:<complaint id>:complainant.name"). Only services holding
    ODR_PII_KEY can open it; the topic, the producer's outbox and anything that copies the payload keep ciphertext."""
    return base64.b64encode(cipher.encrypt(value, context=context)).decode()


def open_from_event(cipher: PiiCipher, sealed: str, *, context: str) -> str:
    """Reverse of `seal_for_event`."""
    return cipher.decrypt(base64.b64decode(sealed), context=context)


def mask_name(name: str) -> str:
    """王芳 -> 王*, 欧阳娜娜 -> 欧***: the first character only."""
    return name[:1] + "*" * (len(name) - 1)


def mask_phone(phone: str) -> str:
    """13800138000 -> 138****8000: what a business may see of a consumer's phone."""
    if len(phone) < 8:
        return "*" * len(phone)
    return f"{phone[:3]}{'*' * (len(phone) - 7)}{phone[-4:]}"


def mask_id_number(id_number: str) -> str:
    """632801199001011234 -> 632***********1234: the first three and the last four characters."""
    if len(id_number) < 8:
        return "*" * len(id_number)
    return f"{id_number[:3]}{'*' * (len(id_number) - 7)}{id_number[-4:]}"


def mask_address(address: str) -> str:
    """青海省格尔木市昆仑中路12号 -> 青海省格尔木****: at most the first six characters (the province and city, which
    the case's region shows anyway), never more than half of the address."""
    shown = min(6, len(address) // 2)
    return address[:shown] + "****"
