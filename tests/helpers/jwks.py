"""Signing keys the tests generate, published as a JWKS, and tokens signed with them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.helpers.fakes import make_token


@dataclass(frozen=True)
class SigningKey:
    """A private key, its kid and its algorithm."""

    kid: str
    algorithm: str
    private: Any

    def jwk(self) -> dict[str, Any]:
        """The public half as a JWK, as Supabase publishes it."""
        public = self.private.public_key()
        text = (ECAlgorithm if self.algorithm == "ES256" else RSAAlgorithm).to_jwk(public)
        jwk: dict[str, Any] = json.loads(text)
        return jwk | {"kid": self.kid, "alg": self.algorithm, "use": "sig", "key_ops": ["verify"]}

    def token(self, kid: str | None = None, **claims: Any) -> str:
        """A valid access token for USER_ID signed with this key (header `kid` overridable)."""
        payload = jwt.decode(make_token(**claims), options={"verify_signature": False})
        return jwt.encode(payload, self.private, algorithm=self.algorithm, headers={"kid": kid or self.kid})


def es256(kid: str = "es-key-1") -> SigningKey:
    """A fresh P-256 key."""
    return SigningKey(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


def rs256(kid: str = "rs-key-1") -> SigningKey:
    """A fresh 2048-bit RSA key."""
    return SigningKey(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def jwks(*keys: SigningKey) -> dict[str, Any]:
    """The JWKS document publishing `keys`."""
    return {"keys": [key.jwk() for key in keys]}
