"""Typed settings shared by every service; each service extends `ServiceSettings` with its own fields.

Read from the environment with the `CRM_` prefix (`CRM_KAFKA_BOOTSTRAP`, `CRM_MONGODB_URI`, ...).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Secrets that ship in the repository for local use only; anywhere else they are refused at start-up.
LOCAL_DEFAULT_SECRET = "local-only-change-me"  # noqa: S105


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_", env_ignore_empty=True, extra="ignore")

    environment: Literal["local", "test", "staging", "production"] = Field(
        "local", description="Where this runs; default secrets are refused outside local and test."
    )
    service_name: str = Field("cdp", description="Name used in logs, metrics, CloudEvents `source`.")
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, comma separated.")
    mongodb_uri: str = Field("mongodb://127.0.0.1:27017", description="MongoDB (or compatible) URI.")
    database: str | None = Field(None, description="This service's own database; defaults to cdp_<service>.")
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    http_reuse_port: bool = Field(
        False,
        description="Bind the port with SO_REUSEPORT, so several processes of this service share it on one host "
        "(the kernel spreads connections over them).",
    )
    log_level: str = "INFO"
    stall_report_ms: float = Field(
        0.0,
        description="Log where the event loop is when it has been busy this long (stack as file, line, function; "
        "0 = off). `cdp_loop_lag_seconds` is measured either way.",
    )
    consumer_group: str | None = Field(None, description="Kafka consumer group; defaults to cdp-<service>.")
    secret_key: SecretStr = Field(SecretStr(LOCAL_DEFAULT_SECRET), description="Signing secret.")
    data_key_secret: SecretStr = Field(
        SecretStr(LOCAL_DEFAULT_SECRET),
        description="Key-encryption key of the per-subject data keys (crypto-shredding); the same on every service.",
    )
    shred_personal_data: bool = Field(
        True, description="Encrypt every event's data with its subject's key, destroyed on erasure (docs/privacy.md)."
    )
    retention_days: dict[str, int] = Field(
        default_factory=dict, description="Per data kind, how many days to keep (JSON); 0 keeps forever."
    )
    retention_interval_seconds: float = Field(3600.0, description="How often the retention job runs.")
    retry_backoff_seconds: float = Field(
        1.0, description="Pause before a message whose handling failed for a transient reason is redelivered."
    )

    @property
    def database_name(self) -> str:
        return self.database or f"cdp_{self.service_name}"

    @property
    def group_id(self) -> str:
        return self.consumer_group or f"cdp-{self.service_name}"

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> ServiceSettings:
        if self.environment not in ("local", "test"):
            for name, value in self:
                if isinstance(value, SecretStr) and value.get_secret_value() == LOCAL_DEFAULT_SECRET:
                    raise ValueError(
                        f"CRM_{name.upper()} is still the local default; set a real secret for {self.environment}"
                    )
            for name in ("secret_key", "data_key_secret"):
                if len(getattr(self, name).get_secret_value()) < 32:
                    raise ValueError(f"CRM_{name.upper()} must be at least 32 characters outside local and test")
        return self
