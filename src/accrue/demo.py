"""The demo tenant and the copy-paste calls printed for a newcomer."""

from __future__ import annotations

import shutil

from accrue.bootstrap import Application

DEMO_TENANT = "demo"


def ensure_demo_key(app: Application) -> tuple[str, str]:
    """The demo tenant's id and a fresh API key for it (keys are shown only once)."""
    existing = app.tenants.find_by_name(DEMO_TENANT)
    if existing is None:
        created = app.tenants.create_tenant(DEMO_TENANT)
        return created.tenant.id, created.api_key
    return existing.id, app.tenants.issue_key(existing.id)


def instructions(*, api_key: str, grpc_address: str, connect_url: str) -> str:
    body = (
        '{"customer": {"display_name": "Ada Lovelace", "email": "ada@example.com", '
        '"currency_code": "EUR"}, "request_id": "demo-1"}'
    )
    grpcurl = (
        "grpcurl"
        if shutil.which("grpcurl")
        else "grpcurl   # (install grpcurl, or use buf curl below)"
    )
    return f"""
Accrue is running.
  gRPC     {grpc_address}   (reflection and health checking on)
  Connect  {connect_url}   (JSON or binary over HTTP/1.1)

Demo tenant API key (shown once; `accrue tenant create NAME` makes more):
  export ACCRUE_KEY={api_key}

Create a customer over Connect with curl:
  curl -sS -X POST {connect_url}/accrue.billing.v1.CustomerService/CreateCustomer \\
    -H 'content-type: application/json' -H "authorization: Bearer $ACCRUE_KEY" \\
    -d '{body}'

List customers over gRPC with {grpcurl}:
  grpcurl -plaintext -H "authorization: Bearer $ACCRUE_KEY" -d '{{}}' \\
    {grpc_address} accrue.billing.v1.CustomerService/ListCustomers

The same with buf curl (from the project's virtualenv):
  .venv/bin/buf curl --protocol grpc --http2-prior-knowledge \\
    -H "authorization: Bearer $ACCRUE_KEY" -d '{{}}' \\
    http://{grpc_address}/accrue.billing.v1.CustomerService/ListCustomers
"""
