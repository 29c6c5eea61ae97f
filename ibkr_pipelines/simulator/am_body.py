"""The JSON object of an Account Management request body: plain JSON, or a JWS the client signed.

Reference §3.1: endpoints tagged "Signed JWT" are sent by one implementation as ``Content-Type:
application/jwt`` with the JSON payload signed as a JWS; the AM docs say bodies are "JSON request that
is encoded in base64"; the exact wire format is unverified, so "a simulator should accept plain JSON and
``application/jwt``". The JWS is verified as the SSO session's (reference §1.4 step 4) with
``oauth2.verify_client_jws``: RS256 with the registered key of the client the access token was issued to.

Guesses: its claims are the request object itself; ``iss``, when present, must be that client, and
``exp``, when present, in the future (on the wall clock, as every token check); a body with no
Content-Type is read as JSON; another media type is 415. Statuses follow the SSO session's refusals:
400 for what cannot be read, 401 for a signature that does not verify.
"""

from __future__ import annotations

import json
from typing import Any

from ibkr_pipelines.simulator.am_routes import AmRequest
from ibkr_pipelines.simulator.api import Reply
from ibkr_pipelines.simulator.oauth2 import numeric, verify_client_jws
from ibkr_pipelines.simulator.oauth2_gate import problem

JSON = "application/json"
JWT = "application/jwt"

# reason -> (status, problem+json detail); every text a guess.
PROBLEMS: dict[str, tuple[int, str]] = {
    "unsupported_media_type": (415, "the body must be application/json or a signed application/jwt"),
    "not_json": (400, "the body is not a JSON object"),
    "malformed": (400, "the body is not a compact JWS"),
    "unsupported_alg": (401, "the request JWS must be signed with RS256"),
    "unknown_kid": (401, "the request JWS kid is not the client's registered key id"),
    "bad_signature": (401, "the request JWS signature does not verify with the client's registered key"),
    "iss_mismatch": (401, "the request JWS iss is not the client the access token was issued to"),
    "expired": (400, "the request JWS has expired (exp is in the past)"),
}


class AmRefusal(Exception):
    """Raised inside an AM handler to answer a problem+json refusal; ``reason`` names it in the counters.

    The server answers it and counts ``reason`` (``stats()["account_management"]["refusals"]``).
    """

    def __init__(self, reason: str, reply: Reply) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reply = reply


def refusal(reason: str, status: int, detail: str, invalid: list[tuple[str, str]] | None = None,
            **members: Any) -> AmRefusal:
    """An AmRefusal with a problem+json reply; ``invalid`` fills ``invalidArguments`` (reference §3.1 error body),
    ``members`` are further members of the body (e.g. funding's ``instructionSetId``)."""
    reply = problem(status, detail)
    if invalid:
        reply.body["invalidArguments"] = [{"field": f, "description": d} for f, d in invalid]
    reply.body.update(members)
    return AmRefusal(reason, reply)


def _refuse(reason: str) -> AmRefusal:
    return refusal("body_" + reason, *PROBLEMS[reason])


def request_object(req: AmRequest) -> dict[str, Any]:
    """The request's JSON object, from plain JSON or a JWS signed by the requesting client (else AmRefusal)."""
    media = (req.content_type or "").split(";")[0].strip().lower()
    if media == JWT:
        return _signed(req)
    if media not in ("", JSON):
        raise _refuse("unsupported_media_type")
    try:
        body = json.loads(req.body.decode("utf-8")) if req.body.strip() else None
    except (UnicodeDecodeError, ValueError):
        body = None
    if not isinstance(body, dict):
        raise _refuse("not_json")
    return body


def _signed(req: AmRequest) -> dict[str, Any]:
    """The claims of a JWS body once its signature, ``iss`` and ``exp`` pass."""
    client = req.sim.oauth2.clients().get(req.client_id)
    try:
        text = req.body.decode("ascii").strip()
    except UnicodeDecodeError:
        raise _refuse("malformed") from None
    if client is None:  # the client was replaced between the bearer check and now
        raise _refuse("bad_signature")
    reason, claims = verify_client_jws(text, client)
    if reason is not None:
        raise _refuse(reason)
    if "iss" in claims and claims["iss"] != client.client_id:
        raise _refuse("iss_mismatch")
    exp = numeric(claims, "exp")
    if exp is not None and exp <= req.now:
        raise _refuse("expired")
    return claims
