"""Payments/s end to end (invoice finalised -> charged -> paid -> ledger posted) against the
simulated PSP, printed next to the raw PSP-call rate as the ceiling, in one run.

See benchmarks/README.md (payments.py) for what each figure means.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import grpc
import httpx
from harness import (
    CpuWatch,
    accrue_servers,
    analyze,
    create_tenant,
    database_backends,
    postgres_database,
)

from accrue.billing.v1 import customer_pb2 as cus
from accrue.billing.v1 import invoice_pb2 as inv
from accrue.billing.v1 import invoice_pb2_grpc, ledger_pb2, ledger_pb2_grpc, payment_pb2_grpc
from accrue.billing.v1 import payment_pb2 as pay
from accrue.billing.v1.customer_pb2_grpc import CustomerServiceStub
from accrue.billing.v1.money_pb2 import Money
from accrue.payments.psp.http_gateway import HttpPaymentGateway

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
ACCRUE = str(Path(sys.executable).with_name("accrue"))


@contextmanager
def psp_sim() -> Iterator[tuple[str, int]]:
    """`accrue psp-sim` with no added latency and no faults; yields (base URL, pid)."""
    sim = subprocess.Popen(
        [ACCRUE, "psp-sim", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = next((x for x in sim.stdout or () if x.startswith("READY")), "")
        match = re.search(r"port=(\d+)", line)
        if match is None:
            raise RuntimeError("accrue psp-sim did not start")
        yield f"http://127.0.0.1:{match.group(1)}", sim.pid
    finally:
        sim.terminate()
        sim.wait(10)


def timed(count: int, concurrency: int, work: Callable[[int], None]) -> float:
    """Seconds for `count` calls of `work(i)` from `concurrency` threads."""
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            work(i)
        except BaseException as error:
            errors.append(error)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(count)))
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} calls failed; first: {errors[0]!r}")
    return elapsed


def raw_psp_rate(base_url: str, count: int, concurrency: int) -> float:
    """Charges/s straight from a client to the simulator: Accrue's ceiling."""
    gateway = HttpPaymentGateway(base_url)
    run = uuid.uuid4().hex[:8]

    def charge(i: int) -> None:
        gateway.charge(
            idempotency_key=f"raw-{run}-{i}",
            token="tok_visa",
            amount_minor=1000 + i,
            currency_code="USD",
            metadata={},
        )

    timed(min(200, count), concurrency, charge)  # warm-up: connections, the sim's code paths
    run = uuid.uuid4().hex[:8]
    return count / timed(count, concurrency, charge)


Phase = tuple[float, dict[str, float]]  # payments/s, CPU ms per payment by process group


def accrue_rate(
    database_url: str,
    psp: tuple[str, int],
    count: int,
    concurrency: int,
    processes: int = 1,
) -> tuple[Phase, Phase]:
    """(finalise+charge, charge only): payments/s through `accrue serve` with
    `processes` server processes, and where the CPU went in each phase."""
    base_url, sim_pid = psp
    os.environ.update(
        ACCRUE_PSP_URL=base_url,
        ACCRUE_PAYMENT_RATE_PER_SECOND="0",
        ACCRUE_SQLITE_SYNCHRONOUS="FULL",
    )
    key = create_tenant(database_url)
    meta = (("authorization", f"Bearer {key}"),)
    with (
        tempfile.TemporaryDirectory() as work,
        accrue_servers(database_url, Path(work), processes=processes) as (pids, target),
    ):
        groups = {"server": lambda: pids}
        if not database_url.startswith("sqlite"):
            groups["PostgreSQL"] = lambda: database_backends(database_url)
        groups |= {"psp-sim": lambda: [sim_pid], "callers": lambda: [os.getpid()]}
        watch = CpuWatch(groups)
        # A connection per caller (its own subchannel pool), so that with
        # several server processes the kernel spreads the callers over them
        # (SO_REUSEPORT balances connections, not calls).
        channels = [
            grpc.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
            for _ in range(concurrency)
        ]
        channel = channels[0]
        customers = CustomerServiceStub(channel)
        invoices = invoice_pb2_grpc.InvoiceServiceStub(channel)
        ledger = ledger_pb2_grpc.LedgerServiceStub(channel)
        invoice_stubs = [invoice_pb2_grpc.InvoiceServiceStub(c) for c in channels]
        payment_stubs = [payment_pb2_grpc.PaymentServiceStub(c) for c in channels]
        payments = payment_stubs[0]
        buyers = [_customer(customers, meta, i) for i in range(concurrency)]
        # The simulator outlives one server's run: count only this run's charges.
        before = {c["idempotency_key"] for c in _accrue_charges(base_url)}
        total = 2 * count + min(200, count)

        def draft(i: int) -> str:
            line = inv.InvoiceLineInput(
                unit_amount=Money(amount_minor=1000 + i % 977, currency_code="USD"),
                quantity=1,
                description="Usage",
            )
            request = inv.CreateInvoiceRequest(
                customer_id=buyers[i % len(buyers)], lines=[line], request_id=f"d{i}"
            )
            drafted: inv.Invoice = invoice_stubs[i % concurrency].CreateInvoice(
                request, metadata=meta
            )
            return drafted.id

        drafts: list[str] = [""] * total
        timed(total, concurrency, lambda i: drafts.__setitem__(i, draft(i)))

        def finalise_and_pay(i: int) -> None:
            invoice_stubs[i % concurrency].FinalizeInvoice(
                inv.FinalizeInvoiceRequest(id=drafts[i], request_id=f"f{i}"), metadata=meta
            )
            pay_only(i)

        def pay_only(i: int) -> None:
            request = pay.CreatePaymentRequest(
                customer_id=buyers[i % len(buyers)], invoice_id=drafts[i], request_id=f"p{i}"
            )
            paid: pay.Payment = payment_stubs[i % concurrency].CreatePayment(request, metadata=meta)
            if paid.status != pay.PAYMENT_STATUS_SUCCEEDED:
                raise RuntimeError(f"payment {paid.id} ended {paid.status}")

        warm = min(200, count)
        timed(warm, concurrency, lambda i: finalise_and_pay(2 * count + i))
        analyze(database_url)  # the warm-up filled every table a payment touches
        watch.start()
        end_to_end = count / timed(count, concurrency, finalise_and_pay)
        end_to_end_cpu = _per_payment(watch.stop(), count)
        for i in range(count, 2 * count):  # finalised up front: the pay-only phase
            invoices.FinalizeInvoice(
                inv.FinalizeInvoiceRequest(id=drafts[i], request_id=f"f{i}"), metadata=meta
            )
        watch.start()
        charge_only = count / timed(count, concurrency, lambda i: pay_only(count + i))
        charge_only_cpu = _per_payment(watch.stop(), count)
        _check(invoices, ledger, payments, meta, base_url, total, before)
        for each in channels:
            each.close()
    return (end_to_end, end_to_end_cpu), (charge_only, charge_only_cpu)


def _per_payment(cpu: dict[str, float], count: int) -> dict[str, float]:
    """CPU seconds per group -> milliseconds per payment (machine figures kept)."""
    keep = ("machine busy", "cores")
    return {k: v if k in keep else 1000 * v / count for k, v in cpu.items()}


def _customer(stub: CustomerServiceStub, meta: tuple[tuple[str, str], ...], i: int) -> str:
    created = stub.CreateCustomer(
        cus.CreateCustomerRequest(
            customer=cus.Customer(display_name=f"Buyer {i}", currency_code="USD")
        ),
        metadata=meta,
    )
    method = cus.PaymentMethod(psp="simulated", token="tok_visa", type=cus.PAYMENT_METHOD_TYPE_CARD)
    stub.AttachPaymentMethod(
        cus.AttachPaymentMethodRequest(
            customer_id=created.id, payment_method=method, make_default=True
        ),
        metadata=meta,
    )
    return str(created.id)


def _check(
    invoices: invoice_pb2_grpc.InvoiceServiceStub,
    ledger: ledger_pb2_grpc.LedgerServiceStub,
    payments: payment_pb2_grpc.PaymentServiceStub,
    meta: tuple[tuple[str, str], ...],
    base_url: str,
    total: int,
    before: set[object],
) -> None:
    """Every invoice paid once, the PSP's log agrees one to one, the ledger verifies."""
    paid = _count(
        lambda token: invoices.ListInvoices(
            inv.ListInvoicesRequest(
                page_size=1000, page_token=token, status=inv.INVOICE_STATUS_PAID
            ),
            metadata=meta,
        ),
        "invoices",
    )
    succeeded = _count(
        lambda token: payments.ListPayments(
            pay.ListPaymentsRequest(
                page_size=1000, page_token=token, status=pay.PAYMENT_STATUS_SUCCEEDED
            ),
            metadata=meta,
        ),
        "payments",
    )
    ours = [c for c in _accrue_charges(base_url) if c["idempotency_key"] not in before]
    keys = {c["idempotency_key"] for c in ours}
    verified = ledger.VerifyLedger(ledger_pb2.VerifyLedgerRequest(), metadata=meta)
    print(
        f"  check: {paid} invoices PAID, {succeeded} payments SUCCEEDED, {len(ours)} PSP charges"
        f" ({len(keys)} distinct keys), ledger intact={verified.intact}"
        f" (unsequenced {verified.unsequenced_transactions})"
    )
    if not (paid == succeeded == len(ours) == len(keys) == total and verified.intact):
        raise RuntimeError("the books do not tie out")


def _accrue_charges(base_url: str) -> list[dict[str, object]]:
    """The simulator's log of the charges Accrue made."""
    log = httpx.get(f"{base_url}/v1/_admin/log", timeout=60).json()
    return [c for c in log["charges"] if c["idempotency_key"].startswith("accrue_")]


def _count(page: Callable[[str], object], field: str) -> int:
    token, total = "", 0
    while True:
        response = page(token)
        total += len(getattr(response, field))
        token = response.next_page_token  # type: ignore[attr-defined]
        if not token:
            return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="measured payments per phase")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent callers")
    parser.add_argument("--quick", action="store_true", help="CI smoke: 100 payments on SQLite")
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="also run `accrue serve --processes N` on PostgreSQL (1 = not)",
    )
    args = parser.parse_args()
    count = 100 if args.quick else args.count
    load = os.getloadavg()[0]
    print(
        f"setup: {count} payments per phase, concurrency {args.concurrency}, load {load:.2f};"
        " ANALYZE after the warm-up (PostgreSQL)"
    )
    with psp_sim() as psp:
        raw = raw_psp_rate(psp[0], max(count, 500), args.concurrency)
        print(f"  raw PSP calls (HttpPaymentGateway -> psp-sim): {raw:,.0f} charges/s  [ceiling]")
        if args.quick or args.sqlite:
            with tempfile.TemporaryDirectory() as work:
                url = f"sqlite:///{work}/bench.db"
                _report("SQLite", *accrue_rate(url, psp, count, args.concurrency), raw)
        else:
            admin = os.environ.get("ACCRUE_BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL)
            for processes in [1, args.processes] if args.processes > 1 else [1]:
                with postgres_database(admin) as url:
                    if url is None:
                        break
                    label = "PostgreSQL" if processes == 1 else f"PostgreSQL x{processes}"
                    rates = accrue_rate(url, psp, count, args.concurrency, processes)
                    _report(label, *rates, raw)
    return 0


def _report(database: str, end_to_end: Phase, charge_only: Phase, raw: float) -> None:
    for label, (rate, cpu) in (
        ("finalise + charge + paid + posted", end_to_end),
        ("charge + paid + posted (finalised before)", charge_only),
    ):
        print(f"  {database}: {label}: {rate:,.0f} payments/s ({rate / raw:.1%} of raw PSP)")
        print(f"    {_cpu_line(cpu)}")


def _cpu_line(cpu: dict[str, float]) -> str:
    """CPU per payment of each process group, and how many of the machine's cores
    were busy: when all of them were, the machine's CPU is the limit, and the group
    spending the most per payment is where a gain would have to come from."""
    groups = [k for k in cpu if k not in ("machine busy", "cores")]
    parts = ", ".join(f"{k} {cpu[k]:.1f} ms" for k in groups)
    return (
        f"CPU per payment: {parts}; machine {cpu['machine busy']:.2f} of"
        f" {cpu['cores']:.0f} cores busy"
    )


if __name__ == "__main__":
    sys.exit(main())
