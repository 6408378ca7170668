"""A local stand-in for Marquez's OpenLineage endpoint, for tests on machines without Marquez.

It implements what Marquez serves for producers: `POST /api/v1/lineage` answers 201 for a
body that is a valid OpenLineage RunEvent, 400 for a body that is not JSON and 422 for
one that fails the RunEvent schema (Dropwizard's answers when Marquez's `LineageEvent`
does not parse or validate), 404 for any other path. It keeps every accepted event and
every path requested, in arrival order. See docs/marquez.md for why Marquez itself cannot
run here.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import jsonschema
from jsonschema.exceptions import best_match

from components.marquez.files import LINEAGE_ENDPOINT

# The parts of the OpenLineage 2-0-2 RunEvent schema (openlineage.io/spec/2-0-2/
# OpenLineage.json) and of ColumnLineageDatasetFacet 1-2-0 that Marquez relies on:
# required keys, the event type enum, run ids as UUIDs, namespaced datasets.
_DATASET = {
    "type": "object",
    "required": ["namespace", "name"],
    "properties": {"namespace": {"type": "string"}, "name": {"type": "string"}},
}
_INPUT_FIELD = {"type": "object", "required": ["namespace", "name", "field"]}
_COLUMN_LINEAGE = {
    "type": "object",
    "required": ["_producer", "_schemaURL", "fields"],
    "properties": {
        "fields": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["inputFields"],
                "properties": {"inputFields": {"type": "array", "items": _INPUT_FIELD}},
            },
        }
    },
}
RUN_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["eventTime", "producer", "schemaURL", "run", "job"],
    "properties": {
        "eventTime": {"type": "string", "format": "date-time"},
        "producer": {"type": "string", "format": "uri"},
        "schemaURL": {"type": "string", "format": "uri"},
        "eventType": {
            "enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"],
        },
        "run": {
            "type": "object",
            "required": ["runId"],
            "properties": {"runId": {"type": "string", "format": "uuid"}},
        },
        "job": _DATASET,
        "inputs": {"type": "array", "items": _DATASET},
        "outputs": {
            "type": "array",
            "items": {
                **_DATASET,
                "properties": {
                    **_DATASET["properties"],
                    "facets": {"properties": {"columnLineage": _COLUMN_LINEAGE}},
                },
            },
        },
    },
}
_VALIDATOR = jsonschema.Draft202012Validator(
    RUN_EVENT_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)


@dataclass
class LineageReceiver:
    """A local stand-in for Marquez's OpenLineage endpoint; keeps what it accepted."""

    url: str
    events: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    def wait_for(
        self, found: Callable[[list[dict[str, Any]]], bool], *, timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        """The accepted events once `found(events)` holds (producers may post asynchronously,
        as Trino's listener does); `AssertionError` listing what arrived when it never does."""
        deadline = time.monotonic() + timeout
        while not found(list(self.events)):
            if time.monotonic() > deadline:
                seen = [(e.get("eventType"), e["job"].get("name")) for e in self.events]
                raise AssertionError(f"the expected lineage never arrived; got {seen}")
            time.sleep(0.2)
        return list(self.events)


def _handler(receiver: LineageReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver.paths.append(self.path)
            if urlsplit(self.path).path != LINEAGE_ENDPOINT:
                self._reply(404, {"error": f"no route {self.path}"})
                return
            length = int(self.headers.get("Content-Length", "0"))
            try:
                body = json.loads(self.rfile.read(length))
            except ValueError as error:
                self._reply(400, {"error": str(error)})
                return
            problem = best_match(_VALIDATOR.iter_errors(body))
            if problem is not None:
                self._reply(422, {"error": problem.message})
                return
            receiver.events.append(body)
            self._reply(201, {})

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return  # keep test output quiet

    return Handler


@contextlib.contextmanager
def running_receiver() -> Iterator[LineageReceiver]:
    """A receiver on a free loopback port for the duration of the block."""
    receiver = LineageReceiver(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
