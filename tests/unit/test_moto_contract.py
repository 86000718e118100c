"""The local runtime's contract with moto: every patch it needs applies, and a missing target is loud."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from oms.local import moto_patches, scheduler


def test_every_patch_is_in_force_after_install():
    moto_patches.install()
    scheduler.install_change_hooks()
    patched = {(getattr(p.owner, "__name__", repr(p.owner)), p.name) for p in moto_patches.PATCHES}
    assert len(moto_patches.PATCHES) >= 17
    # the ones whose silent loss showed up as 300 s timeouts or wrong clocks
    for must in [
        ("LambdaFunction", "_invoke_lambda"),
        ("WaitFunction", "_wait_interval"),
        ("EventManager", "_get_current_timestamp"),
        ("DynamoHandler", "call_action"),
        ("Table", "query"),
        ("Table", "all_items"),
    ]:
        assert must in patched
    assert [p for p in moto_patches.PATCHES if not p.in_force()] == []


def test_a_patch_whose_target_moto_lacks_fails_loudly():
    class Renamed:
        def _invoke_lambda_v2(self) -> None: ...

    before = len(moto_patches.PATCHES)
    with pytest.raises(moto_patches.MotoContractError, match=r"Renamed\._invoke_lambda .*5\.2\.x"):
        moto_patches.patch_moto(Renamed, "_invoke_lambda", lambda self: None)
    assert len(moto_patches.PATCHES) == before
    assert not hasattr(Renamed, "_invoke_lambda")


def test_installed_moto_is_the_tested_minor_version():
    major, minor = (int(part) for part in version("moto").split(".")[:2])
    assert (major, minor) == (5, 2), "moto_patches.py is written for moto 5.2.x; re-test before widening"
