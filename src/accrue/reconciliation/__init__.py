"""Reconciliation: PSP settlement reports matched against payments and refunds."""
