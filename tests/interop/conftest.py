"""Fixtures for the interop suite: real `tern server` processes driven by real Kafka clients.

    def test_x(broker):                       # a fresh broker with default overrides
        produce_confluent(broker.bootstrap, ...)

    def test_y(broker_factory):               # custom broker configs; '_' in a keyword becomes '.'
        b = broker_factory(auto_create_topics_enable=False, overrides={"socket.request.max.bytes": 4096})
        b.kill9(); b.restart()

When a test fails, the tail of each broker's log is attached to the report ("tern broker log" sections).
"""

from __future__ import annotations

import itertools
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from ternbroker import TernBroker  # noqa: E402

_broker_counter = itertools.count()


@pytest.fixture
def broker_factory(request, tmp_path):
    """Start brokers with extra overrides: broker_factory(overrides={...}, **dotted_with_underscores)."""
    started: list[TernBroker] = []
    request.node._tern_brokers = started

    def make(overrides: dict | None = None, start: bool = True, **kw) -> TernBroker:
        merged = {k.replace("_", "."): v for k, v in kw.items()}
        merged.update(overrides or {})
        b = TernBroker(tmp_path / f"broker{next(_broker_counter)}", merged)
        started.append(b)
        if start:
            b.start()
        return b

    yield make
    for b in started:
        b.stop()


@pytest.fixture
def broker(broker_factory) -> TernBroker:
    """A fresh broker with default settings."""
    return broker_factory()


@pytest.fixture
def topic_name(request) -> str:
    """A topic name unique to this test (valid Kafka characters only)."""
    base = "".join(c if c.isalnum() else "-" for c in request.node.name)[:60].strip("-")
    return f"{base}-{uuid.uuid4().hex[:8]}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed or rep.when == "setup" and rep.failed:
        for i, b in enumerate(getattr(item, "_tern_brokers", [])):
            rep.sections.append((f"tern broker log #{i} ({b.log_path})", b.log_tail()))
