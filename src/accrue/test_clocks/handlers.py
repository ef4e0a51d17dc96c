"""TestClockService handlers: convert the request, call one use case, convert back.

The use cases own their transactions; nothing here runs inside one.
"""

from __future__ import annotations

from datetime import UTC

from accrue.billing.v1 import test_clock_pb2 as pb
from accrue.kernel.paging import PageRequest
from accrue.platform.transport.call import CallContext
from accrue.platform.transport.handler_support import HandlerSupport
from accrue.test_clocks.convert import clock_to_pb
from accrue.test_clocks.use_cases import TestClockUseCases


class TestClockHandler:
    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, support: HandlerSupport, clocks: TestClockUseCases) -> None:
        self._support = support
        self._clocks = clocks

    def create_test_clock(
        self, request: pb.CreateTestClockRequest, call: CallContext
    ) -> pb.TestClock:
        replay = self._support.replay(call, request, clock_to_pb)
        outcome = self._clocks.create(
            call.tenant_id,
            display_name=request.test_clock.display_name,
            frozen_time=request.test_clock.frozen_time.ToDatetime(tzinfo=UTC),
            replay=replay,
        )
        return self._support.answer(outcome, pb.TestClock, clock_to_pb)

    def get_test_clock(self, request: pb.GetTestClockRequest, call: CallContext) -> pb.TestClock:
        return clock_to_pb(self._clocks.get(call.tenant_id, request.id))

    def list_test_clocks(
        self, request: pb.ListTestClocksRequest, call: CallContext
    ) -> pb.ListTestClocksResponse:
        page = PageRequest.parse(
            page_size=request.page_size, page_token=request.page_token, query={}
        )
        result = self._clocks.list_clocks(call.tenant_id, page)
        return pb.ListTestClocksResponse(
            test_clocks=[clock_to_pb(c) for c in result.items],
            next_page_token=result.next_page_token,
        )

    def advance_test_clock(
        self, request: pb.AdvanceTestClockRequest, call: CallContext
    ) -> pb.TestClock:
        # `wait` is how to answer, not what to do: a retry may differ in it.
        identity = pb.AdvanceTestClockRequest()
        identity.CopyFrom(request)
        identity.ClearField("wait")
        replay = self._support.replay(call, identity, clock_to_pb)
        advance = self._clocks.advance(
            call.tenant_id,
            request.id,
            request.frozen_time.ToDatetime(tzinfo=UTC),
            replay,
            wait=request.wait,
        )
        if advance.settled is not None:
            return clock_to_pb(advance.settled)
        return self._support.answer(advance.started, pb.TestClock, clock_to_pb)
