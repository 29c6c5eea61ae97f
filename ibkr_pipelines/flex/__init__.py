"""Tolerant Flex parser: a FlexQueryResponse (bytes or file) -> frames of the flex_* tables, in bounded memory.

Modules: ``stream`` (iterparse walk), ``context`` (statement), ``sections`` (row -> table),
``mappings`` (attribute -> column), ``rows`` (conversion, keys), ``dates`` and ``day_order``
(every date layout, month/day order per file), ``values`` (numbers, flags), ``categories`` (cash
types), ``parser`` (chunks per table).
"""

from ibkr_pipelines.flex.parser import DEFAULT_CHUNK_ROWS, FlexChunk, parse_flex, read_flex
from ibkr_pipelines.flex.stream import FlexFileError

__all__ = ["DEFAULT_CHUNK_ROWS", "FlexChunk", "FlexFileError", "parse_flex", "read_flex"]
