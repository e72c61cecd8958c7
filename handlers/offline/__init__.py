"""The offline Stripe stand-in, for running the whole purchase loop with no Stripe account.

`payments` stands in for Stripe, `pages` are its checkout and portal pages, `local_secrets` the webhook
and JWT secrets it makes for itself, `local_token` what `scripts/token` prints. The composition root
adds the pages' routes only when it chooses the stand-in.
"""
