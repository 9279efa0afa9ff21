"""The deployment files keep their promises: every service has its own image with a health check, compose can scale
each service (no fixed host port but the gateway's), and the generated docs match the code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SERVICES = {
    "contacts": "services/contacts",
    "identity": "services/identity",
    "consent": "services/consent",
    "analytics": "services/analytics",
    "gateway": "gateway",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return data


class TestCompose:
    def test_official_images_for_kafka_kraft_and_mongodb(self, compose: dict[str, Any]) -> None:
        kafka, mongo = compose["services"]["kafka"], compose["services"]["mongo"]
        assert "apache/kafka:" in kafka["image"] and "mongo:" in mongo["image"]
        assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert not any("zookeeper" in name for name in compose["services"])

    @pytest.mark.parametrize("name", sorted(SERVICES))
    def test_each_service_builds_from_its_own_dockerfile_with_health_and_restart(
        self, compose: dict[str, Any], name: str
    ) -> None:
        svc = compose["services"][name]
        dockerfile = REPO / svc["build"]["dockerfile"]
        assert dockerfile.parent == REPO / SERVICES[name]
        text = dockerfile.read_text()
        assert "HEALTHCHECK" in text and f'CMD ["cdp-{name}"]' in text and "USER cdp" in text
        assert svc["restart"] == "unless-stopped"

    @pytest.mark.parametrize("name", ["contacts", "identity", "consent", "analytics"])
    def test_services_publish_no_host_port_so_they_scale(self, compose: dict[str, Any], name: str) -> None:
        assert "ports" not in compose["services"][name]


def test_generated_docs_are_current() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "gen_docs.py"), "--check"], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
