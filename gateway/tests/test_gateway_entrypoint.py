"""The deployed entry point: `uvicorn gateway.main:create_app --factory`, configured only by the environment."""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from gateway_testkit import INTERNAL_TOKEN, Upstreams, gateway_settings, in_process_gateway

from servicekit.infra import free_port, wait_for_port


@contextmanager
def gateway_process(env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "gateway.main:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port)],
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(10)


def test_in_dev_the_factory_starts_from_the_environment_with_a_generated_key(upstreams: Upstreams) -> None:
    port = free_port()
    env = {"ODR_ENVIRONMENT": "dev", "ODR_COMPLAINTS_URL": upstreams.complaints.url,
           "ODR_MERCHANTS_URL": upstreams.merchants.url, "ODR_MEDIATION_URL": upstreams.mediation.url,
           "ODR_JWT_PRIVATE_KEY": "", "ODR_INTERNAL_TOKEN": INTERNAL_TOKEN}
    with gateway_process(env, port) as process:
        wait_for_port("127.0.0.1", port, timeout=15, process=process)
        base = f"http://127.0.0.1:{port}"
        code = httpx.post(f"{base}/auth/otp", json={"phone": "13800138000"}).json()["dev_code"]
        token = httpx.post(f"{base}/auth/token", data={"grant_type": "otp", "phone": "13800138000", "code": code})
        assert token.status_code == 200
        public = httpx.get(f"{base}/v1/public/complaints")
        assert public.json()["service"] == "complaints"
        process.terminate()
        output = process.communicate(timeout=10)[0].decode()
    assert "ODR_JWT_PRIVATE_KEY is not set" in output


def test_outside_dev_a_missing_signing_key_stops_start_up() -> None:
    env = {"ODR_ENVIRONMENT": "prod", "ODR_INTERNAL_TOKEN": "internal", "ODR_OTP_SECRET": "otp",
           "ODR_JWT_PRIVATE_KEY": ""}
    with gateway_process(env, free_port()) as process:
        output = process.communicate(timeout=30)[0].decode()
    assert process.returncode != 0
    assert "ODR_JWT_PRIVATE_KEY must be set" in output


async def test_outside_dev_the_code_is_not_returned(upstreams: Upstreams, signing_key: str) -> None:
    settings = gateway_settings(upstreams, signing_key, environment="prod")
    async with in_process_gateway(settings) as gateway:
        issued = await gateway.post("/auth/otp", json={"phone": "13800138000"})
        assert issued.status_code == 202
        assert issued.json() == {"expires_in": 300}
