"""Secrets Manager's four rotation steps for the auth secret (createSecret, setSecret, testSecret,
finishSecret), idempotent as Secrets Manager requires: each step may run again after a failure.

https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html
"""

from __future__ import annotations

import json
import secrets
from typing import Literal

from functions.core import aws
from functions.core.observability import logger
from functions.core.secrets import AuthKeys
from functions.rotation.logic import rotated

Step = Literal["createSecret", "setSecret", "testSecret", "finishSecret"]


class RotationRefused(Exception):
    """The event names a version Secrets Manager has not staged for rotation: do nothing."""


def rotate(secret_id: str, token: str, step: Step) -> None:
    client = aws.secretsmanager()
    metadata = client.describe_secret(SecretId=secret_id)
    if not metadata.get("RotationEnabled"):
        raise RotationRefused(f"rotation is not enabled for {secret_id}")
    stages = metadata.get("VersionIdsToStages", {})
    if token not in stages:
        raise RotationRefused(f"version {token} has no stage")
    if "AWSCURRENT" in stages[token]:
        logger.info("rotation already finished", extra={"step": step})
        return
    if "AWSPENDING" not in stages[token]:
        raise RotationRefused(f"version {token} is not pending")
    if step == "createSecret":
        _create(secret_id, token)
    elif step == "testSecret":
        _test(secret_id, token)
    elif step == "finishSecret":
        current = next(version for version, names in stages.items() if "AWSCURRENT" in names)
        client.update_secret_version_stage(
            SecretId=secret_id, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=current
        )
    # setSecret: the key is ours alone; no other system holds a copy to update.
    logger.info("rotation step done", extra={"step": step})


def _create(secret_id: str, token: str) -> None:
    client = aws.secretsmanager()
    try:
        client.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage="AWSPENDING")
        return  # created by an earlier attempt of this step
    except client.exceptions.ResourceNotFoundException:
        pass
    current = client.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")["SecretString"]
    keys = AuthKeys.parse(current)
    document = rotated(json.loads(current), keys.staff_key, secrets.token_bytes(32))
    client.put_secret_value(
        SecretId=secret_id,
        ClientRequestToken=token,
        SecretString=json.dumps(document),
        VersionStages=["AWSPENDING"],
    )


def _test(secret_id: str, token: str) -> None:
    client = aws.secretsmanager()
    pending = client.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage="AWSPENDING")
    current = client.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")
    new, old = AuthKeys.parse(pending["SecretString"]), AuthKeys.parse(current["SecretString"])
    if new.staff_key == old.staff_key or old.staff_key not in new.staff_keys:
        raise ValueError("the pending version must mint with a new key and still accept the current one")
    if new.master != old.master:
        raise ValueError("rotation must not change signing_key: platform and carrier secrets derive from it")
