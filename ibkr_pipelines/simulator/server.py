"""The Simulator object (start/stop, controls, stats) and the blocking ``serve`` entry point."""

from __future__ import annotations

import datetime
import os
import random
import signal
import socket
import sys
import threading
import time
import traceback
from dataclasses import replace
from http.server import ThreadingHTTPServer
from typing import Any, Callable

from ibkr_pipelines.simulator.clock import SimClock
from ibkr_pipelines.simulator.config import FaultConfig, SimulatorConfig
from ibkr_pipelines.simulator.faults import FaultInjector
from ibkr_pipelines.simulator.flex_service import FLEX_ROOT, FlexReply, FlexService
from ibkr_pipelines.simulator.funding_control import instruction_from
from ibkr_pipelines.simulator.funding_desk import FundingDesk
from ibkr_pipelines.simulator.handler import SimRequestHandler
from ibkr_pipelines.simulator.oauth1 import OAuth1Consumer, OAuth1Credentials, consumer_from_files
from ibkr_pipelines.simulator.oauth1_gate import OAuth1Gate, Verdict
from ibkr_pipelines.simulator.am_endpoints import am_routes  # noqa: F401 - fills the AM route table
from ibkr_pipelines.simulator.am_body import AmRefusal
from ibkr_pipelines.simulator.am_guard import AmGuard
from ibkr_pipelines.simulator.am_routes import AmRequest, find_am_route
from ibkr_pipelines.simulator.oauth2 import AM_ROOT, SSO_SESSIONS_PATH, TOKEN_PATH, OAuth2Client, client_from_file
from ibkr_pipelines.simulator.oauth2_gate import OAuth2Gate, problem
from ibkr_pipelines.simulator.pacing import Pacer
from ibkr_pipelines.simulator.payloads import Views
from ibkr_pipelines.simulator.routes import Api, Reply, WorldState
from ibkr_pipelines.simulator.session import GatewaySession
from ibkr_pipelines.simulator.tls import TlsMaterial, make_self_signed
from ibkr_pipelines.simulator.world import WORLD_LAST, World, check_world_date

# The world is built this far past the clock, so moving the clock a few weeks forward (as tests do)
# needs no rebuild; a clock moved further rebuilds it, through the new date plus this margin again.
BUILD_MARGIN = datetime.timedelta(days=30)


def _through(today: datetime.date) -> datetime.date:
    """How far to build the world for a clock date: the margin past it, within the world's span."""
    return min(today + BUILD_MARGIN, WORLD_LAST)


class _Server(ThreadingHTTPServer):
    """Threaded HTTP server with daemon threads that remembers open connections to close on stop."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr: tuple[str, int], sim: "Simulator") -> None:
        self.sim = sim
        self.connections: set[socket.socket] = set()
        super().__init__(addr, SimRequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Client disconnects and TLS handshake failures are normal; stay quiet."""


class Simulator:
    """A faithful, deterministic IBKR Client Portal Web API simulator on a loopback port."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        today = self.config.effective_today()
        check_world_date(today)
        self.limits = self.config.effective_limits()
        self._oauth_limits = self.config.oauth_mode or self.config.auth == "oauth"
        self.clock = SimClock(today)
        self.started_on = today  # the simulated "now" of the world's owner; the clock may move from it
        oauth = self.config.oauth_mode  # api.ibkr.com: no gateway login, the LST (or bearer) is the login
        self.session = GatewaySession(self.config.logged_in and not oauth, self.config.idle_timeout_seconds,
                                      brokerage_at_start=self.config.brokerage_at_start and not oauth,
                                      competing=self.config.competing)
        self.oauth1 = OAuth1Gate(self.config.seed, self.config.lst_seconds, self.config.oauth1_timestamp_skew_seconds)
        self._oauth_lock = threading.Lock()  # the gate's verdict and the session's login change together
        for consumer in self.config.oauth1_consumers:
            self.oauth1.register(consumer)
        self.oauth2 = OAuth2Gate(self.config.bearer_seconds, ssodh_init_500=self.config.oauth2_ssodh_init_500)
        self._account_management_only = False  # OAuth 2.0 clients registered for /gw only (see below)
        for client in self.config.oauth2_clients:
            self.oauth2.register(client)
        self.pacer = Pacer(self.limits, self.config.penalty_scope)
        self.faults = FaultInjector(self.config.faults)
        self.flex = FlexService(self.config.effective_flex(), self.config.seed)
        self.am = AmGuard()  # the Account Management API's own limits, downtime and counters (reference §3.1)
        self.funding = FundingDesk(self.config.funding_query_seconds)  # am_funding.py's state
        self._world_lock = threading.Lock()
        state = self._build_state(_through(today))
        self.api = Api(state, self.session, self.clock, self.config)
        self._network = random.Random(f"{self.config.seed}-network")
        self._network_lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tls: TlsMaterial | None = None

    # -- lifecycle --
    def start(self) -> "Simulator":
        """Bind the port and serve on a background daemon thread; returns self."""
        if self._httpd is not None:
            return self
        httpd = _Server((self.config.host, self.config.port), self)
        if self.config.tls:
            self._tls = make_self_signed()
            ctx = self._tls.server_context()
            httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="ibkr-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every open connection and delete the TLS temp files."""
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
            for conn in list(httpd.connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._tls is not None:
            self._tls.cleanup()
            self._tls = None

    def __enter__(self) -> "Simulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses --
    @property
    def port(self) -> int:
        """The bound port (after start)."""
        if self._httpd is None:
            raise RuntimeError("simulator not started")
        return int(self._httpd.server_address[1])

    @property
    def root_url(self) -> str:
        """``http(s)://127.0.0.1:PORT``."""
        scheme = "https" if self.config.tls else "http"
        return f"{scheme}://{self.config.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The Client Portal API base, ``.../v1/api``."""
        return self.root_url + "/v1/api"

    @property
    def ca_bundle_path(self) -> str | None:
        """PEM of the self-signed certificate (a CA bundle for requests) when tls=True, else None."""
        return self._tls.cert_path if self._tls else None

    # -- the world --
    @property
    def world(self) -> World:
        """The world answers come from (replaced by a longer one when the clock moves past it)."""
        return self.api.world

    @property
    def views(self) -> Views:
        """Valuations and derived bodies of that world."""
        return self.api.views

    def _build_state(self, through: datetime.date) -> WorldState:
        """The world of this simulator's seed and account switches through ``through``."""
        return WorldState.build(self.config.seed, through, self.config.roster(), self.config.view_options(),
                                self.funding.added())

    def network_delay(self) -> float:
        """Seconds the next request spends on the way here (0..arrival_jitter_seconds, seeded)."""
        jitter = self.config.arrival_jitter_seconds
        if jitter <= 0:
            return 0.0
        with self._network_lock:
            return self._network.uniform(0.0, jitter)

    # -- OAuth 1.0a and 2.0 --
    @property
    def oauth_mode(self) -> bool:
        """True once an OAuth consumer or Client Portal client is registered: every /v1/api request must be authorized."""
        return self.oauth1.active or (self.oauth2.active and not self._account_management_only)

    def _enter_oauth_mode(self) -> None:
        """A gateway simulator becomes api.ibkr.com: no gateway login, OAuth limits, ssodh/init needed."""
        self.session.brokerage_at_start = False  # reference §1.3 step 11, §1.4 step 5: ssodh/init first
        self.session.logout()
        if not self._oauth_limits:  # reference §5.1: 50 req/s per username on the OAuth path
            self._oauth_limits = True
            self.limits = replace(self.config, auth="oauth").effective_limits()
            self.pacer = Pacer(self.limits, self.config.penalty_scope)

    def register_oauth1_consumer(self, consumer: OAuth1Consumer) -> OAuth1Credentials:
        """Register a consumer as IBKR's self-service portal does: public keys in, credentials out.

        The first registration on a gateway simulator turns it into api.ibkr.com: from then on every
        /v1/api request must be OAuth-signed, the gateway's login is gone (the LST is the login), and
        when gateway limits were in force they become IBKR's OAuth limits (with fresh pacing counters).
        """
        first = not self.oauth_mode
        creds = self.oauth1.register(consumer)
        if first:
            self._enter_oauth_mode()
        return creds

    def register_oauth2_client(self, client: OAuth2Client) -> None:
        """Register an OAuth 2.0 client (its public key under a key id, the IB username it acts for).

        As with an OAuth 1.0a consumer, the first registration on a gateway simulator turns it into
        api.ibkr.com: /oauth2 and /gw answer, and every /v1/api request needs a live bearer.
        """
        first = not self.oauth_mode
        self.oauth2.register(client)
        self._account_management_only = False
        if first:
            self._enter_oauth_mode()

    def register_account_management_client(self, client: OAuth2Client) -> None:
        """Register an OAuth 2.0 client for Account Management only (/oauth2 and /gw); /v1/api stays as it is.

        A real login can pair a Client Portal Gateway (localhost, its own browser login) for /v1/api with
        OAuth 2.0 credentials for api.ibkr.com's Account Management API (reference §3.1: that API takes
        only OAuth 2.0 access tokens): two hosts, two logins. This simulator serves both from one port,
        so a gateway simulator keeps its gateway login for /v1/api while /gw/api/v1 checks the token.
        """
        client_portal_oauth = self.oauth_mode
        self.oauth2.register(client)
        self._account_management_only = not client_portal_oauth

    @property
    def oauth1_credentials(self) -> dict[str, OAuth1Credentials]:
        """The credentials handed to each registered consumer, by consumer key."""
        return self.oauth1.credentials()

    def oauth_check(self, method: str, url: str, path: str, query: list[tuple[str, str]],
                     authorization: str | None, arrival: float) -> Verdict:
        """Judge a /v1/api request in OAuth mode (OAuth 1.0a or 2.0) and keep the session in step with the LSTs and bearers."""
        with self._oauth_lock:
            now = time.time()  # wall clock: timestamps, LST and bearer expiry (libfaketime agrees with itself)
            if self.session.logged_in and not (self.oauth1.any_live(now) or self.oauth2.any_live(now)):
                # guess: the Web API session lives on its LSTs (or SSO session bearers); with none left it is
                # gone (brokerage too), so one renewed after expiry starts a fresh session that needs
                # ssodh/init again, while one renewed before expiry (IbkrConduit renews an hour early)
                # keeps the session.
                self.session.logout()
            if self._uses_oauth2(authorization):
                verdict = self.oauth2.check(path, authorization, now)
            else:
                verdict = self.oauth1.check(method, url, path, query, authorization, now)
            if verdict.passed:
                self.session.ensure_login(arrival)
            return verdict

    def _uses_oauth2(self, authorization: str | None) -> bool:
        """Whether the OAuth 2.0 gate judges this /v1/api request: a Bearer, or no header and no consumer."""
        if not self.oauth2.active:
            return False
        scheme = (authorization or "").strip().partition(" ")[0].lower()
        return scheme == "bearer" or (not self.oauth1.active and scheme != "oauth")

    def oauth2_token(self, method: str, content_type: str | None, raw: bytes, token_url: str) -> Reply:
        """``POST /oauth2/api/v1/token`` (reference §1.4 steps 1-3), on the wall clock."""
        if method != "POST":
            return self.oauth2.refuse("method_not_allowed")
        return self.oauth2.token(content_type, raw, token_url, time.time())

    def oauth2_gateway(self, method: str, path: str, authorization: str | None, content_type: str | None,
                       raw: bytes, query: dict[str, str] | None = None) -> Reply:
        """A request under /gw/api/v1: ``POST sso-sessions`` (reference §1.4 step 4), else an AM endpoint."""
        now = time.time()
        if method == "POST" and path == SSO_SESSIONS_PATH:
            return self.oauth2.sso_session(authorization, content_type, raw, now)
        # The Account Management API (reference §3) takes the access token with the endpoint's scope
        # (§3.1); its endpoints are declared in am_routes (modules listed in am_endpoints).
        relative = path[len(AM_ROOT):]
        found = find_am_route(method, relative)
        refusal, client_id = self.oauth2.authorize(authorization, found[0].scope if found else None, now)
        if refusal is not None:
            return refusal
        if found is None:
            return self.oauth2.refuse("no_am_endpoint")
        route, match = found
        # The AM API's own limits (10 req/s per endpoint, 600 req/min per master account) and the route's
        # scheduled downtime on the simulated clock (reference §3.1): am_guard.py.
        refusal = self.am.admit(route, method, relative, client_id, now, self.clock.now())
        if refusal is not None:
            return refusal
        try:
            return route.handler(AmRequest(self, method, relative, match, query or {}, content_type, raw,
                                           client_id, now))
        except AmRefusal as refused:  # a handler's problem+json answer, counted by its reason
            self.am.refused(refused.reason)
            return refused.reply
        except Exception as exc:  # a simulator bug must not kill the connection
            traceback.print_exc(file=sys.stderr)
            return problem(500, f"simulator error: {type(exc).__name__}")

    def expire_oauth(self) -> None:
        """Every live LST, access token and bearer expires now: 401 until renewed (``POST /sim/expire-oauth``)."""
        with self._oauth_lock:
            now = time.time()
            self.oauth1.expire_all(now)
            self.oauth2.expire_all(now)
            self.session.logout()

    # -- the Flex Web Service --
    def flex_request(self, path: str, params: dict[str, str], client_ip: str, arrival: float,
                     get_url: str) -> FlexReply:
        """Answer a Flex Web Service request (flex_service.py) from one world and one simulated date."""
        api = self.api.pinned()
        target = f"{path}?q={params.get('q', '')}"  # the fault's request identity, without the token
        return self.flex.answer(path, params, client_ip, arrival, api.today, api.world, api.views, get_url,
                                lambda: self.faults.flex_warning(target))

    # -- controls --
    def set_today(self, d: datetime.date) -> None:
        """Move the simulated date; answers reflect the close of that date (ValueError before the world)."""
        check_world_date(d)
        with self._world_lock:
            if d > self.api.world.through:
                # Prefix-stable, so every answer about an earlier date stays the same. The new world
                # is complete before it is installed, and installed before the clock moves (Api.pinned).
                self.api.state = self._build_state(_through(d))
            self.clock.set_today(d)

    def add_funding(self, data: dict[str, Any]) -> dict[str, Any]:
        """Test control (``POST /sim/funding``, not IBKR): add an instruction requested now; its ids (ValueError).

        The world is rebuilt with it, so its cash is in every answer from its processed date on
        (funding_control.py describes the body).
        """
        with self._world_lock:
            instruction = instruction_from(data, self.funding.next_added_number(), self.clock.now(), self.world)
            self.funding.add(instruction)
            self.api.state = self._build_state(self.api.world.through)
        i = instruction
        return {"instructionId": i.instruction_id, "clientInstructionId": i.client_instruction_id,
                "instructionSetId": i.instruction_set_id, "requested": i.requested.isoformat(),
                "resolved": i.resolved.isoformat(), "outcome": i.outcome}

    def set_time_of_day(self, t: datetime.time | None) -> None:
        """Set the New York wall time of the simulated now (None: the close of the date, the default).

        Only what IBKR ties to the hour reads it: Account Management statements' readiness, scheduled
        downtime and funding instructions' status (reference §3.1, §3.3, §3.4). The date answers reflect
        is still ``set_today``'s.
        """
        self.clock.set_time(t)

    def stats(self) -> dict[str, Any]:
        """Pacing and status counters (see Pacer.stats) plus the session's flags and ssodh/init counts.

        ``stats()["session"]["ssodh_init"]`` is ``{"compete_true": n, "compete_false": m}``: every
        ssodh/init request that reached the simulator, by its ``compete`` value (a missing or non-true
        value counts as false), so a test can prove a client never asked to take over the session.

        ``stats()["oauth1"]`` counts consumers, LSTs issued, signed requests accepted and 401 refusals
        by reason (oauth1_gate.REFUSALS); never a token, secret or signature.

        ``stats()["flex"]`` counts Flex Web Service requests (``send_requests``, ``get_statements``),
        statements served (``statements``, ``statement_bytes``), 1019 answers (``not_ready``), 1018s
        (``throttled``), Warn 1001s (``warnings``) and every error code (``errors``); never a token.

        ``stats()["account_management"]`` counts Account Management requests per endpoint (``requests``),
        429s (``throttled``, ``throttled_by`` limit), scheduled-downtime 503s (``downtime``), documents served
        (``documents``, ``document_bytes``), funding's 208s for a reused clientInstructionId
        (``answered_208``) and handler refusals by reason (am_guard.py); never a token nor a document.

        ``stats()["oauth2"]`` counts clients, access tokens issued (``tokens_issued``), SSO sessions
        created, /v1/api requests a bearer let through (``bearer_requests``) and refusals by reason
        (oauth2_gate.PROBLEMS; /v1/api ones as ``cp_`` + an oauth2_gate.REFUSALS key); never a token.

        ``stats()["funding"]`` is the funding state (its requests and refusals count in
        ``account_management``): the login's instructions by status at the simulated now
        (``instructions``), recent-instruction queries kept and still pending (``queries``) and
        instructions tests added (``added_by_tests``); never a token.
        """
        out = self.pacer.stats()
        out["session"] = self.session.snapshot() | {"today": self.clock.today.isoformat()}
        out["oauth1"] = self.oauth1.stats()
        out["oauth2"] = self.oauth2.stats()
        out["flex"] = self.flex.stats()
        out["account_management"] = self.am.stats()
        now = self.clock.now()
        out["funding"] = self.funding.stats((i.status_at(now) for i in self.world.funding), time.time())
        return out

    def reset_stats(self) -> None:
        """Forget counters, rate windows and penalty boxes."""
        self.pacer.reset_stats()
        self.oauth1.reset_stats()
        self.oauth2.reset_stats()
        self.flex.reset_stats()
        self.am.reset_stats()

    def set_faults(self, faults: FaultConfig) -> None:
        """Replace the fault configuration (restarts the per-request fault counters)."""
        self.faults.set_config(faults)

    def force_penalty(self, scope: str, seconds: float) -> None:
        """The next request in ``scope`` answers 429 and boxes the scope for ``seconds``."""
        self.pacer.force_penalty(scope, seconds)

    def expire_session(self) -> None:
        """The brokerage session idled out: /iserver answers no bridge until ssodh/init; /portfolio still works."""
        self.session.expire_brokerage()

    def expire_login(self) -> None:
        """The gateway's own login is gone: 401 on every endpoint until login()."""
        self.session.logout()

    def compete(self) -> None:
        """Another platform (TWS, mobile) takes the brokerage session now (competing:true)."""
        self.session.compete()

    def start_reset_window(self, seconds: float) -> None:
        """Nightly reset: /iserver/* answers 503 for ``seconds``, then no bridge until ssodh/init."""
        self.session.start_reset_window(seconds)

    def login(self) -> None:
        """The browser login at the gateway: a fresh session, brokerage up as at start (brokerage_at_start)."""
        self.session.login()

    def logout(self) -> None:
        """Drop the gateway login (as /logout does): 401 on every endpoint until login()."""
        self.session.logout()


def write_credentials(creds: OAuth1Credentials, path: str | None) -> None:
    """``NAME=value`` lines of ``creds.as_env()`` to ``path`` (created 0600), or to stdout without a path."""
    text = "".join(f"{k}={v}\n" for k, v in creds.as_env().items())
    if path is None:
        print(text, end="", flush=True)
        return
    # Written whole to a new 0600 file, then renamed over ``path``: a reader waiting for the file never
    # sees it half written, and an older file's wider mode is not inherited.
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise ValueError(f"cannot write the OAuth credentials to {path}: {exc.strerror}") from None


def _appender(path: str) -> Callable[[str], None]:
    """A function appending one line to ``path`` (created 0600), for the --secrets-out test hook."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    lock = threading.Lock()

    def append(secret: str) -> None:
        with lock, open(path, "a", encoding="ascii") as out:
            out.write(secret + "\n")

    return append


def serve(port: int = 5000, tls: bool = False, seed: int = 7, today: datetime.date | None = None,
          logged_in: bool = True, *, oauth1_consumer: str | None = None, signature_public_key: str | None = None,
          encryption_public_key: str | None = None, realm: str | None = None,
          credentials_out: str | None = None, oauth2_client: str | None = None, key_id: str | None = None,
          public_key: str | None = None, credential: str | None = None, secrets_out: str | None = None,
          **options: Any) -> None:
    """Run a simulator in the foreground until KeyboardInterrupt, printing its base URL.

    ``options`` are further SimulatorConfig fields (e.g. ``paper=True``, ``extra_subaccounts=150``).
    With ``oauth1_consumer`` (and the two public key PEM paths) it stands in for api.ibkr.com with that
    OAuth consumer registered, and writes the consumer's credentials to ``credentials_out`` (0600) or,
    without it, prints them to stdout before serving. With ``oauth2_client`` (its ``key_id`` and
    ``public_key`` PEM path, optionally the IB username ``credential``) it registers that OAuth 2.0
    client too. ``secrets_out`` (a test's secret scan) gets every token issued, one per line.
    ValueError for a setting it cannot use.
    """
    if oauth2_client is not None:
        options["oauth2_clients"] = (client_from_file(oauth2_client, key_id, public_key, credential),)
    elif key_id or public_key or credential:
        raise ValueError("--key-id, --public-key and --credential need --oauth2-client")
    if oauth1_consumer is not None:
        if not (signature_public_key and encryption_public_key):
            raise ValueError("--oauth1-consumer needs --signature-public-key and --encryption-public-key")
        consumer = consumer_from_files(oauth1_consumer, signature_public_key, encryption_public_key, realm)
        options["oauth1_consumers"] = (consumer,)
    elif signature_public_key or encryption_public_key or realm or credentials_out:
        raise ValueError("--signature-public-key, --encryption-public-key, --realm and --credentials-out "
                         "need --oauth1-consumer")
    config = SimulatorConfig(seed=seed, today=today, port=port, tls=tls, logged_in=logged_in, **options)
    sim = Simulator(config)
    if secrets_out is not None:
        sim.oauth1.on_secret = sim.oauth2.on_secret = _appender(secrets_out)
    sim.start()
    try:
        for creds in sim.oauth1_credentials.values():
            write_credentials(creds, credentials_out)
    except ValueError:
        sim.stop()
        raise
    line = f"IBKR simulator serving {sim.base_url}"
    if tls:
        line += f" (CA bundle: {sim.ca_bundle_path})"
    print(line, flush=True)
    for text in sim.config.flex.describe():  # the simulator's own demo token: nothing secret
        print(f"{text} (at {sim.root_url}{FLEX_ROOT})" if text.startswith("Flex token") else text, flush=True)
    for client in sim.oauth2.clients().values():  # ids only: nothing secret
        print(f"OAuth 2.0 client {client.client_id} (key id {client.key_id}, credential {client.credential}): "
              f"token endpoint {sim.root_url}{TOKEN_PATH}", flush=True)
    # Handlers of its own: a process started in the background by a script inherits SIGINT ignored, and
    # SIGTERM's default would skip the stop (its threads, a temporary AM key file) and the closing line.
    previous = {s: signal.signal(s, _stop_serving) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        threading.Event().wait()
    except _StopServing:
        pass
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        sim.stop()
        print("IBKR simulator stopped", file=sys.stderr)


class _StopServing(Exception):
    """SIGINT or SIGTERM reached ``serve``."""


def _stop_serving(_signum: int, _frame: object) -> None:
    raise _StopServing
