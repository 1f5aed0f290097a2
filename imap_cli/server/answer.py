"""An HTTP answer of the API host, and the error that carries one to where answers are sent."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

JSON = "application/json"
HTML = "text/html"
# What API Gateway answers when the Lambda behind it fails (or answers too much).
INTERNAL_ERROR = json.dumps({"message": "Internal Server Error"})


@dataclass(frozen=True)
class Answer:
    """Status, body text, content type and any further headers."""

    status: int
    body: str
    content_type: str = JSON
    headers: tuple[tuple[str, str], ...] = ()


def json_answer(status: int, data: Any) -> Answer:
    """`data` as JSON (a string becomes a JSON string, as the SDC's 400 bodies are)."""
    return Answer(status, json.dumps(data))


def crash() -> Answer:
    """What the gateway answers when the SDC's Lambda raises: 500 Internal Server Error."""
    return Answer(500, INTERNAL_ERROR)


class ApiError(Exception):
    """An answer found deep in a handler (refused, not found, bad input): raised, then sent
    by the API app like any other answer."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.status, answer.body)
        self.answer = answer

    @classmethod
    def message(cls, status: int, message: str) -> ApiError:
        """The gateway's own errors: {"message": "Not Found"}, "Forbidden", ..."""
        return cls(json_answer(status, {"message": message}))
