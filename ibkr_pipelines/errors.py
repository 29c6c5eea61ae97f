"""Typed errors of the connector: each says what failed and what to do, and never carries a secret."""

from __future__ import annotations


class IbkrPipelinesError(Exception):
    """Base class for every error this package raises on purpose.

    ``retryable`` says whether running the same step again later may cure it (an orchestrator's
    retry policy); a wrong setting, a missing login or a refused request is not retried.
    """

    retryable: bool = False


class ConfigError(IbkrPipelinesError):
    """A setting is missing or unreadable; the message names the setting in one line."""

    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        super().__init__(f"{setting}: {problem}")


class IbkrError(IbkrPipelinesError):
    """An IBKR request failed; carries the endpoint and HTTP status (never headers or cookies)."""

    def __init__(self, message: str, *, endpoint: str = "", status: int | None = None) -> None:
        self.endpoint = endpoint
        self.status = status
        where = f" [{endpoint}{'' if status is None else f' -> {status}'}]" if endpoint else ""
        super().__init__(f"{message}{where}")


class NotAuthenticated(IbkrError):
    """The session is gone (401) and could not be re-established; ``text`` is IBKR's error text, if any."""

    def __init__(self, message: str, *, endpoint: str = "", status: int | None = None, text: str = "") -> None:
        self.text = text
        super().__init__(message, endpoint=endpoint, status=status)


class OAuthRefused(NotAuthenticated):
    """IBKR refused the OAuth credentials themselves: the message names the setting to fix."""


class GatewayNotLoggedIn(NotAuthenticated):
    """The Client Portal Gateway holds no login: a person must log in through its web page."""


class BrokerageSessionTaken(IbkrError):
    """Another platform (TWS, the mobile app) holds the username's brokerage session and we may not take it."""


class AccountNotVisible(IbkrError):
    """IBKR refused an account although the session is alive and listed: the login cannot see that account."""


class NoBridge(IbkrError):
    """The brokerage session (``/iserver`` tier) is missing and ``ssodh/init`` did not bring it up."""


class GatewayUnreachable(IbkrError):
    """Nothing answers at the configured address: the gateway is not running, or the host is wrong."""


class NotJsonAnswer(IbkrError):
    """The address answered a web page or a redirect instead of IBKR's JSON: a login page or a wrong URL."""


class IbkrUnavailable(IbkrError):
    """IBKR kept failing (5xx, timeouts, no answer) for longer than the run's outage budget."""


class PacingViolation(IbkrError):
    """IBKR answered 429: the scope is in the penalty box; carries the scope and when it ends."""

    retryable = True

    def __init__(self, message: str, *, endpoint: str, scope: str, until_epoch: float) -> None:
        self.scope = scope
        self.until_epoch = until_epoch
        super().__init__(message, endpoint=endpoint, status=429)


class ApiErrorBody(IbkrError):
    """IBKR answered with an error body (including the 200-with-``error`` form); ``text`` is IBKR's own words."""

    def __init__(self, message: str, *, endpoint: str = "", status: int | None = None, text: str = "") -> None:
        self.text = text
        super().__init__(message, endpoint=endpoint, status=status)


class TransientError(IbkrError):
    """A failure worth retrying (5xx, timeout, reset, truncated body) that outlived its deadline."""

    retryable = True


class NotReady(IbkrError):
    """IBKR has not finished what was asked (a Flex statement still generating): ask again later."""

    retryable = True

    def __init__(self, message: str, *, endpoint: str = "", status: int | None = None, code: str = "") -> None:
        self.code = code
        super().__init__(message, endpoint=endpoint, status=status)


class FlexError(ApiErrorBody):
    """The Flex Web Service refused the request with an error code (token, IP, query); ``code`` is IBKR's."""

    def __init__(self, message: str, *, endpoint: str = "", status: int | None = None, code: str = "", text: str = "") -> None:
        self.code = code
        super().__init__(message, endpoint=endpoint, status=status, text=text)


class ProblemAnswer(ApiErrorBody):
    """Account Management answered an RFC 9457 problem (``title``/``detail``), e.g. 404 unknown id, 422 business error."""

    def __init__(
        self, message: str, *, endpoint: str = "", status: int | None = None, title: str = "", detail: str = ""
    ) -> None:
        self.title = title
        self.detail = detail
        super().__init__(message, endpoint=endpoint, status=status, text=detail or title)
