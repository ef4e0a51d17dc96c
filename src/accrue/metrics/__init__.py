"""Prometheus/OpenMetrics metrics for every Accrue process.

- `rpc`: RED per RPC and transport, observed once per call by the invoker.
- `psp`: a PaymentGateway decorator measuring every request to a PSP.
- `pool`: database pool use (SQLAlchemy pool events and pool counters).
- `state`: money-path gauges computed at scrape time by small bounded queries.
- `endpoint`: the HTTP endpoint (/metrics, /healthz, /readyz) any entry point starts.

Labels are bounded by construction: RPC names, transports, status codes and
error reasons from the error table, PSP names, fixed outcome sets. No id,
key or amount is ever a label.
"""
