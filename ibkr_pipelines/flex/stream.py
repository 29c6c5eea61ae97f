"""Walk a FlexQueryResponse row by row in bounded memory.

``xml.etree.ElementTree.iterparse`` builds each element; once a row has been read it is cleared
and removed from its parent, so the tree never holds more than the open path (response,
statements, statement, section, row). Any element inside a FlexStatement that has attributes is a
row (a section such as ``ChangeInNAV`` or ``AccountInformation`` can itself be one); its section
is the statement's child it sits in, however deep (``FxPositions/FxLots/FxLot``).
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from ibkr_pipelines.errors import IbkrPipelinesError

RESPONSE = "FlexQueryResponse"
STATEMENT = "FlexStatement"
_STATEMENT_DEPTH = 2  # FlexQueryResponse / FlexStatements / FlexStatement


class FlexFileError(IbkrPipelinesError):
    """The input is not a readable FlexQueryResponse (an error answer, not XML, cut short)."""


@dataclass(frozen=True)
class StatementStart:
    """A FlexStatement opens: its attributes (accountId, fromDate, toDate, period, whenGenerated) as sent,
    and the FlexQueryResponse's (queryName, type)."""

    attributes: dict[str, str]
    response: dict[str, str]


@dataclass(frozen=True)
class FlexRow:
    """One row of a statement: section, element and attributes as sent."""

    section: str
    element: str
    attributes: dict[str, str]


def _open(source: bytes | Path) -> BinaryIO:
    return io.BytesIO(source) if isinstance(source, bytes) else source.open("rb")


def _error_answer(root: ET.Element, events: Iterator[tuple[str, ET.Element]]) -> FlexFileError:
    """What a FlexStatementResponse (IBKR's error or status answer, small) says, as one error."""
    for _event, _element in events:
        pass
    code, message = root.findtext("ErrorCode"), root.findtext("ErrorMessage")
    status = root.findtext("Status")
    return FlexFileError(f"not a Flex statement but {root.tag} (status {status}, error {code}: {message})")


def walk(source: bytes | Path) -> Iterator[StatementStart | FlexRow]:
    """Yield each statement's start and each of its rows, in file order, holding only the open elements."""
    with _open(source) as handle:
        events = ET.iterparse(handle, events=("start", "end"))
        path: list[ET.Element] = []
        try:
            for event, element in events:
                if event == "start":
                    if not path and element.tag != RESPONSE:
                        raise _error_answer(element, events)
                    path.append(element)
                    if element.tag == STATEMENT and len(path) == _STATEMENT_DEPTH + 1:
                        yield StatementStart(dict(element.attrib), dict(path[0].attrib))
                    continue
                path.pop()
                depth = len(path)
                if path and len(path[-1]) and path[-1][0] is element:
                    # Earlier siblings are gone already, so it is the first child (later ones may be
                    # parsed in the same block): the tree lets go of it, the row keeps its attributes.
                    del path[-1][0]
                if depth > _STATEMENT_DEPTH and element.attrib and path[_STATEMENT_DEPTH].tag == STATEMENT:
                    section = path[_STATEMENT_DEPTH + 1].tag if depth > _STATEMENT_DEPTH + 1 else element.tag
                    yield FlexRow(section, element.tag, element.attrib)
                elif len(element):
                    element.clear()
        except ET.ParseError as problem:
            raise FlexFileError(f"the Flex XML does not parse: {problem}") from None
