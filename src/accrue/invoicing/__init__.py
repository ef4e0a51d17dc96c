"""Invoicing: invoices, credit notes, tax, line text, their ledger postings and documents."""
