"""`sam build` builds each function with the Makefile (BuildMethod: makefile): every function of
template.yaml needs its build target, or the deploy fails where no local test would notice."""

from __future__ import annotations

import re
from pathlib import Path

from oms.local.template import Template

ROOT = Path(__file__).resolve().parents[1]


def test_every_template_function_has_a_makefile_build_target():
    makefile = (ROOT / "Makefile").read_text()
    listed = {
        name
        for line in re.findall(r"^LAMBDA_FUNCTIONS \+?:?= (.+)$", makefile, re.M)
        for name in line.split()
    }
    functions = {
        logical_id
        for logical_id, resource in Template.load().resources("AWS::Serverless::Function").items()
        if resource.get("Metadata", {}).get("BuildMethod") == "makefile"
    }
    assert functions, "no makefile-built functions found"
    assert functions - listed == set(), f"add these to LAMBDA_FUNCTIONS in the Makefile: {functions - listed}"
