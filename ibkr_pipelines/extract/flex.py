"""Flex statements → frames of the flex_* tables: each saved query over the window, streamed from the parser.

A query is run with the window as ``fd``/``td`` (``FlexClient.fetch_statement``), in spans of at most
``FlexAccess.max_span_days`` (the Flex Web Service's range cap, a guess), newest first. The
statement's XML is parsed in chunks (``ibkr_pipelines.flex``), and each chunk goes to staging as it is
read. The token and URL come from the login (``IbkrClient.flex_access``), never from a row or a log.
"""

from __future__ import annotations

from typing import Any, Iterator

import polars as pl

from ibkr_pipelines.client.flex_client import FlexAccess, FlexClient
from ibkr_pipelines.client.protocol import ApiClient
from ibkr_pipelines.errors import ConfigError
from ibkr_pipelines.flex.parser import parse_flex
from ibkr_pipelines.windows import DateWindow


def flex_client_of(client: ApiClient) -> tuple[FlexClient, FlexAccess]:
    """The Flex Web Service client of this login (sharing its transport), and its queries; one line when none."""
    owner: Any = getattr(client, "wrapped", client)  # a fetch's wrapper (reuse.ReusingClient) shares its client's
    access: FlexAccess | None = getattr(owner, "flex_access", None)
    if access is None or not hasattr(owner, "flex"):
        raise ConfigError("IBKR_FLEX_TOKEN", "is needed for the Flex datasets: the Flex Web Service token "
                                             "(Reports > Settings > Flex Web Service), with IBKR_FLEX_QUERY_IDS")
    if not access.query_ids:
        raise ConfigError("IBKR_FLEX_QUERY_IDS", "name the saved Flex queries to run (Reports > Flex Queries), "
                                                 "e.g. 123456,234567")
    return owner.flex(access.token, base_url=access.url), access


def fetch_flex(client: ApiClient, window: DateWindow, *, max_wait_seconds: float = 300.0) -> Iterator[dict[str, pl.DataFrame]]:
    """Every query's statement over ``window``, as frames per flex table, chunk by chunk as parsed."""
    flex, access = flex_client_of(client)
    for query_id in access.query_ids:
        for span in window.spans(access.max_span_days) if access.max_span_days else [window]:
            xml = flex.fetch_statement(query_id, from_date=span.start, to_date=span.end, max_wait_seconds=max_wait_seconds)
            for chunk in parse_flex(xml.encode("utf-8")):
                yield {chunk.table: chunk.frame}
