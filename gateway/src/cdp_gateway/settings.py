from __future__ import annotations

from cdp_common.settings import ServiceSettings
from pydantic import Field


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"
    http_port: int = 8000
    contacts_url: str = Field("http://127.0.0.1:8001", description="Internal base URL of the contacts service.")
    identity_url: str = "http://127.0.0.1:8002"
    consent_url: str = "http://127.0.0.1:8003"
    analytics_url: str = "http://127.0.0.1:8004"
    upstream_connect_timeout_seconds: float = 1.0
    upstream_timeout_seconds: float = 5.0
