"""Rules a staff or portal password must meet, and the temporary passwords administrators hand out.

They apply wherever a password is chosen (a user's change, the operator's CLI, station staff created by a regulator),
to every row of `staff_account`; a sign-in never re-checks them, so passwords set before the rules keep working.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from servicekit.problems import Problem

MIN_LENGTH = 12
MIN_CLASSES = 3
# The commonest passwords of at least 12 characters in published leak statistics (Latin and Chinese users);
# compared case-insensitively.
COMMON_PASSWORDS = frozenset({
    "123456789012", "1234567890123", "12345678910", "123123123123", "111111111111", "000000000000",
    "qwertyuiop12", "qwertyuiop123", "qwerty123456", "1qaz2wsx3edc", "1q2w3e4r5t6y", "1qaz@wsx3edc",
    "password1234", "password12345", "password@123", "passw0rd1234", "p@ssw0rd1234", "p@ssword1234",
    "admin1234567", "admin@123456", "administrator", "abc123456789", "abcd12345678", "a123456789012",
    "iloveyou1234", "woaini1314520", "woaini520520", "5201314520", "aa123456789012", "qq123456789012",
    "zxcvbnm12345", "asdfghjkl123", "welcome12345", "changeme1234", "letmein12345", "12315admin123",
})
_CLASSES = (str.islower, str.isupper, str.isdigit)


def character_classes(password: str) -> int:
    """How many of lower case, upper case, digits and other characters the password uses."""
    used = sum(any(test(char) for char in password) for test in _CLASSES)
    return used + any(not (char.isalnum() and char.isascii()) for char in password)


def rule_errors(password: str, *, username: str, field: str) -> list[dict[str, Any]]:
    """Field errors (code and message) for every rule the password breaks; empty when it is acceptable."""
    errors: list[dict[str, Any]] = []
    if len(password) < MIN_LENGTH:
        errors.append({"code": "password_too_short", "message": f"At least {MIN_LENGTH} characters"})
    if username and username.lower() in password.lower():
        errors.append({"code": "password_contains_username", "message": "The password must not contain the username"})
    if password.lower() in COMMON_PASSWORDS:
        errors.append({"code": "password_common", "message": "This password is too common"})
    if character_classes(password) < MIN_CLASSES:
        errors.append({"code": "password_too_few_classes",
                       "message": f"Use at least {MIN_CLASSES} of: lower case, upper case, digits, other characters"})
    return [{"field": field, **error} for error in errors]


def check_password(password: str, *, username: str, field: str = "body.new_password") -> None:
    """422 with the broken rules, or nothing."""
    errors = rule_errors(password, username=username, field=field)
    if errors:
        raise Problem("validation-error", "The password does not meet the rules", errors=errors)


# No 0/O, 1/l/I: a temporary password is read off a screen and typed.
_TEMPORARY_ALPHABET = "".join(char for char in string.ascii_letters + string.digits if char not in "0O1lI")


def temporary_password() -> str:
    """16 random characters in four groups (about 90 bits), meeting the rules; changed at the first sign-in."""
    while True:
        candidate = "-".join("".join(secrets.choice(_TEMPORARY_ALPHABET) for _ in range(4)) for _ in range(4))
        if not rule_errors(candidate, username="", field=""):
            return candidate
