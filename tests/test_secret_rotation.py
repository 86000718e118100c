"""SecretRotationFunction's four steps against Secrets Manager (the embedded one): the staff-token key
rotates, tokens minted before a rotation keep working until the next, platform secrets never move."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest

from functions.core import aws
from functions.core.auth.principals import AuthError
from functions.core.auth.tokens import mint_token, verify_token_with_any
from functions.core.secrets import AuthKeys
from functions.rotation import service
from functions.rotation.service import RotationRefused

MASTER = "r" * 64


class _RotationEnabled:
    """Secrets Manager's client as the rotation function sees it: rotation enabled, and the version a
    rotation starts (RotateSecret stages its id AWSPENDING before calling the function) in place."""

    started: set[str] = set()

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def describe_secret(self, **kwargs: Any) -> dict[str, Any]:
        metadata = self._client.describe_secret(**kwargs)
        stages = {token: ["AWSPENDING"] for token in self.started} | metadata.get("VersionIdsToStages", {})
        return {**metadata, "RotationEnabled": True, "VersionIdsToStages": stages}


@pytest.fixture
def secret_id(stack, monkeypatch) -> str:
    client = aws.secretsmanager()
    name = f"rotation-test-{uuid.uuid4().hex[:8]}"
    document = {"signing_key": MASTER, "platforms": {}}
    arn = client.create_secret(Name=name, SecretString=json.dumps(document))["ARN"]
    monkeypatch.setattr(service.aws, "secretsmanager", lambda: _RotationEnabled(client))
    return str(arn)


def _current(secret_id: str) -> AuthKeys:
    value = aws.secretsmanager().get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")
    return AuthKeys.parse(value["SecretString"])


def _rotate(secret_id: str) -> str:
    token = str(uuid.uuid4())
    _RotationEnabled.started.add(token)
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        service.rotate(secret_id, token, step)  # type: ignore[arg-type]
    return token


def test_a_rotation_replaces_the_token_key_and_keeps_the_previous_one(secret_id, stack):
    now = stack.clock.now()
    before = _current(secret_id)
    old_token = mint_token(before.staff_key, "alice", "admin", now)

    _rotate(secret_id)
    after = _current(secret_id)
    assert after.staff_key != before.staff_key
    assert after.master == before.master
    assert after.platform_secret("tmall") == before.platform_secret("tmall")  # integrators unaffected
    assert verify_token_with_any(after.staff_keys, old_token, now).id == "alice"
    new_token = mint_token(after.staff_key, "bob", "ops", now)
    assert verify_token_with_any(after.staff_keys, new_token, now).id == "bob"

    _rotate(secret_id)  # a second rotation retires the first key
    latest = _current(secret_id)
    with pytest.raises(AuthError):
        verify_token_with_any(latest.staff_keys, old_token, now)
    assert verify_token_with_any(latest.staff_keys, new_token, now).id == "bob"


def test_an_expired_token_says_so_during_the_overlap(secret_id, stack):
    now = stack.clock.now()
    token = mint_token(_current(secret_id).staff_key, "alice", "admin", now, timedelta(minutes=1))
    _rotate(secret_id)
    with pytest.raises(AuthError) as refused:
        verify_token_with_any(_current(secret_id).staff_keys, token, now + timedelta(minutes=2))
    assert refused.value.code == "TOKEN_EXPIRED"


def test_create_secret_runs_again_without_minting_another_key(secret_id):
    token = str(uuid.uuid4())
    client = aws.secretsmanager()
    client.put_secret_value(
        SecretId=secret_id,
        ClientRequestToken=token,
        SecretString=client.get_secret_value(SecretId=secret_id)["SecretString"],
        VersionStages=["AWSPENDING"],
    )
    service.rotate(secret_id, token, "createSecret")  # the pending version exists: left as it is
    pending = client.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage="AWSPENDING")
    assert "token_key" not in json.loads(pending["SecretString"])
    with pytest.raises(ValueError, match="new key"):
        service.rotate(secret_id, token, "testSecret")  # and the test step refuses it


def test_a_version_that_is_not_pending_is_refused(secret_id):
    with pytest.raises(RotationRefused):
        service.rotate(secret_id, str(uuid.uuid4()), "createSecret")
