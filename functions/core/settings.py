"""Configuration as a validated model: a missing or malformed variable fails the cold start, not an order."""

from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Environment every function shares (set in template.yaml Globals)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    table_name: str = Field(min_length=3, validation_alias="TABLE_NAME")
    status_index_shards: int = Field(default=8, ge=1, le=64, validation_alias="STATUS_INDEX_SHARDS")
    default_warehouse: str = Field(default="WH-MAIN", min_length=1, validation_alias="DEFAULT_WAREHOUSE")


class ApiSettings(Settings):
    """The API function also starts executions."""

    state_machine_arn: str = Field(pattern=r"^arn:aws[a-z-]*:states:", validation_alias="STATE_MACHINE_ARN")
    max_body_bytes: int = Field(default=256_000, ge=1_024, validation_alias="MAX_BODY_BYTES")


class AuthSettings(Settings):
    """The authorizer and the API function read the auth secret (signing key, platform secrets)."""

    auth_secret_arn: str = Field(min_length=1, validation_alias="AUTH_SECRET_ARN")
    auth_cache_seconds: int = Field(default=300, ge=0, le=3600, validation_alias="AUTH_CACHE_SECONDS")


@cache
def get_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]


@cache
def get_api_settings() -> ApiSettings:
    return ApiSettings()  # type: ignore[call-arg]


@cache
def get_auth_settings() -> AuthSettings:
    return AuthSettings()  # type: ignore[call-arg]


def clear_settings_cache() -> None:
    """Tests and the local runtime change the environment, then call this."""
    get_settings.cache_clear()
    get_api_settings.cache_clear()
    get_auth_settings.cache_clear()
