"""Secrets: a value from settings, or fetched once from AWS Secrets Manager by ARN.

In AWS, environment variables carry only ARNs (never secret values); the value is read at run
time, once per container, and held in memory.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import SecretStr

from knowledgebeast.errors import ConfigurationError


@lru_cache(maxsize=32)
def fetch_secret(arn: str) -> str:
    import boto3

    try:
        response = boto3.client("secretsmanager").get_secret_value(SecretId=arn)
    except Exception as exc:
        raise ConfigurationError(f"cannot read secret {arn.rsplit(':', 1)[-1]!r}") from exc
    value = response.get("SecretString")
    if not isinstance(value, str):
        raise ConfigurationError("secrets must be stored as strings")
    return value


def resolve_secret(value: SecretStr | None, arn: str | None) -> str | None:
    if value is not None and value.get_secret_value():
        return value.get_secret_value()
    if arn:
        return fetch_secret(arn)
    return None
