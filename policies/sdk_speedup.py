"""Decode each resource's properties once per Analyze call, not once per policy.

`pulumi_policy` 1.21 (`policy.py`, `_PolicyAnalyzerServicer.Analyze`) converts the
request's protobuf `properties` and its provider's to dicts (`json_format.MessageToDict`),
decodes Pulumi's special values (`deserialize.deserialize_properties`) and wraps them in
an unknown-checking proxy (`proxy.unknown_checking_proxy`) inside its loop over
policies: with 60 policies every resource is decoded 60 times, most of what a check
costs. Each step depends only on its input object, so `install()` makes the three
remember their last few inputs per thread (a gRPC worker serves one request at a time)
and hand every policy of a request the same value. Policies only read their `props`
(through the SDK's read-only proxy), so sharing it is safe.

Results are identical to the SDK's own path: the pack's tests (tests/policies) run
through this shim. Remove it when the SDK decodes once per request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pulumi_policy.policy as _sdk_policy
from google.protobuf import json_format as _json_format

_RECENT = 4  # a request's properties, its provider's, and their decoded forms
_memo = threading.local()


def _remembered(kind: str, compute: Callable[..., Any]) -> Callable[..., Any]:
    """`compute` remembering its last results per thread, keyed by argument identity.

    Each entry holds its arguments, so their ids cannot be reused while remembered.
    """

    def call(first: Any, *args: Any) -> Any:
        entries: list[tuple[Any, tuple[Any, ...], Any]] = _memo.__dict__.setdefault(kind, [])
        for held, held_args, value in entries:
            if held is first and held_args == args:
                return value
        value = compute(first, *args)
        entries.insert(0, (first, args, value))
        del entries[_RECENT:]
        return value

    return call


class _JsonFormat:
    """`json_format` as `pulumi_policy.policy` uses it, with `MessageToDict` remembered."""

    MessageToDict = staticmethod(_remembered("message", _json_format.MessageToDict))

    def __getattr__(self, name: str) -> Any:
        return getattr(_json_format, name)


def install() -> None:
    """Route `pulumi_policy.policy`'s decoding through the per-thread memo above."""
    _sdk_policy.json_format = _JsonFormat()  # type: ignore[assignment]
    for name, kind in (("deserialize_properties", "props"), ("unknown_checking_proxy", "proxy")):
        setattr(_sdk_policy, name, _remembered(kind, getattr(_sdk_policy, name)))
