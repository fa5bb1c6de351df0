"""`python -m gateway`: serve on ODR_GATEWAY_HOST:ODR_GATEWAY_PORT."""

import uvicorn

from gateway.main import create_app
from gateway.settings import GatewaySettings

if __name__ == "__main__":
    settings = GatewaySettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False,
                proxy_headers=False)
