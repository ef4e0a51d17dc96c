"""Ledger: the append-only double-entry ledger, its sequencer and signed checkpoints."""
