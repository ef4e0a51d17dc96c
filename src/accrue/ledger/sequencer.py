"""The sequencer: numbers and chains committed ledger transactions and events.

Postings and events commit on PostgreSQL without any per-tenant lock: a
transaction row is written with `sequence` NULL and the writer's transaction
id (`pg_current_xact_id()`), an event goes to `event_queue`. The sequencer
then, per tenant and in batches, gives them the tenant's gapless sequence and
(for the ledger) the hash chain, and commits each batch atomically.

How commit order is established, and why not as PgQ does it
-----------------------------------------------------------
PgQ cuts batches between two snapshots: a batch is every event whose writing
transaction is visible in the new snapshot but was not in the previous one,
which requires remembering snapshots and, for a position-based reader, never
reading past `pg_snapshot_xmin` (the oldest transaction still open). That
rule is what lets one long transaction (a settlement import, a bill run)
stall every tenant: nothing after its xid can be released until it ends.

Here the state "not yet sequenced" lives on the row itself (sequence NULL /
still in the queue), not in a reader's position. A batch is simply "every
row of this tenant still unsequenced that my statement can see". A row is
visible only once its writer has committed, so:

- nothing in flight is ever numbered, whatever sequence-like value it holds
  (no sequence value is taken before commit at all);
- a transaction that commits late is not skipped: its rows stay unsequenced
  and the first batch whose snapshot sees them numbers them, *after*
  everything numbered in earlier batches, i.e. after everything that had
  committed before the previous batch was cut. Batch boundaries are therefore
  commit-order boundaries;
- a long-open transaction holds back only its own rows, never another
  tenant's and never later commits of its own tenant.

Within one batch the rows committed between two consecutive cuts; their
relative commit order is not observable (no reader could have seen one
without the other, because readers only see sequenced rows), so they are
ordered deterministically by writer xid, then by position inside the writer.

Balances follow the same path. A posting only inserts its rows (and creates
an account it is the first to touch, without locking any existing one); the
batch that numbers it adds its amounts to the stored balances, one statement
per batch. A hot account (revenue, cash, a platform's clearing account) is
then written once per batch by the tenant's one sequencer instead of being a
row lock every poster of the tenant queues on through its COMMIT. Readers
add the entries still pending to the stored balance in the same statement
(a batch moves a transaction from pending to stored atomically, so one
snapshot counts it once); spenders of a customer's credit serialise on their
own advisory lock, so exactness never depended on the row lock. This is
TigerBeetle's and Trillian's lesson applied to balances: make the contended
part a batch with one owner.

One sequencer per tenant at a time: a batch starts by locking the tenant's
`ledger_heads` row `FOR UPDATE SKIP LOCKED`. Only sequencers take that lock,
so a second sequencer (another server or worker) skips the tenant instead of
queueing, and any number of processes can run one against one database while
each tenant keeps one chain. The batch (numbering, head move, event move,
NOTIFY) is one transaction: a sequencer killed mid-batch leaves nothing half
done, and the next one starts from the unchanged head.

After a batch that numbered events it sends `NOTIFY accrue_sequenced,
'<tenant>'` (delivered at commit), which wakes idle event streams in every
process. It also signs checkpoints of each tenant's head periodically.

SQLite has a single writer whose lock already orders commits, so postings and
events are numbered inline there; this class then only signs checkpoints.
"""

from __future__ import annotations

import logging
import os
import random
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.dialects import postgresql, sqlite

from accrue.event_log.notifications import CHANNEL
from accrue.kernel.clock import Clock
from accrue.ledger import tables as t
from accrue.ledger.checkpoint_keys import CheckpointKeys
from accrue.ledger.checkpoints import Checkpoint
from accrue.ledger.model import seal_next
from accrue.ledger.repository import SqlLedgerRepository

log = logging.getLogger("accrue.ledger.sequencer")
CRASH_EXIT_CODE = 86

_h = t.ledger_heads.c
# Probed per tenant through the indexes (the partial one on unsequenced
# transactions, and event_queue's (tenant_id, ...)) rather than a DISTINCT over
# both: event_queue is emptied as fast as it fills, and a scan of it reads every
# dead row the sequencer's deletes left behind until VACUUM runs, so without
# autovacuum the poll (several per bill-run batch) grew with every event ever
# queued.
_PENDING_TENANTS = text(
    "SELECT t.id AS tenant_id FROM tenants AS t"
    " WHERE EXISTS (SELECT 1 FROM ledger_transactions AS x"
    " WHERE x.tenant_id = t.id AND x.sequence IS NULL)"
    " OR EXISTS (SELECT 1 FROM event_queue AS q WHERE q.tenant_id = t.id)"
)
# One statement: read the event head, move a batch from the queue into the
# numbered log after it, and move the head. Only the sequencer holding the
# tenant's ledger head writes event_heads, so reading the head in the same
# statement's snapshot is safe. Returns how many events moved.
_MOVE_EVENTS = text(
    """
    WITH head AS (
        SELECT last_sequence AS base FROM event_heads WHERE tenant_id = :t_id
    ), batch AS (
        SELECT tenant_id, id FROM event_queue WHERE tenant_id = :t_id
        ORDER BY writer_xid, position, id LIMIT :n
    ), moved AS (
        DELETE FROM event_queue q USING batch b
        WHERE q.tenant_id = b.tenant_id AND q.id = b.id
        RETURNING q.*
    ), numbered AS (
        INSERT INTO events (tenant_id, sequence, id, type, resource_type, resource_id,
                            occur_time, trace_id, payload_type, payload)
        SELECT tenant_id,
               (SELECT base FROM head) + row_number() OVER (ORDER BY writer_xid, position, id),
               id, type, resource_type, resource_id, occur_time, trace_id,
               payload_type, payload
        FROM moved
        RETURNING sequence
    ), counted AS (
        SELECT count(*) AS n FROM numbered
    )
    UPDATE event_heads SET last_sequence = last_sequence + (SELECT n FROM counted)
    WHERE tenant_id = :t_id
    RETURNING (SELECT n FROM counted)
    """
)
_NOTIFY = text("SELECT pg_notify(:channel, :t_id)")
_DUE_CHECKPOINTS = text(
    "SELECT h.tenant_id, h.last_sequence, h.last_hash FROM ledger_heads h "
    "WHERE h.last_sequence > COALESCE((SELECT max(c.sequence) FROM ledger_checkpoints c "
    "WHERE c.tenant_id = h.tenant_id), 0)"
)


class SequencerCrash:
    """Testing only: die (as kill -9 would) at a seeded point inside a batch.

    The seed picks which batch (1-4) and where in it: after the transactions
    are numbered, after the head moved, or after the events moved; always
    before the batch commits.
    """

    POINTS = ("numbered", "head_moved", "events_moved")

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311 - a reproducible test fault, not a secret
        self._batch = rng.randint(1, 4)
        self._point = rng.choice(self.POINTS)
        self._batches = 0

    def batch_started(self) -> None:
        self._batches += 1

    def reached(self, point: str) -> None:
        if self._batches == self._batch and point == self._point:
            sys.stderr.write(f"CRASH in sequencer batch {self._batches} at {point}\n")
            sys.stderr.flush()
            os._exit(CRASH_EXIT_CODE)


class LedgerSequencer:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        keys: CheckpointKeys,
        *,
        batch_size: int = 1000,
        poll_seconds: float = 0.05,
        linger_seconds: float = 0.0,
        checkpoint_seconds: float = 60.0,
        crash: SequencerCrash | None = None,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self.keys = keys
        self._batch_size = batch_size
        self._poll = poll_seconds
        self._linger = linger_seconds
        self._checkpoint_every = checkpoint_seconds
        self._crash = crash
        self._poke = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.after_batch: Callable[[str], None] = lambda tenant_id: None

    @property
    def numbers_after_commit(self) -> bool:
        return self._engine.dialect.name == "postgresql"

    # -- one pass ----------------------------------------------------------

    def run_once(self) -> int:
        """Sequence one batch of every tenant with work; how many records were numbered."""
        if not self.numbers_after_commit:
            return 0
        # One statement, no transaction: BEGIN and ROLLBACK would be two more round trips.
        with self._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            tenants = [row.tenant_id for row in conn.execute(_PENDING_TENANTS)]
        return sum(self.sequence_tenant(tenant_id) for tenant_id in tenants)

    def sequence_tenant(self, tenant_id: str) -> int:
        """One atomic batch of `tenant_id`'s ledger and events; 0 if another
        sequencer holds the tenant or nothing is waiting."""
        with self._engine.begin() as conn:
            head = conn.execute(
                select(_h.last_sequence, _h.last_hash)
                .where(_h.tenant_id == tenant_id)
                .with_for_update(skip_locked=True)
            ).first()
            if head is None:
                return 0
            if self._crash is not None:
                self._crash.batch_started()
            ledger = SqlLedgerRepository(conn)
            pending = ledger.pending_batch(tenant_id, self._batch_size)
            sealed = seal_next(
                pending, after_sequence=head.last_sequence, after_hash=head.last_hash
            )
            if sealed:
                ledger.number(sealed)
                ledger.add_to_balances(sealed)
                self._reached("numbered")
                conn.execute(
                    t.ledger_heads.update()
                    .where(_h.tenant_id == tenant_id)
                    .values(last_sequence=sealed[-1].sequence, last_hash=sealed[-1].hash)
                )
                self._reached("head_moved")
            moved = self._move_events(conn, tenant_id)
            self._reached("events_moved")
            if moved:
                conn.execute(_NOTIFY, {"channel": CHANNEL, "t_id": tenant_id})
        if sealed or moved:
            self.after_batch(tenant_id)
        return len(sealed) + moved

    def _move_events(self, conn: Connection, tenant_id: str) -> int:
        moved = conn.execute(_MOVE_EVENTS, {"t_id": tenant_id, "n": self._batch_size})
        return int(moved.scalar_one())

    def _reached(self, point: str) -> None:
        if self._crash is not None:
            self._crash.reached(point)

    def drain(self, *, timeout: float = 30.0) -> None:
        """Sequence until nothing committed is left unnumbered (tests, CLI)."""
        if not self.numbers_after_commit:
            return
        deadline = time.monotonic() + timeout
        while True:
            self.run_once()
            with self._engine.connect() as conn:
                left = conn.execute(_PENDING_TENANTS).first()
            if left is None:
                return
            if time.monotonic() > deadline:
                raise TimeoutError("records are still waiting for the sequencer")
            time.sleep(0.01)  # another sequencer holds a tenant: let it finish

    # -- checkpoints -------------------------------------------------------

    def sign_checkpoints(self) -> int:
        """Sign the head of every tenant that moved since its newest checkpoint."""
        if not self.keys.can_sign:
            return 0
        signed = 0
        with self._engine.begin() as conn:
            for row in list(conn.execute(_DUE_CHECKPOINTS)):
                checkpoint = self.keys.sign(
                    Checkpoint(
                        tenant_id=row.tenant_id,
                        sequence=row.last_sequence,
                        head_hash=row.last_hash,
                        sign_time=self._clock.now(),
                    )
                )
                conn.execute(_insert_checkpoint(conn), _checkpoint_row(checkpoint))
                signed += 1
        return signed

    # -- background thread ---------------------------------------------------

    def poke(self, _tenants: object = None) -> None:
        """Something committed: sequence now instead of at the next poll."""
        self._poke.set()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="ledger-sequencer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._poke.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _loop(self) -> None:
        next_checkpoint = time.monotonic() + self._checkpoint_every
        while not self._stop.is_set():
            numbered = 0
            try:
                numbered = self.run_once()
                if time.monotonic() >= next_checkpoint:
                    self.sign_checkpoints()
                    next_checkpoint = time.monotonic() + self._checkpoint_every
            except Exception:  # logged and retried: the sequencer must outlive a bad moment
                log.exception("sequencing pass failed")
                self._stop.wait(self._poll)
            if numbered:
                # Group commit, as TigerBeetle batches: under steady load every
                # commit pokes, and a pass per poke would number one or two
                # records at a time, each pass a transaction of its own with
                # its fsync and the server's CPU. Letting commits gather for a
                # few milliseconds makes the batches bigger and fewer; a lone
                # commit after a quiet spell is still numbered at once, and a
                # backlog (a full batch) is worked through without pausing.
                if self._linger and numbered < self._batch_size:
                    self._stop.wait(self._linger)
                continue
            self._poke.wait(self._poll)
            self._poke.clear()
        try:
            self.sign_checkpoints()
        except Exception:
            log.exception("final checkpoint failed")


def _insert_checkpoint(conn: Connection) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(t.ledger_checkpoints).on_conflict_do_nothing()


def _checkpoint_row(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "tenant_id": checkpoint.tenant_id,
        "sequence": checkpoint.sequence,
        "head_hash": checkpoint.head_hash,
        "sign_time": checkpoint.sign_time,
        "key_id": checkpoint.key_id,
        "signature": checkpoint.signature,
    }


def list_checkpoints(conn: Connection, tenant_id: str) -> list[Checkpoint]:
    c = t.ledger_checkpoints.c
    rows = conn.execute(
        select(t.ledger_checkpoints).where(c.tenant_id == tenant_id).order_by(c.sequence)
    )
    return [
        Checkpoint(
            tenant_id=row.tenant_id,
            sequence=row.sequence,
            head_hash=row.head_hash.strip(),
            sign_time=row.sign_time,
            key_id=row.key_id,
            signature=row.signature,
        )
        for row in rows
    ]


def newest_checkpoint_sequence(conn: Connection, tenant_id: str) -> int:
    c = t.ledger_checkpoints.c
    query = select(func.coalesce(func.max(c.sequence), 0)).where(c.tenant_id == tenant_id)
    return int(conn.execute(query).scalar_one())
