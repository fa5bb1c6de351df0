"""Text messages: one sender interface, the Chinese templates, a development sender and the Alibaba Cloud adapter.

Whatever the provider, a message is a template code and its parameters: providers in mainland China send only
templates approved in advance, with the sender's signature (签名, e.g. 【12315】) put in front by the provider.
`render` shows the text the person receives.

`AliyunSmsSender` calls Short Message Service's `SendSms` (API version 2017-05-25) over httpx, signed with the RPC
signature (HMAC-SHA1 over the sorted, percent-encoded parameters; `rpc_signature`). Its answer decides what happens
to the message: `OK` is sent; throttling and the provider's own failures are `SmsRetryable` (the caller backs off and
tries again); anything else about the request (a bad number, a template or signature the account lacks) is
`SmsRejected` and will not succeed by retrying.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import string
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol
from urllib.parse import quote

import httpx


class SmsTemplate(StrEnum):
    SIGN_IN_CODE = "sign_in_code"
    ROUTED_TO_ENTERPRISE = "routed_to_enterprise"
    OFFER_RECEIVED = "offer_received"
    DECISION_TAKEN = "decision_taken"
    DEADLINE_APPROACHING = "deadline_approaching"
    CASE_CLOSED = "case_closed"


# The approved texts, in the provider's ${name} syntax; the signature is added in front by the provider.
TEMPLATES: dict[SmsTemplate, str] = {
    SmsTemplate.SIGN_IN_CODE: "您的登录验证码为${code}，5分钟内有效。如非本人操作，请忽略本短信。",
    SmsTemplate.ROUTED_TO_ENTERPRISE: "您的投诉${case_no}已转交被投诉经营者协商处理，请留意处理进展。",
    SmsTemplate.OFFER_RECEIVED: "经营者对您的投诉${case_no}提出了和解方案，请登录查看并答复。",
    SmsTemplate.DECISION_TAKEN: "市场监管部门已对您的投诉${case_no}作出${decision}决定，请登录查看。",
    SmsTemplate.DEADLINE_APPROACHING: ("您的投诉${case_no}协商期限将于${due_date}届满，"
                                       "届满未和解的将转由市场监管部门处理。"),
    SmsTemplate.CASE_CLOSED: "您的投诉${case_no}已办结（${outcome}），欢迎登录评价。",
}


def render(template: SmsTemplate, params: dict[str, str]) -> str:
    """The text as the person reads it (without the provider's signature); a missing parameter is an error."""
    return string.Template(TEMPLATES[template]).substitute(params)


@dataclass(frozen=True)
class SmsMessage:
    """One message to one mainland mobile number; `out_id` (our id of it) travels to the provider for receipts."""

    phone: str
    template: SmsTemplate
    params: dict[str, str]
    out_id: str = field(default_factory=lambda: uuid.uuid4().hex)


class SmsRetryable(Exception):
    """Not sent this time (throttled, network, the provider's own failure); sending again later may succeed."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class SmsRejected(Exception):
    """Refused for good (bad number, unknown template, credentials); sending again will not help."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class SmsSender(Protocol):
    """Sends one message and returns the provider's id of it, or raises SmsRetryable / SmsRejected."""

    name: str

    async def send(self, message: SmsMessage) -> str: ...


class DevSmsSender:
    """Delivers nothing: the message stays readable where it was queued (for complaints, `python -m complaints.cli
    sms-log`, which decrypts the queued rows), so a developer reads codes and notifications without a provider."""

    name = "dev"

    async def send(self, message: SmsMessage) -> str:
        try:
            render(message.template, message.params)
        except KeyError as exc:
            raise SmsRejected("missing_parameter") from exc
        return f"dev-{message.out_id}"


def percent_encode(value: str) -> str:
    """RFC 3986 encoding of UTF-8, as the RPC signature wants it: only A-Z a-z 0-9 - _ . ~ stay as they are."""
    return quote(value, safe="-_.~")


def rpc_signature(params: dict[str, str], access_key_secret: str, *, method: str = "POST") -> str:
    """Base64(HMAC-SHA1(secret + "&", method & %2F & encode(sorted, encoded query))) of every parameter but
    Signature."""
    canonical = "&".join(f"{percent_encode(name)}={percent_encode(value)}"
                         for name, value in sorted(params.items()) if name != "Signature")
    string_to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{access_key_secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


# SendSms answers that mean "later": flow control per number or account, and the provider's own trouble.
RETRYABLE_CODES = frozenset({"isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL", "Throttling.User",
                             "isp.SYSTEM_ERROR", "isp.RAM_PERMISSION_DENY", "ServiceUnavailable"})


class AliyunSmsSender:
    """Alibaba Cloud Short Message Service, action SendSms."""

    name = "aliyun"

    def __init__(self, client: httpx.AsyncClient, *, access_key_id: str, access_key_secret: str, sign_name: str,
                 template_codes: dict[str, str], endpoint: str = "https://dysmsapi.aliyuncs.com/") -> None:
        missing = sorted(template.value for template in SmsTemplate if template.value not in template_codes)
        if missing:
            raise ValueError(f"no Alibaba Cloud template code for {missing}")
        self.client = client
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.sign_name = sign_name
        self.template_codes = template_codes
        self.endpoint = endpoint

    def signed_params(self, message: SmsMessage, *, now: datetime | None = None,
                      nonce: str | None = None) -> dict[str, str]:
        """Every form field of the request, Signature included."""
        params = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "OutId": message.out_id,
            "PhoneNumbers": message.phone,
            "RegionId": "cn-hangzhou",
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": nonce or uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "TemplateCode": self.template_codes[message.template.value],
            "TemplateParam": json.dumps(message.params, ensure_ascii=False, separators=(",", ":")),
            "Timestamp": (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        return {**params, "Signature": rpc_signature(params, self.access_key_secret, method="POST")}

    async def send(self, message: SmsMessage) -> str:
        try:
            answer = await self.client.post(self.endpoint, data=self.signed_params(message))
        except httpx.HTTPError as exc:
            raise SmsRetryable(f"network:{type(exc).__name__}") from exc
        if answer.status_code >= 500:
            raise SmsRetryable(f"http:{answer.status_code}")
        try:
            body = answer.json()
        except ValueError as exc:
            raise SmsRetryable(f"http:{answer.status_code}:unreadable") from exc
        code = str(body.get("Code", f"http:{answer.status_code}"))
        if code == "OK":
            return str(body.get("BizId", ""))
        if code in RETRYABLE_CODES:
            raise SmsRetryable(code)
        raise SmsRejected(code)
