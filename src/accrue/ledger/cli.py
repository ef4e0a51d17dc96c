"""`accrue ledger ...`: run the sequencer, export signed checkpoints, verify against one.

These talk to the database directly (operator tools, like `accrue migrate`):

- `accrue ledger sequence [--once]` numbers committed postings and events
  (servers and workers already run a sequencer in the background; any number
  may run at once).
- `accrue ledger checkpoints --tenant T` prints the tenant's signed checkpoints
  as JSON, to be kept somewhere the database's writers cannot reach.
- `accrue ledger verify --tenant T [--checkpoint FILE]` re-verifies the chain
  and balances and, given an exported checkpoint (one object or the export's
  list, whose newest entry is used), checks that the chain still reaches its
  signed head hash. Exit status 0 when everything holds, 1 otherwise.
- `accrue ledger public-key` prints the signing key's public half (PEM).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from accrue.ledger.checkpoints import Checkpoint


def add_parser(commands: Any, settings_of: Any) -> None:
    ledger = commands.add_parser("ledger", help="sequencer and signed checkpoints of the ledger")
    sub = ledger.add_subparsers(dest="ledger_command", required=True)

    def database(p: argparse.ArgumentParser) -> None:
        p.add_argument("--database-url", help="SQLAlchemy URL (env ACCRUE_DATABASE_URL)")
        p.set_defaults(settings_of=settings_of)

    seq = sub.add_parser("sequence", help="number committed postings and events")
    seq.add_argument("--once", action="store_true", help="exit when nothing is waiting")
    database(seq)
    seq.set_defaults(run=_sequence)

    cps = sub.add_parser("checkpoints", help="export a tenant's signed checkpoints as JSON")
    cps.add_argument("--tenant", required=True, help="tenant id")
    cps.add_argument("--sign-now", action="store_true", help="sign the current head first")
    database(cps)
    cps.set_defaults(run=_checkpoints)

    ver = sub.add_parser("verify", help="verify a tenant's chain, optionally against a checkpoint")
    ver.add_argument("--tenant", required=True, help="tenant id")
    ver.add_argument("--checkpoint", type=Path, help="an exported checkpoint (JSON)")
    database(ver)
    ver.set_defaults(run=_verify)

    key = sub.add_parser("public-key", help="print the checkpoint signing key's public half")
    database(key)
    key.set_defaults(run=_public_key)


def _app(args: argparse.Namespace) -> Any:
    from accrue.bootstrap import build_application

    return build_application(args.settings_of(args))


def _sequence(args: argparse.Namespace) -> int:
    app = _app(args)
    sequencer = app.sequencer
    try:
        if args.once:
            sequencer.drain(timeout=600)
            sequencer.sign_checkpoints()
            return 0
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        sequencer.start()
        print("READY sequencer", flush=True)
        stop.wait()
        return 0
    finally:
        app.close()


def _checkpoints(args: argparse.Namespace) -> int:
    from accrue.ledger.sequencer import list_checkpoints

    app = _app(args)
    try:
        if args.sign_now:
            app.sequencer.drain()
            app.sequencer.sign_checkpoints()
        with app.engine.connect() as conn:
            found = list_checkpoints(conn, args.tenant)
        json.dump([c.as_json() for c in found], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    finally:
        app.close()


def _verify(args: argparse.Namespace) -> int:
    app = _app(args)
    try:
        with app.uow_factory(write=False) as uow:
            result = app.ledger.verify(uow, args.tenant)
            problem = ""
            checkpoint = None
            if args.checkpoint is not None:
                checkpoint = _load_checkpoint(args.checkpoint)
                problem = app.ledger.verify_checkpoint(
                    uow, args.tenant, checkpoint, app.sequencer.keys
                )
        report = {
            "intact": result.intact,
            "transactions_checked": result.transactions_checked,
            "accounts_checked": result.accounts_checked,
            "first_break": None
            if result.first_break is None
            else {
                "sequence": result.first_break.sequence,
                "transaction_id": result.first_break.transaction_id,
                "problem": result.first_break.problem,
            },
            "balance_mismatches": [m.account_id for m in result.mismatches],
            "unsequenced": result.unsequenced,
            "oldest_unsequenced_age_seconds": result.oldest_unsequenced_age.total_seconds(),
            "checkpoint_sequence": None if checkpoint is None else checkpoint.sequence,
            "checkpoint_problem": problem,
        }
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0 if result.intact and not problem else 1
    finally:
        app.close()


def _load_checkpoint(path: Path) -> Checkpoint:
    document = json.loads(path.read_text())
    if isinstance(document, list):
        if not document:
            raise SystemExit(f"{path} holds no checkpoint")
        document = max(document, key=lambda c: int(c["sequence"]))
    return Checkpoint.from_json(document)


def _public_key(args: argparse.Namespace) -> int:
    from accrue.ledger.checkpoint_keys import public_pem

    app = _app(args)
    try:
        sys.stdout.write(public_pem(app.sequencer.keys).decode("ascii"))
        return 0
    finally:
        app.close()
