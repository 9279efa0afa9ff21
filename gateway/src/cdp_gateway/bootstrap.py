"""Wires the gateway: upstream clients for each service, routes, and the common app conventions."""

from __future__ import annotations

from cdp_common.app import ServiceRuntime, create_app
from cdp_common.messaging import EventPublisher, make_broker
from cdp_common.retention import RetentionRule
from cdp_common.topics import IDENTITY_RECORDS, INTERACTION_EVENTS
from fastapi import FastAPI

from cdp_gateway import (
    access,
    analytics,
    configuration,
    consent,
    console,
    contacts,
    identity,
    ingestion,
    privacy,
)
from cdp_gateway.auth import AuthStore, RateLimiter
from cdp_gateway.fast_read import FastProfileRead
from cdp_gateway.settings import GatewaySettings
from cdp_gateway.upstream import Upstream, open_session

TITLE = "Customer Data Platform API"
DESCRIPTION = (
    "The one door for web and mobile clients, staff and channel integrations. Errors are RFC 9457 "
    "problem+json naming the field at fault."
)


def build(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    broker = make_broker(settings.kafka_bootstrap, "cdp-gateway", description=DESCRIPTION)
    for topic in (INTERACTION_EVENTS, IDENTITY_RECORDS):
        broker.publisher(topic.name, title=f"gateway -> {topic.name}", description="POST /v1/events")
    runtime = ServiceRuntime(settings=settings, broker=broker)

    async def start(rt: ServiceRuntime) -> None:
        client = open_session(settings.upstream_timeout_seconds, settings.upstream_connect_timeout_seconds)
        app.state.http = client
        app.state.auth = AuthStore(rt.db, settings.secret_key.get_secret_value())
        await app.state.auth.ensure_admin(
            settings.bootstrap_admin_username, settings.bootstrap_admin_password.get_secret_value()
        )
        app.state.limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
        app.state.publisher = EventPublisher(broker)
        app.state.upstreams = {
            "contacts": Upstream("contacts", settings.contacts_url, client),
            "identity": Upstream("identity", settings.identity_url, client),
            "consent": Upstream("consent", settings.consent_url, client),
            "analytics": Upstream("analytics", settings.analytics_url, client),
        }

        async def close_client() -> None:
            await client.close()

        rt.on_shutdown.append(close_client)

    routers = [
        access.router,
        analytics.router,
        contacts.router,
        configuration.router,
        consent.router,
        identity.router,
        ingestion.router,
        privacy.router,
    ]
    app = create_app(
        runtime,
        retention=(
            RetentionRule("access_audit", "audit", "at", 730, "Who read or changed personal data, when, by route."),
            RetentionRule("expired_refresh_tokens", "refresh_tokens", "expires_at", 1, "Refresh tokens past expiry."),
        ),
        title=TITLE,
        description=DESCRIPTION,
        routers=routers,
        on_startup=[start],
        hot_routes=("/v1/contacts/{contact_id}", "/v1/events"),  # logged only when they fail or are slow
        fast_paths=[(FastProfileRead, {"routers": routers})],
    )
    console.mount(app)
    return app
