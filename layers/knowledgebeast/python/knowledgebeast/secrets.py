"""Secrets: a value from settings, or read from AWS Secrets Manager by ARN and re-read every few minutes.

In AWS, environment variables carry only ARNs (never secret values). The value is read through
Powertools parameters (``get_secret(..., max_age=SECRETS_MAX_AGE_SECONDS)``), which keeps it in
memory for ``max_age`` seconds: a rotated API key, JWT secret, Redis password or Chroma token is
picked up by every warm container within that time, without a redeploy. Consumers therefore hold a
:class:`SecretSource` and call :meth:`SecretSource.get` when they need the value (a dictionary
look-up while the cached value is fresh), never a string captured at start-up.

When a refresh fails (Secrets Manager throttled or unreachable) the last value read is kept and
the failure logged: a transient outage must not turn into every request failing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydantic import SecretStr

from knowledgebeast.errors import ConfigurationError

logger = logging.getLogger(__name__)

#: How long a secret read from Secrets Manager is reused before it is read again (seconds).
DEFAULT_MAX_AGE_SECONDS = 300

_last_good: dict[str, str] = {}


def _short_name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


def fetch_secret(arn: str, max_age: int = DEFAULT_MAX_AGE_SECONDS) -> str:
    """The secret's current string, read again once the cached copy is ``max_age`` seconds old."""
    from aws_lambda_powertools.utilities import parameters

    try:
        value = parameters.get_secret(arn, max_age=max_age)
    except parameters.exceptions.GetParameterError as exc:
        if arn in _last_good:
            logger.warning("secret refresh failed, keeping the last value", extra={"resource": _short_name(arn)})
            return _last_good[arn]
        raise ConfigurationError(f"cannot read secret {_short_name(arn)!r}") from exc
    if not isinstance(value, str):
        raise ConfigurationError("secrets must be stored as strings")
    _last_good[arn] = value
    return value


@dataclass(frozen=True)
class SecretSource:
    """Where one secret comes from: a literal (local mode, tests) or a Secrets Manager ARN."""

    literal: str | None = None
    arn: str | None = None
    max_age: int = DEFAULT_MAX_AGE_SECONDS

    @classmethod
    def from_settings(cls, value: SecretStr | None, arn: str | None, max_age: int) -> SecretSource:
        literal = value.get_secret_value() if value is not None and value.get_secret_value() else None
        return cls(literal=literal, arn=arn or None, max_age=max_age)

    @property
    def configured(self) -> bool:
        return self.literal is not None or self.arn is not None

    def get(self) -> str | None:
        """The current value (the literal wins over the ARN, as in the settings precedence)."""
        if self.literal is not None:
            return self.literal
        if self.arn:
            return fetch_secret(self.arn, self.max_age)
        return None
