"""Salted scrypt hashes for client secrets and staff passwords, verified in constant time.

Encoded as ``scrypt$<log2 n>$<r>$<p>$<salt>$<digest>`` (base64), so the cost can be raised
later without invalidating stored hashes. Verification costs tens of milliseconds of CPU,
so async callers run it in a worker thread (hashlib releases the GIL while hashing).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from functools import cache

SCHEME = "scrypt"
LOG2_N = 14
BLOCK_SIZE = 8
PARALLELISM = 1
SALT_BYTES = 16
DIGEST_BYTES = 32


def _scrypt(secret: str, salt: bytes, log2_n: int, block_size: int, parallelism: int) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, n=2**log2_n, r=block_size, p=parallelism,
                          dklen=DIGEST_BYTES, maxmem=64 * 1024 * 1024)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def hash_secret(secret: str) -> str:
    """A new salted hash of `secret` in the encoded form stored in the database."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(secret, salt, LOG2_N, BLOCK_SIZE, PARALLELISM)
    return f"{SCHEME}${LOG2_N}${BLOCK_SIZE}${PARALLELISM}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, encoded: str) -> bool:
    """True when `secret` matches the stored hash; malformed hashes never match."""
    try:
        scheme, log2_n, block_size, parallelism, salt, digest = encoded.split("$")
        if scheme != SCHEME:
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(secret, base64.b64decode(salt), int(log2_n), int(block_size), int(parallelism))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


@cache
def _dummy_hash() -> str:
    return hash_secret(secrets.token_urlsafe(32))


def burn_verification(secret: str) -> None:
    """Spend the time of one real verification, so unknown accounts answer as slowly as known ones."""
    verify_secret(secret, _dummy_hash())


async def verify_secret_async(secret: str, encoded: str | None) -> bool:
    """Verify off the event loop; with no stored hash, burn the same time and return False."""
    if encoded is None:
        await asyncio.to_thread(burn_verification, secret)
        return False
    return await asyncio.to_thread(verify_secret, secret, encoded)


async def hash_secret_async(secret: str) -> str:
    """Hash off the event loop."""
    return await asyncio.to_thread(hash_secret, secret)
