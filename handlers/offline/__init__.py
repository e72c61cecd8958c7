"""The offline Stripe stand-in, for running the whole purchase loop with no Stripe account; the
composition root adds its pages' routes only when it chooses it."""
