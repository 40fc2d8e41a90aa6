"""labtools.services: the stand-in upstreams of lessons 10 and 11 and kept log lines, as the notebook uses them."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from labtools.services import BODIES, LogLines, Plan, Upstreams


async def ask(url: str, timeout: float | None = None) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(url, headers={"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"}, timeout=timeout)


def test_async_requests_reach_the_stand_ins_by_host_and_are_noted():
    with Upstreams(prices=Plan(after=0), stock=Plan(after=0, status=503)) as upstreams:
        prices = asyncio.run(ask("http://prices.internal:8080/v1/prices/teapot-42"))
        stock = asyncio.run(ask("http://stock.internal:8080/v1/stock/teapot-42"))
        elsewhere = asyncio.run(ask("http://example.invalid/x"))
    assert prices.json() == BODIES["prices"]
    assert stock.status_code == 503 and stock.headers["retry-after"] == "30"
    assert elsewhere.status_code == 404
    assert [r["api"] for r in upstreams.requests] == ["prices", "stock", None]
    assert upstreams.requests[0]["traceparent"].startswith("00-aaaa")
    assert httpx.AsyncHTTPTransport.handle_async_request is not Upstreams.answer  # put back on exit


def test_a_request_whose_timeout_ends_first_times_out():
    with Upstreams(prices=Plan(after=5.0)):
        with pytest.raises(httpx.ReadTimeout):
            asyncio.run(ask("http://prices.internal/x", timeout=0.01))


def test_log_lines_show_the_trace_id_or_a_dash():
    lines = LogLines("labtools-test-logger")
    logger = logging.getLogger("labtools-test-logger")
    logger.setLevel(logging.INFO)
    logger.info("without")
    logger.info("with", extra={"trace_id": "4bf9"})
    assert [line.split()[1] for line in lines.lines] == ["trace_id=-", "trace_id=4bf9"]
