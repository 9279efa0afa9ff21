"""Wires the gateway: upstream clients for each service, routes, and the common app conventions."""

from __future__ import annotations

import httpx
from cdp_common.app import ServiceRuntime, create_app
from fastapi import FastAPI

from cdp_gateway import configuration, contacts
from cdp_gateway.settings import GatewaySettings
from cdp_gateway.upstream import Upstream

TITLE = "Customer Data Platform API"
DESCRIPTION = (
    "The one door for web and mobile clients, staff and channel integrations. Errors are RFC 9457 "
    "problem+json naming the field at fault."
)


def build(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    runtime = ServiceRuntime(settings=settings, broker=None)

    async def start(rt: ServiceRuntime) -> None:
        client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.upstream_timeout_seconds, connect=settings.upstream_connect_timeout_seconds),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )
        app.state.http = client
        app.state.upstreams = {
            "contacts": Upstream("contacts", settings.contacts_url, client),
            "identity": Upstream("identity", settings.identity_url, client),
            "consent": Upstream("consent", settings.consent_url, client),
            "analytics": Upstream("analytics", settings.analytics_url, client),
        }

        async def close_client() -> None:
            await client.aclose()

        rt.on_shutdown.append(close_client)

    app = create_app(
        runtime,
        title=TITLE,
        description=DESCRIPTION,
        routers=[contacts.router, configuration.router],
        on_startup=[start],
        uses_store=False,
    )
    return app
