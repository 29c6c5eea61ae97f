"""Builds an ``IbkrClient`` from ``Settings``: TLS policy, auth strategy, shared pacing store."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import socket
import warnings
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlparse

from ibkr_pipelines.client.auth import Authenticator, GatewayAuth
from ibkr_pipelines.client.http_client import IbkrClient
from ibkr_pipelines.client.pacer import Pacer
from ibkr_pipelines.client.pacing_store import FilePacingStore
from ibkr_pipelines.client.retry import RetryPolicy
from ibkr_pipelines.client.stats import RunStats
from ibkr_pipelines.config import Settings

log = logging.getLogger(__name__)


def tls_verify(settings: Settings, *, ca_bundle: Path | None = None) -> bool | str:
    """What ``requests`` should verify against: a CA bundle, the system store, or nothing (with a warning)."""
    bundle = ca_bundle or settings.ca_bundle
    if bundle is not None:
        return str(bundle)
    if not settings.verify_tls:
        log.warning(
            "TLS verification is OFF (IBKR_VERIFY_TLS=false): use IBKR_CA_BUNDLE with the gateway's certificate instead"
        )
        import urllib3

        warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
        return False
    return True


def canonical_host(host: str) -> str:
    """One spelling per machine: every loopback name is ``loopback``; a name becomes its lowest address."""
    name = host.strip().lower().rstrip(".").strip("[]")
    if name == "localhost" or name.endswith(".localhost"):
        return "loopback"
    try:
        addresses = {ipaddress.ip_address(name)}
    except ValueError:
        try:
            addresses = {ipaddress.ip_address(info[4][0].split("%")[0]) for info in socket.getaddrinfo(name, None)}
        except (socket.gaierror, UnicodeError, ValueError):
            return name  # unresolvable here: the first request will say so
    unmapped = {a.ipv4_mapped or a if isinstance(a, ipaddress.IPv6Address) else a for a in addresses}
    if all(a.is_loopback for a in unmapped):
        return "loopback"
    return min(str(a) for a in unmapped)


def gateway_identity(settings: Settings, base_url: str) -> str:
    """Who the pacing budget belongs to: the auth mode and the gateway's host and port, however spelled."""
    parsed = urlparse(base_url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return f"{settings.auth}|{canonical_host(parsed.hostname or '')}|{port}"


def pacing_file(settings: Settings, base_url: str) -> Path:
    """The pacing state file shared by every process calling this IBKR gateway as this user."""
    key = gateway_identity(settings, base_url)
    return settings.pacing_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"


def auth_strategy(settings: Settings) -> Authenticator:
    """The authenticator for IBKR_AUTH: a gateway someone logged into, OAuth 1.0a or OAuth 2.0 credentials."""
    if settings.auth == "oauth1" and settings.oauth1 is not None:
        from ibkr_pipelines.client.oauth1 import OAuth1Auth  # loads the keys: only in this mode

        return OAuth1Auth(settings.oauth1, compete=settings.compete)
    if settings.auth == "oauth2" and settings.oauth2 is not None:
        from ibkr_pipelines.client.oauth2 import OAuth2Auth  # loads the key: only in this mode

        return OAuth2Auth(settings.oauth2, compete=settings.compete)
    return GatewayAuth(compete=settings.compete)


def build_client(
    settings: Settings,
    base_url: str,
    *,
    ca_bundle: Path | None = None,
    stats: RunStats | None = None,
    retry: RetryPolicy | None = None,
    verdict_group: str | None = None,
) -> IbkrClient:
    """A ready-to-use client for ``base_url`` with the settings' limits, TLS policy and shared pacing."""
    pacer = Pacer(settings.limits(), FilePacingStore(pacing_file(settings, base_url)))
    policy = replace(retry or RetryPolicy(), outage_seconds=settings.outage_seconds)
    return IbkrClient(
        base_url,
        auth=auth_strategy(settings),
        pacer=pacer,
        verify=tls_verify(settings, ca_bundle=ca_bundle),
        timeout_seconds=settings.timeout_seconds,
        retry=policy,
        stats=stats,
        tickle_seconds=settings.tickle_seconds,
        verdict_group=verdict_group,
    )
