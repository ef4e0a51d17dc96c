"""Payment service providers: a simulated PSP (in memory and as its own HTTP
process) and the gateways Accrue talks to a PSP through. Payments are tested
against a PSP that can lose responses, fail and be slow on purpose, so the
gateways must never be anything more than the protocol in `services.psp`."""
