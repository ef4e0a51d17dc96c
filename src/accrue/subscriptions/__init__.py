"""Subscriptions: the aggregate, proration, what a period bills, and the bill run."""
