"""`python -m handlers.offline.local_token EMAIL`: print a session token the locally running service accepts.

For trying the service without a Supabase project: the token is signed with SUPABASE_JWT_SECRET when
set, else (offline mode) with the local secret `scripts/serve` uses. The user id is derived from the email.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from collections.abc import Mapping, Sequence

import jwt

from ..session import AUDIENCE
from ..settings import Settings, SettingsError
from .local_secrets import JWT_SECRET_FILE, local_jwt_secret

NAMESPACE = uuid.UUID("6f1c3b52-8a57-4d55-9b8e-4c0de0b1a1e5")


def user_id_for(email: str) -> str:
    """The same user id for the same email, every time."""
    return str(uuid.uuid5(NAMESPACE, email.strip().lower()))


def mint(settings: Settings, email: str, user_id: str, hours: float, now: float) -> str:
    """An access token shaped like Supabase's, for `user_id`, valid `hours` from `now`."""
    secret = settings.supabase_jwt_secret
    if secret is None:
        if settings.stripe_secret_key:
            raise SettingsError("SUPABASE_JWT_SECRET is not set, so the service accepts no session")
        secret = local_jwt_secret(JWT_SECRET_FILE)
    claims = {
        "aud": AUDIENCE,
        "sub": user_id,
        "role": AUDIENCE,
        "email": email,
        "iat": int(now),
        "exp": int(now + hours * 3600),
        "session_id": str(uuid.uuid4()),
        "is_anonymous": False,
        "aal": "aal1",
    }
    if settings.token_issuer:
        claims["iss"] = settings.token_issuer
    return jwt.encode(claims, secret, algorithm="HS256")


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> None:
    """Print the token, and nothing else, on standard output."""
    parser = argparse.ArgumentParser(prog="scripts/token", description=__doc__)
    parser.add_argument("email")
    parser.add_argument("--user-id", help="the token's subject (default: derived from the email)")
    parser.add_argument("--hours", type=float, default=24.0, help="how long the token is valid (default 24)")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(os.environ if environ is None else environ)
        token = mint(settings, args.email, args.user_id or user_id_for(args.email), args.hours, time.time())
    except SettingsError as exc:
        raise SystemExit(f"configuration error: {exc}") from None
    print(token)


if __name__ == "__main__":
    main()
