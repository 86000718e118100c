"""The local runtime's contract with moto: every patch names what it replaces, and a missing target is loud.

A rename upstream would otherwise un-patch silently and show up as executions that never end;
tests/unit/test_moto_contract.py checks that every recorded patch is in force.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any


class MotoContractError(RuntimeError):
    """moto no longer has an attribute the local runtime patches: the tested moto range has changed."""


@dataclass(frozen=True)
class Patch:
    owner: Any
    name: str
    replacement: Any

    def in_force(self) -> bool:
        return inspect.getattr_static(self.owner, self.name, None) is self.replacement


PATCHES: list[Patch] = []


def patch_moto(owner: Any, name: str, replacement: Any) -> None:
    """Replace `owner.name` (a moto class or module attribute), refusing when moto has no such name."""
    if not hasattr(owner, name):
        where = getattr(owner, "__qualname__", None) or getattr(owner, "__name__", repr(owner))
        raise MotoContractError(
            f"moto has no {where}.{name} to patch: oms/local/moto_patches.py is written for moto "
            "5.2.x (pyproject.toml pins it); see docs/local-runtime.md"
        )
    setattr(owner, name, replacement)
    PATCHES.append(Patch(owner, name, replacement))
