"""Credentials: API key secrets and short-lived signed browser tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.db import utcnow
from scaispeak.platform.errors import Forbidden, Unauthorized

KEY_PREFIX = "ssk"
_TOKEN_AUDIENCE = "scaispeak-browser"
BROWSER_SCOPE = "browser"
"""The one scope a browser token carries: speak, stream, read; never administer."""


class BrowserTokenNotAllowed(Forbidden):
    """A browser token on a route that needs an API key (``deps.ApiKeyCaller``): a
    short-lived token must not mint lasting credentials or change limits or policies."""

    code, title = "browser_token_not_allowed", "Browser token not allowed"


@dataclass(frozen=True)
class BrowserTokenClaims:
    user_id: str
    key_id: str
    """The API key that issued the token; the token is void once the key is revoked."""


@dataclass(frozen=True)
class KeySecret:
    """A freshly minted API key: the full secret exists only here, once."""

    prefix: str
    secret: str

    @property
    def hash(self) -> str:
        return hash_secret(self.secret)


def mint_api_key() -> KeySecret:
    # The prefix is stored in clear to find the row; the rest is 256 bits of secret.
    prefix = secrets.token_hex(6)
    return KeySecret(prefix=prefix, secret=f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}")


def parse_key_prefix(secret: str) -> str | None:
    parts = secret.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 12:
        return None
    return parts[1]


def hash_secret(secret: str) -> str:
    # API keys carry 256 bits of entropy, so a fast hash is enough (no password stretching).
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def issue_browser_token(
    principal: Principal, signing_key: str, ttl: timedelta
) -> tuple[str, datetime]:
    """A token for a browser to open streams and speak as ``principal``'s API key.

    It names the issuing key (``kid``), so revoking the key ends its tokens too, and
    carries the browser scope, which management routes refuse (deps.ApiKeyCaller).
    """
    if principal.key_id is None or principal.via_browser_token:
        raise BrowserTokenNotAllowed("Browser tokens are issued to API keys only.")
    expires = utcnow() + ttl
    claims = {
        "sub": principal.user_id,
        "kid": principal.key_id,
        "scope": BROWSER_SCOPE,
        "aud": _TOKEN_AUDIENCE,
        "exp": expires,
        "iat": utcnow(),
    }
    return jwt.encode(claims, signing_key, algorithm="HS256"), expires


def looks_like_browser_token(credential: str) -> bool:
    return credential.count(".") == 2 and not credential.startswith(f"{KEY_PREFIX}_")


def verify_browser_token(token: str, signing_key: str) -> BrowserTokenClaims:
    """The claims of a well-signed, unexpired browser token; whether its key still
    stands is the caller's check (service.authenticate_browser_token)."""
    try:
        claims = jwt.decode(
            token,
            signing_key,
            algorithms=["HS256"],
            audience=_TOKEN_AUDIENCE,
            # Not iat: nothing reads it, and a replica whose clock is a moment behind
            # the one that issued the token refused it as "not yet valid".
            options={"require": ["exp", "sub", "kid", "scope"], "verify_iat": False},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The token has expired.") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("The token is invalid.") from exc
    if claims["scope"] != BROWSER_SCOPE:
        raise Unauthorized("The token is invalid.")
    return BrowserTokenClaims(user_id=str(claims["sub"]), key_id=str(claims["kid"]))
