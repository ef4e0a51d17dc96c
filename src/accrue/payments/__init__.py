"""Payments: charges and refunds through a PSP, collections and dunning, PSP webhooks."""
