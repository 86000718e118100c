"""Cold imports for `oms bench`: each handler module imported in fresh interpreters as a deployed function
imports it (its Lambda environment, from bytecode), against `import boto3` alone (docs/adr/0004)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from oms.local.stack import LOCAL_ENVIRONMENT

if TYPE_CHECKING:
    from oms.local.template import FunctionSpec, Template

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["ColdImports", "measure_cold_imports"]


def _module_env() -> dict[str, str]:
    """The environment a deployed function imports under: template values, references as placeholders."""
    from oms.local.stack import ACCOUNT, REGION
    from oms.local.template import Resolver, Template

    template = Template.load()
    resources = template.raw.get("Resources", {})
    arns = {lid: f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{lid}" for lid in resources}
    refs = {lid: lid for lid in resources}
    for lid, resource in resources.items():
        kind = resource.get("Type", "")
        if "StateMachine" in kind:  # Ref of a state machine is its ARN
            refs[lid] = arns[lid] = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{lid}"
        elif kind == "AWS::IAM::Role":
            arns[lid] = f"arn:aws:iam::{ACCOUNT}:role/{lid}"
    resolver = Resolver(template, refs, arns, REGION, ACCOUNT)
    env = {**os.environ, **LOCAL_ENVIRONMENT}
    for spec in template.functions():
        for key, value in spec.environment.items():
            env[key] = str(resolver.resolve(value))
    return env


def _import_seconds(module: str, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of `import module` in a fresh interpreter."""
    code = (
        "import time, sys\n"
        "t, c = time.perf_counter(), time.process_time()\n"
        f"import {module}\n"
        "sys.stdout.write(repr((time.perf_counter() - t, time.process_time() - c)))\n"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter, our own module names
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"importing {module} failed: {done.stderr.strip()[-500:]}")
    wall, cpu = (float(x) for x in done.stdout.strip("()").split(","))
    return wall, cpu


@dataclass(frozen=True)
class ColdImports:
    """Medians per module, "boto3" included: wall seconds (the reported figure) and CPU seconds (steadier
    on a shared machine)."""

    wall: dict[str, float]
    cpu: dict[str, float]

    @staticmethod
    def ratio(seconds: dict[str, float]) -> float:
        return round(max(v for k, v in seconds.items() if k != "boto3") / seconds["boto3"], 2)


def _lambda_runtime_env(template: Template, spec: FunctionSpec, env: dict[str, str]) -> dict[str, str]:
    """`env` plus what the Lambda runtime sets for the function: Powertools and the X-Ray SDK then know
    they run in Lambda, and tracing is on where the template turns it on, as in a deployed function."""
    function = template.raw.get("Globals", {}).get("Function", {})
    props = template.raw["Resources"][spec.logical_id].get("Properties", {})
    runtime = props.get("Runtime", function.get("Runtime", "python3.12"))
    out = {
        **env,
        "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
        "LAMBDA_TASK_ROOT": str(ROOT),
        "_HANDLER": spec.handler,
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
    }
    out.pop("AWS_SAM_LOCAL", None)
    if props.get("Tracing", function.get("Tracing")) == "Active":
        out.pop("POWERTOOLS_TRACE_DISABLED", None)  # the local stack's switch, not the template's
    return out


def measure_cold_imports(runs: int = 5, env: dict[str, str] | None = None) -> ColdImports:
    """Median import time of boto3 and of every handler module in template.yaml, fresh interpreters.

    As a deployed function imports them: under its Lambda runtime environment (tracing as the template
    sets it) and from bytecode compiled ahead of time (the build compiles the functions' code, the
    runtime ships boto3 compiled), so no timed run compiles source. An untimed first import of every
    module writes that bytecode into a scratch cache, whatever the caller's PYTHONDONTWRITEBYTECODE says.
    """
    from oms.local.template import Template

    base = dict(env or _module_env())
    base.pop("PYTHONDONTWRITEBYTECODE", None)
    template = Template.load()
    envs = {"boto3": base}
    for spec in template.functions():
        envs.setdefault(spec.handler.rsplit(".", 1)[0], _lambda_runtime_env(template, spec, base))
    modules = ["boto3", *sorted(set(envs) - {"boto3"})]
    samples: dict[str, list[tuple[float, float]]] = {m: [] for m in modules}
    with tempfile.TemporaryDirectory(prefix="oms-bench-bytecode-") as bytecode:
        for module_env in envs.values():
            module_env["PYTHONPYCACHEPREFIX"] = bytecode
        for module in modules:
            _import_seconds(module, envs[module])
        for _ in range(runs):  # interleaved, so a noisy moment hits every module alike
            for module in modules:
                samples[module].append(_import_seconds(module, envs[module]))
    return ColdImports(
        wall={m: round(statistics.median(w for w, _ in s), 4) for m, s in samples.items()},
        cpu={m: round(statistics.median(c for _, c in s), 4) for m, s in samples.items()},
    )
