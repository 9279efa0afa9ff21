from __future__ import annotations

from cdp_common.settings import LOCAL_DEFAULT_SECRET, ServiceSettings
from pydantic import Field, SecretStr


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"
    http_port: int = 8000
    contacts_url: str = Field("http://127.0.0.1:8001", description="Internal base URL of the contacts service.")
    identity_url: str = "http://127.0.0.1:8002"
    consent_url: str = "http://127.0.0.1:8003"
    analytics_url: str = "http://127.0.0.1:8004"
    upstream_connect_timeout_seconds: float = 1.0
    upstream_timeout_seconds: float = 5.0
    bootstrap_admin_username: str = Field("admin", description="Created at start-up when it does not exist.")
    bootstrap_admin_password: SecretStr = Field(
        SecretStr(LOCAL_DEFAULT_SECRET), description="Refused at its default outside local and test."
    )
    rate_limit_per_second: float = Field(200.0, description="Per user or key, per gateway process.")
    rate_limit_burst: int = 400
