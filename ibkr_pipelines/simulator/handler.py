"""The HTTP request handler: timestamps arrivals, applies pacing and faults, then answers.

/v1/api/* goes through pacing, fault injection, the session tiers and the routes. /sim/* is the
control surface for other processes (not paced, not counted, no faults): GET /sim/stats, POST
/sim/reset-stats, /sim/clock {"today", "time" (New York, HH:MM[:SS], or null)}, /sim/login, /sim/logout, /sim/expire-login (the gateway's
login is gone), /sim/expire-session (the brokerage session idled out), /sim/compete (another platform
takes the brokerage session), /sim/reset-window {"seconds"}, /sim/penalty {"scope","seconds"},
/sim/faults {...}, /sim/expire-oauth (every live OAuth 1.0a live session token, OAuth 2.0 access
token and SSO session bearer expires now), /sim/funding {...} (a test control, not IBKR: add a funding
instruction requested now, funding_control.py).

In OAuth mode (consumers registered: the simulator is api.ibkr.com) every /v1/api request is judged
by the OAuth gate (oauth1_gate.py) after pacing counted its arrival: a 429 verdict still wins (guess:
the penalty box sits at the edge, before authentication); a refusal is a 401 that neither touches the
session nor meets a fault; a validly signed request is the login, touches the session and goes on as
in gateway mode, the LST endpoint's answer standing in for a route. A request with
``Authorization: Bearer`` (or, with OAuth 2.0 clients only, any request without an OAuth header) is
judged by the OAuth 2.0 gate (oauth2_gate.py) instead, in the same place.

With OAuth 2.0 clients registered the handler also answers IBKR's other two roots (reference §1.4):
``POST /oauth2/api/v1/token`` and ``/gw/api/v1/*`` (``sso-sessions``; the Account Management root).
guess: they are not paced by the Client Portal limits nor met by faults (reference §5.1 counts CP API
requests); the AM API's own 10 req/s and 600 req/min and its scheduled downtime (§3.1) are policed by
am_guard.py; their errors are problem+json. A gateway simulator answers them 404 as before.

The Flex Web Service (reference §4) answers under ``/AccountManagement/FlexWebService`` (flex_service.py),
in every mode: another IBKR host with its own token and limits, so neither the Client Portal pacing, the
session nor the faults above meet it (its own Warn 1001 fault: FaultConfig.p_flex_1001). A statement is
streamed with chunked transfer encoding, never held whole.
"""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import sys
import time
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from ibkr_pipelines.simulator.api import compete_flag
from ibkr_pipelines.simulator.config import FaultConfig
from ibkr_pipelines.simulator.flex_service import FLEX_ROOT
from ibkr_pipelines.simulator.oauth1_gate import Verdict
from ibkr_pipelines.simulator.oauth2 import AM_ROOT, TOKEN_PATH
from ibkr_pipelines.simulator.routes import Reply, Request, error

if TYPE_CHECKING:
    from ibkr_pipelines.simulator.server import Simulator

API_PREFIX = "/v1/api"
_TOO_MANY = {"error": "Too many requests", "statusCode": 429}
_5XX_TEXT = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


_SSODH_INIT = "/iserver/auth/ssodh/init"


def _compete(raw: bytes) -> bool:
    """The ``compete`` value of an ssodh/init body (false when absent or unreadable)."""
    try:
        return compete_flag(json.loads(raw)) if raw.strip() else False
    except ValueError:
        return False


def dumps(body: Any) -> bytes:
    """Compact JSON bytes of a body."""
    return json.dumps(body, separators=(",", ":")).encode()


class SimRequestHandler(BaseHTTPRequestHandler):
    """One connection (keep-alive); every response carries Content-Length and is written in one go."""

    protocol_version = "HTTP/1.1"
    server_version = "IBKRSim/1.0"
    timeout = 300  # idle keep-alive connections are closed after this many seconds
    _arrival = 0.0

    def setup(self) -> None:
        """Disable Nagle, finish the TLS handshake in this thread, and register the connection."""
        sock = self.request
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        if isinstance(sock, ssl.SSLSocket):
            sock.settimeout(10)
            sock.do_handshake()
        super().setup()
        self.server.connections.add(sock)  # type: ignore[attr-defined]

    def finish(self) -> None:
        """Unregister the connection."""
        self.server.connections.discard(self.request)  # type: ignore[attr-defined]
        try:
            super().finish()
        except OSError:
            pass

    def parse_request(self) -> bool:
        """Timestamp the arrival right after the request line was read (after any simulated network delay)."""
        delay = self.sim.network_delay()
        if delay > 0:
            time.sleep(delay)
        self._arrival = time.monotonic()
        return super().parse_request()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silence per-request logging (it would cost more than the request)."""

    @property
    def sim(self) -> "Simulator":
        """The simulator this server belongs to."""
        return self.server.sim  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        """Dispatch GET."""
        self._dispatch()

    def do_POST(self) -> None:
        """Dispatch POST."""
        self._dispatch()

    def do_PUT(self) -> None:
        """Dispatch PUT."""
        self._dispatch()

    def do_DELETE(self) -> None:
        """Dispatch DELETE."""
        self._dispatch()

    # -- writing --
    def _send(self, status: int, body: bytes | None, headers: dict[str, str] | None = None) -> None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown"
        payload = b"" if body is None or status == 204 else body
        extra = dict(headers or {})
        content_type = extra.pop("Content-Type", "application/json; charset=utf-8")  # problem+json overrides
        lines = [f"HTTP/1.1 {status} {phrase}", f"Content-Type: {content_type}", f"Content-Length: {len(payload)}"]
        for k, v in extra.items():
            lines.append(f"{k}: {v}")
        if self.close_connection:
            lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)

    # -- dispatch --
    def _dispatch(self) -> None:
        arrival = self._arrival
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        path = parts.path
        if path.startswith("/sim/"):
            self._control(path, raw)
            return
        if path.startswith(FLEX_ROOT + "/"):
            self._flex(path, parts.query, arrival)
            return
        if self.sim.oauth2.active and (path == TOKEN_PATH or path.startswith(AM_ROOT + "/")):
            self._oauth2_root(path, raw, dict(parse_qsl(parts.query, keep_blank_values=True)))
            return
        if not (path.startswith(API_PREFIX + "/")):
            self._send(404, dumps({"error": f"Not Found: {path}", "statusCode": 404}))
            return
        rel = path[len(API_PREFIX):]
        target = rel + ("?" + parts.query if parts.query else "")
        sim = self.sim
        method = self.command.upper()
        pacer = sim.pacer  # one pacer per request, even if registering OAuth's first consumer swaps it
        ticket = pacer.arrive(method, rel, arrival)
        if rel == _SSODH_INIT:
            sim.session.note_ssodh_init(_compete(raw))  # every call sent counts, whatever it is answered
        answer: tuple[int, bytes | None, dict[str, str]] | None = None
        try:
            if sim.oauth_mode:
                answer = self._oauth_answer(sim, method, rel, target, parts.query, raw, arrival, ticket, path)
            else:
                # Every arrival reaches the gateway and refreshes (or discovers the end of) the idle
                # timer, including requests answered 429 or with an injected fault.
                state = sim.session.touch(arrival)
                answer = self._answer(sim, method, rel, target, parts.query, raw, arrival, ticket, state)
        finally:
            # Counted (and released from the concurrency scopes) just before the bytes go out, so a
            # client that sends its next request on receipt never overlaps with this one.
            pacer.done(ticket, answer[0] if answer else 0, time.monotonic())
        if answer is not None:
            self._send(*answer)

    def _flex(self, path: str, query: str, arrival: float) -> None:
        """Answer the Flex Web Service: small XML whole, a statement streamed in chunks."""
        sim = self.sim
        scheme = "https" if sim.config.tls else "http"
        host = self.headers.get("Host") or f"{sim.config.host}:{sim.port}"
        try:
            reply = sim.flex_request(path, dict(parse_qsl(query, keep_blank_values=True)), self.client_address[0],
                                     arrival, f"{scheme}://{host}{FLEX_ROOT}/GetStatement")
        except Exception as exc:  # a simulator bug must not kill the connection
            traceback.print_exc(file=sys.stderr)
            self._send(500, f"simulator error: {type(exc).__name__}".encode(), {"Content-Type": "text/plain"})
            return
        headers = {"Content-Type": reply.content_type}
        if reply.chunks is None:
            self._send(200, reply.body or b"", headers)
            return
        lines = ["HTTP/1.1 200 OK", f"Content-Type: {reply.content_type}", "Transfer-Encoding: chunked"]
        if self.close_connection:
            lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        try:
            for chunk in reply.chunks:
                if chunk:
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        except Exception:  # a simulator bug mid-statement: the answer cannot change status, so it is cut
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            return
        self.wfile.write(b"0\r\n\r\n")

    def _oauth2_root(self, path: str, raw: bytes, query: dict[str, str]) -> None:
        """Answer the token endpoint or the /gw root (OAuth 2.0, reference §1.4 steps 1-4)."""
        sim, method = self.sim, self.command.upper()
        content_type = self.headers.get("Content-Type")
        if path == TOKEN_PATH:
            reply = sim.oauth2_token(method, content_type, raw, self._signed_url(sim, path))
        else:
            reply = sim.oauth2_gateway(method, path, self.headers.get("Authorization"), content_type, raw, query)
        self._send(reply.status, None if reply.body is None else dumps(reply.body), reply.headers)

    def _signed_url(self, sim: "Simulator", path: str) -> str:
        """The URL the client called, as its signature must cover it: scheme, Host header, path; no query."""
        # Reference §1.3 step 4 signs quote_plus(full_url). The host is the request's Host header as
        # sent (ibind sends Host: api.ibkr.com); guess for a request without one: the bound address.
        scheme = "https" if sim.config.tls else "http"
        host = self.headers.get("Host") or f"{sim.config.host}:{sim.port}"
        return f"{scheme}://{host}{path}"

    def _oauth_answer(self, sim: "Simulator", method: str, rel: str, target: str, query: str, raw: bytes,
                      arrival: float, ticket: Any, path: str) -> tuple[int, bytes | None, dict[str, str]] | None:
        """OAuth mode: 429 first, then the gate (401 or the LST answer), then as in gateway mode."""
        if ticket.throttled:
            return self._answer(sim, method, rel, target, query, raw, arrival, ticket, "ok")
        pairs = parse_qsl(query, keep_blank_values=True)
        verdict: Verdict = sim.oauth_check(method, self._signed_url(sim, path), rel, pairs,
                                            self.headers.get("Authorization"), arrival)
        if verdict.refusal is not None:
            return verdict.refusal.status, dumps(verdict.refusal.body), {}
        state = sim.session.touch(arrival)
        return self._answer(sim, method, rel, target, query, raw, arrival, ticket, state, verdict.reply)

    def _answer(self, sim: "Simulator", method: str, rel: str, target: str, query: str, raw: bytes,
                arrival: float, ticket: Any, state: str,
                preset: Reply | None = None) -> tuple[int, bytes | None, dict[str, str]] | None:
        """Status, body and headers to send, or None to drop the connection unanswered (timeout).

        ``preset`` is an answer made before routing (the OAuth LST endpoint's); faults apply to it too.
        """
        cfg = sim.config
        if ticket.throttled:
            hdrs = {"Retry-After": str(ticket.retry_after)} if cfg.send_retry_after and ticket.retry_after else {}
            return 429, dumps(_TOO_MANY), hdrs
        fault, code = sim.faults.decide(method, target, ticket.scopes, ticket.key)
        delay = max([cfg.latency.get(n, 0.0) for n in ticket.scopes] + [cfg.latency.get(ticket.key, 0.0)])
        if fault == "timeout":
            time.sleep(sim.faults.config.timeout_seconds)
            self.close_connection = True
            return None
        headers: dict[str, str] = {}
        if fault == "5xx":
            reply = error(code, _5XX_TEXT[code])
        elif fault == "429":
            reply = Reply(429, dict(_TOO_MANY))
            if cfg.send_retry_after:
                headers["Retry-After"] = "1"
        elif fault == "drop_session":
            # The brokerage session drops under this request (as in PR #75 or after the nightly reset):
            # it is then answered as the new state says (/iserver: no bridge; /portfolio: as usual).
            sim.session.expire_brokerage()
            reply = preset if preset is not None else self._route(sim, method, rel, query, raw, arrival, state)
        else:
            reply = preset if preset is not None else self._route(sim, method, rel, query, raw, arrival, state)
        if delay > 0:
            time.sleep(delay)
        body = reply.raw if reply.raw is not None else (None if reply.body is None else dumps(reply.body))
        status = reply.status
        if fault == "malformed":
            status = 200
            body = body[: max(1, len(body) // 2)] if body and len(body) > 2 else b'{"'
        headers.update(reply.headers)
        return status, body, headers

    def _route(self, sim: "Simulator", method: str, rel: str, query: str, raw: bytes, arrival: float,
               state: str) -> Reply:
        body: Any = None
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError:
                return error(400, "Bad Request: body is not valid JSON")
        req = Request(method, rel, dict(parse_qsl(query, keep_blank_values=True)), body, arrival, state)
        try:
            return sim.api.handle(req)
        except Exception as exc:  # a simulator bug must not kill the connection
            traceback.print_exc(file=sys.stderr)
            return error(500, f"simulator error: {type(exc).__name__}")

    # -- control surface --
    def _control(self, path: str, raw: bytes) -> None:
        sim = self.sim
        try:
            data: Any = json.loads(raw) if raw.strip() else {}
            cmd = (self.command.upper(), path.rstrip("/"))
            if cmd == ("GET", "/sim/stats"):
                out: Any = sim.stats()
            elif cmd == ("POST", "/sim/reset-stats"):
                sim.reset_stats()
                out = {"ok": True}
            elif cmd == ("POST", "/sim/clock"):
                if "today" in data or "time" not in data:
                    sim.set_today(datetime.date.fromisoformat(data["today"]))
                if "time" in data:  # the New York wall time of the simulated now; null: the close
                    sim.set_time_of_day(datetime.time.fromisoformat(data["time"]) if data["time"] else None)
                t = sim.clock.time_of_day
                out = {"ok": True, "today": sim.clock.today.isoformat(), "time": t.isoformat() if t else None}
            elif cmd == ("POST", "/sim/funding"):
                out = {"ok": True} | sim.add_funding(data)
            elif cmd == ("POST", "/sim/login"):
                sim.login()
                out = {"ok": True}
            elif cmd == ("POST", "/sim/logout"):
                sim.logout()
                out = {"ok": True}
            elif cmd == ("POST", "/sim/expire-session"):
                sim.expire_session()  # the brokerage session idled out
                out = {"ok": True}
            elif cmd == ("POST", "/sim/expire-login"):
                sim.expire_login()  # the gateway's own login is gone (401 everywhere until /sim/login)
                out = {"ok": True}
            elif cmd == ("POST", "/sim/compete"):
                sim.compete()  # another platform takes the brokerage session now
                out = {"ok": True}
            elif cmd == ("POST", "/sim/reset-window"):
                sim.start_reset_window(float(data["seconds"]))
                out = {"ok": True}
            elif cmd == ("POST", "/sim/penalty"):
                sim.force_penalty(str(data["scope"]), float(data["seconds"]))
                out = {"ok": True}
            elif cmd == ("POST", "/sim/expire-oauth"):
                sim.expire_oauth()  # every live LST expires now (tests of mid-run renewal)
                out = {"ok": True}
            elif cmd == ("POST", "/sim/faults"):
                sim.set_faults(FaultConfig.from_dict(data))
                out = {"ok": True}
            else:
                self._send(404, dumps({"error": f"unknown control {cmd[0]} {cmd[1]}"}))
                return
        except (KeyError, ValueError, TypeError) as exc:
            self._send(400, dumps({"error": f"bad control request: {exc}"}))
            return
        self._send(200, dumps(out))
