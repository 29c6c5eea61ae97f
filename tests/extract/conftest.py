"""Fixtures for extractor tests: the recorded IBKR bodies and a tiny fake ApiClient."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any, Callable, Mapping

import pytest

DEFAULT_RECORDED = Path(__file__).resolve().parents[3] / "shared" / "ibkr-recorded"


def recorded_dir() -> Path:
    """Where the recorded IBKR responses live (IBKR_RECORDED_DIR overrides)."""
    return Path(os.environ.get("IBKR_RECORDED_DIR") or DEFAULT_RECORDED)


@pytest.fixture
def recorded() -> Callable[[str], Any]:
    """Load ``Response.Body`` of a recorded file, e.g. ``recorded("Portfolio/GET-portfolio-ledger.json")``."""
    root = recorded_dir()
    if not root.is_dir():
        pytest.skip(f"recorded IBKR responses not found at {root} (set IBKR_RECORDED_DIR)")

    def load(name: str) -> Any:
        return json.loads((root / name).read_text(encoding="utf-8"))["Response"]["Body"]

    return load


class FakeClient:
    """An ApiClient answering from a dict of path -> body.

    A body may be a list of answers (consumed in order, the last one repeats) when given as
    ``Answers(...)``, or a callable ``params -> body``. Every call is recorded in ``calls``.
    """

    def __init__(self, routes: Mapping[str, Any], post_routes: Mapping[str, Any] | None = None) -> None:
        self.routes = dict(routes)
        self.post_routes = dict(post_routes or {})  # POST path -> body (Answers, or a callable json -> body)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.posts: list[str] = []
        self.posted: list[tuple[str, Any]] = []  # (path, JSON body) of every answered POST

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        self.calls.append((path, dict(params or {})))
        if path not in self.routes:
            raise AssertionError(f"unexpected GET {path} {params}")
        answer = self.routes[path]
        if isinstance(answer, Answers):
            answer = answer.next()
        elif callable(answer):
            answer = answer(dict(params or {}))
        return copy.deepcopy(answer)

    def post(self, path: str, json: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        if path in self.post_routes:  # a POST read (/pa/*): answered like a GET route, from its JSON body
            self.posted.append((path, copy.deepcopy(json)))
            answer = self.post_routes[path]
            if isinstance(answer, Answers):
                answer = answer.next()
            elif callable(answer):
                answer = answer(copy.deepcopy(json))
            return copy.deepcopy(answer)
        # Otherwise the only POST an extractor makes: dropping the positions cache (IBKR answers {"message":"success"}).
        if not path.endswith("/positions/invalidate"):
            raise AssertionError(f"extractors must not POST ({path})")
        self.posts.append(path)
        return {"message": "success"}

    def paths(self) -> list[str]:
        return [path for path, _ in self.calls]


class Answers:
    """Successive answers for one path (the last repeats)."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)

    def next(self) -> Any:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@pytest.fixture
def fake_client() -> type[FakeClient]:
    return FakeClient


@pytest.fixture
def answers() -> type[Answers]:
    return Answers
