"""A stand-in for Alibaba Cloud's SendSms endpoint over real HTTP: it checks each request's RPC signature with the
secret it shares with the test and answers as the provider would, per phone number."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from servicekit.infra import free_port
from servicekit.sms import rpc_signature

ACCESS_KEY_ID = "LTAI-test-key-id"
ACCESS_KEY_SECRET = "test-key-secret"


@dataclass
class FakeAliyunSms:
    """`answers` maps a phone number to the SendSms `Code` (default OK), or to an HTTP status as an int."""

    answers: dict[str, str | int] = field(default_factory=dict)
    received: list[dict[str, str]] = field(default_factory=list)
    bad_signatures: int = 0
    port: int = field(default_factory=free_port)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    async def _send_sms(self, request: web.Request) -> web.Response:
        form = {name: str(value) for name, value in (await request.post()).items()}
        presented = form.get("Signature", "")
        if (form.get("AccessKeyId") != ACCESS_KEY_ID
                or presented != rpc_signature(form, ACCESS_KEY_SECRET, method="POST")):
            self.bad_signatures += 1
            return web.json_response({"Code": "SignatureDoesNotMatch", "Message": "bad signature"}, status=400)
        self.received.append(form)
        answer = self.answers.get(form.get("PhoneNumbers", ""), "OK")
        if isinstance(answer, int):
            return web.Response(status=answer, text="provider trouble")
        body = {"Code": answer, "Message": "OK" if answer == "OK" else "refused", "RequestId": "fake-request"}
        if answer == "OK":
            body["BizId"] = f"biz-{len(self.received)}"
        return web.json_response(body)

    async def start(self) -> FakeAliyunSms:
        app = web.Application()
        app.router.add_post("/", self._send_sms)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
