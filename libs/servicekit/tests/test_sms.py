"""servicekit.sms: the provider's published signature example, the adapter against a fake SendSms endpoint that
checks every signature, the templates and the development sender."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from servicekit.infra import free_port
from servicekit.sms import (
    AliyunSmsSender,
    DevSmsSender,
    SmsMessage,
    SmsRejected,
    SmsRetryable,
    SmsTemplate,
    percent_encode,
    render,
    rpc_signature,
)
from servicekit.testing.fake_aliyun_sms import ACCESS_KEY_ID, ACCESS_KEY_SECRET, FakeAliyunSms

CODES = {template.value: f"SMS_{index:08d}" for index, template in enumerate(SmsTemplate)}


def test_the_signature_reproduces_the_providers_published_sendsms_example() -> None:
    """Alibaba Cloud SMS, "HTTP协议及签名" (https://help.aliyun.com/document_detail/56189.html), the worked SendSms
    example: AccessKeySecret testSecret, these parameters signed for GET give zJDF+Lrzhj/ThnlvIToysFRq6t4=. The
    algorithm is the one of https://www.alibabacloud.com/help/zh/sms/signature-method (RFC 3986 encoding, sorted
    parameters, HMAC-SHA1 keyed with the secret and "&", Base64)."""
    published = {
        "AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123",
        "PhoneNumbers": "15300000001", "RegionId": "cn-hangzhou", "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0", "TemplateCode": "SMS_71390007", "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z", "Version": "2017-05-25",
    }
    assert rpc_signature(published, "testSecret", method="GET") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert rpc_signature({**published, "Signature": "ignored"}, "testSecret", method="GET") == (
        "zJDF+Lrzhj/ThnlvIToysFRq6t4=")
    assert rpc_signature(published, "testSecret", method="POST") != "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_percent_encoding_follows_rfc_3986_as_the_signature_needs() -> None:
    assert percent_encode("a b*~") == "a%20b%2A~"
    assert percent_encode("阿") == "%E9%98%BF"
    assert percent_encode('{"k":"v"}') == "%7B%22k%22%3A%22v%22%7D"


def test_every_template_renders_in_chinese_and_a_missing_parameter_is_an_error() -> None:
    assert render(SmsTemplate.SIGN_IN_CODE, {"code": "123456"}).startswith("您的登录验证码为123456")
    assert "TS-632801-20261128-000123" in render(SmsTemplate.CASE_CLOSED,
                                                 {"case_no": "TS-632801-20261128-000123", "outcome": "已和解"})
    with pytest.raises(KeyError):
        render(SmsTemplate.DECISION_TAKEN, {"case_no": "TS-1"})


async def test_the_development_sender_accepts_complete_messages_only() -> None:
    sender = DevSmsSender()
    message = SmsMessage(phone="13800138000", template=SmsTemplate.SIGN_IN_CODE, params={"code": "123456"})
    assert await sender.send(message) == f"dev-{message.out_id}"
    with pytest.raises(SmsRejected):
        await sender.send(SmsMessage(phone="13800138000", template=SmsTemplate.SIGN_IN_CODE, params={}))


@pytest.fixture
async def provider() -> AsyncIterator[FakeAliyunSms]:
    fake = await FakeAliyunSms(answers={"13900000002": "isv.BUSINESS_LIMIT_CONTROL",
                                        "13900000003": "isv.MOBILE_NUMBER_ILLEGAL", "13900000004": 503}).start()
    yield fake
    await fake.stop()


def sender_for(client: httpx.AsyncClient, url: str, secret: str = ACCESS_KEY_SECRET) -> AliyunSmsSender:
    return AliyunSmsSender(client, access_key_id=ACCESS_KEY_ID, access_key_secret=secret, sign_name="12315",
                           template_codes=CODES, endpoint=url)


async def test_the_adapter_sends_a_signed_request_the_provider_accepts(provider: FakeAliyunSms) -> None:
    async with httpx.AsyncClient() as client:
        sender = sender_for(client, provider.url)
        message = SmsMessage(phone="13900000001", template=SmsTemplate.OFFER_RECEIVED,
                             params={"case_no": "TS-632801-20261128-000123"})
        assert await sender.send(message) == "biz-1"
    form = provider.received[0]
    assert provider.bad_signatures == 0
    assert (form["Action"], form["Version"], form["SignName"], form["TemplateCode"], form["OutId"]) == (
        "SendSms", "2017-05-25", "12315", CODES["offer_received"], message.out_id)
    assert form["TemplateParam"] == '{"case_no":"TS-632801-20261128-000123"}'


async def test_a_wrong_secret_is_refused_for_good(provider: FakeAliyunSms) -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(SmsRejected) as refused:
            await sender_for(client, provider.url, secret="not-the-secret").send(
                SmsMessage(phone="13900000001", template=SmsTemplate.SIGN_IN_CODE, params={"code": "123456"}))
    assert refused.value.code == "SignatureDoesNotMatch"
    assert provider.bad_signatures == 1


async def test_throttling_and_provider_trouble_are_retryable_and_a_bad_number_is_not(
        provider: FakeAliyunSms) -> None:
    async with httpx.AsyncClient() as client:
        sender = sender_for(client, provider.url)

        def to(phone: str) -> SmsMessage:
            return SmsMessage(phone=phone, template=SmsTemplate.SIGN_IN_CODE, params={"code": "123456"})

        with pytest.raises(SmsRetryable) as throttled:
            await sender.send(to("13900000002"))
        assert throttled.value.code == "isv.BUSINESS_LIMIT_CONTROL"
        with pytest.raises(SmsRejected) as rejected:
            await sender.send(to("13900000003"))
        assert rejected.value.code == "isv.MOBILE_NUMBER_ILLEGAL"
        with pytest.raises(SmsRetryable) as unavailable:
            await sender.send(to("13900000004"))
        assert unavailable.value.code == "http:503"
        with pytest.raises(SmsRetryable):
            await sender_for(client, f"http://127.0.0.1:{free_port()}/").send(to("13900000001"))


def test_every_template_needs_a_code_and_the_request_is_deterministic_given_time_and_nonce() -> None:
    with pytest.raises(ValueError, match="sign_in_code"):
        AliyunSmsSender(httpx.AsyncClient(), access_key_id="k", access_key_secret="s", sign_name="12315",
                        template_codes={})
    sender = sender_for(httpx.AsyncClient(), "http://unused/")
    message = SmsMessage(phone="13900000001", template=SmsTemplate.SIGN_IN_CODE, params={"code": "1"}, out_id="o")
    at = datetime(2026, 12, 5, 1, 2, 3, tzinfo=UTC)
    first = sender.signed_params(message, now=at, nonce="n")
    assert first == sender.signed_params(message, now=at, nonce="n")
    assert first["Timestamp"] == "2026-12-05T01:02:03Z"
    assert first["Signature"] == rpc_signature(first, ACCESS_KEY_SECRET, method="POST")
