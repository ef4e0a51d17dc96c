"""TestClockService handlers."""

from __future__ import annotations

from datetime import UTC

from accrue.billing.v1 import test_clock_pb2 as pb
from accrue.kernel.paging import PageRequest
from accrue.platform.transport.call import CallContext
from accrue.platform.transport.handler_support import HandlerSupport
from accrue.ports import UnitOfWork
from accrue.test_clocks.convert import clock_to_pb
from accrue.test_clocks.service import WAIT_LIMIT_SECONDS, TestClockService


class TestClockHandler:
    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, support: HandlerSupport, clocks: TestClockService) -> None:
        self._support = support
        self._clocks = clocks

    def create_test_clock(
        self, request: pb.CreateTestClockRequest, call: CallContext
    ) -> pb.TestClock:
        frozen = request.test_clock.frozen_time.ToDatetime(tzinfo=UTC)
        name = request.test_clock.display_name
        return self._support.mutate(
            call,
            request,
            pb.TestClock,
            lambda uow: clock_to_pb(
                self._clocks.create(uow, call.tenant_id, display_name=name, frozen_time=frozen)
            ),
        )

    def get_test_clock(self, request: pb.GetTestClockRequest, call: CallContext) -> pb.TestClock:
        return self._support.read(
            lambda uow: clock_to_pb(self._clocks.get(uow, call.tenant_id, request.id))
        )

    def list_test_clocks(
        self, request: pb.ListTestClocksRequest, call: CallContext
    ) -> pb.ListTestClocksResponse:
        page = PageRequest.parse(
            page_size=request.page_size, page_token=request.page_token, query={}
        )

        def work(uow: UnitOfWork) -> pb.ListTestClocksResponse:
            result = self._clocks.list_clocks(uow, call.tenant_id, page)
            return pb.ListTestClocksResponse(
                test_clocks=[clock_to_pb(c) for c in result.items],
                next_page_token=result.next_page_token,
            )

        return self._support.read(work)

    def advance_test_clock(
        self, request: pb.AdvanceTestClockRequest, call: CallContext
    ) -> pb.TestClock:
        to = request.frozen_time.ToDatetime(tzinfo=UTC)
        # `wait` is how to answer, not what to do: a retry may differ in it.
        identity = pb.AdvanceTestClockRequest()
        identity.CopyFrom(request)
        identity.ClearField("wait")
        started = self._support.mutate(
            call,
            identity,
            pb.TestClock,
            lambda uow: clock_to_pb(
                self._clocks.start_advance(uow, call.tenant_id, request.id, to)
            ),
        )
        self._clocks.poke()
        if not request.wait:
            return started
        return clock_to_pb(
            self._clocks.wait(call.tenant_id, request.id, timeout=WAIT_LIMIT_SECONDS)
        )
