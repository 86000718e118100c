"""API Gateway's authorizer step, locally: the same authorizer function, the same gateway responses.

Read from template.yaml: the API's default Lambda authorizer (REQUEST type), the routes that opt out
(`Auth: {Authorizer: NONE}`) and the GatewayResponses bodies. Per request: build the REQUEST authorizer
event (headers, method, path; never the body, as on AWS), run the authorizer, and either pass its
context on to the API function (`requestContext.authorizer`) or answer 401/403/500 the way API Gateway
would, with the template's response bodies.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from typing import Any

from oms.local.template import Template

_SOURCE_ERRORS = {
    "UNAUTHORIZED": 401,
    "ACCESS_DENIED": 403,
    "AUTHORIZER_FAILURE": 500,
    "MISSING_AUTHENTICATION_TOKEN": 403,
}


@dataclass
class Decision:
    context: dict[str, Any] | None  # passed to the API function when allowed
    status: int = 200
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # the gateway response's ResponseParameters


class Gateway:
    def __init__(self, template: Template, api_function: str, region: str, account: str) -> None:
        self.region, self.account = region, account
        self.authorizer_function: str | None = None
        self.public: list[tuple[str, re.Pattern[str]]] = []
        self.responses: dict[str, dict[str, Any]] = {}
        resources = template.raw["Resources"]
        events = resources[api_function]["Properties"].get("Events", {}).values()
        api_ids = {e["Properties"]["RestApiId"].get("Ref") for e in events if e.get("Type") == "Api"}
        for api_id in api_ids:
            props = resources.get(api_id, {}).get("Properties", {})
            auth = props.get("Auth", {})
            name = auth.get("DefaultAuthorizer")
            if name:
                arn = auth["Authorizers"][name]["FunctionArn"]
                self.authorizer_function = arn["Fn::GetAtt"][0]
            self.responses = props.get("GatewayResponses", {})
        self.routes: list[tuple[str, re.Pattern[str]]] = []
        for event in events:
            if event.get("Type") != "Api":
                continue
            properties = event.get("Properties", {})
            pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(properties["Path"]))
            route = (properties["Method"].upper(), re.compile(f"^{pattern}$"))
            self.routes.append(route)
            if (properties.get("Auth") or {}).get("Authorizer") == "NONE":
                self.public.append(route)

    def _is_public(self, method: str, path: str) -> bool:
        return any(m == method and p.match(path) for m, p in self.public)

    def declares(self, method: str, path: str) -> bool:
        """Whether template.yaml declares this route (API Gateway answers any other itself)."""
        return any(m in (method.upper(), "ANY") and p.match(path) for m, p in self.routes)

    def authorize(self, invoke: Any, event: dict[str, Any]) -> Decision:
        method, path = event["httpMethod"], event["path"]
        if self.routes and not self.declares(method, path):
            return self._refuse("MISSING_AUTHENTICATION_TOKEN", {}, method, path)
        if self.authorizer_function is None or self._is_public(method, path):
            return Decision(context=None)
        method_arn = f"arn:aws:execute-api:{self.region}:{self.account}:local/v1/{method}{path}"
        request = {
            "type": "REQUEST",
            "methodArn": method_arn,
            **{k: event[k] for k in ("resource", "path", "httpMethod", "headers", "multiValueHeaders")},
            **{
                k: event[k]
                for k in ("queryStringParameters", "multiValueQueryStringParameters", "pathParameters")
            },
            "stageVariables": event.get("stageVariables"),
            "requestContext": event["requestContext"],
        }
        try:
            result = invoke(self.authorizer_function, request)
        except Exception as exc:
            if str(exc) == "Unauthorized":
                return self._refuse("UNAUTHORIZED", {})
            return self._refuse("AUTHORIZER_FAILURE", {})
        context = {**(result.get("context") or {}), "principalId": result.get("principalId")}
        statements = (result.get("policyDocument") or {}).get("Statement", [])
        allowed = any(
            s.get("Effect") == "Allow" and fnmatch.fnmatchcase(method_arn, str(s.get("Resource")))
            for s in statements
        )
        denied = any(
            s.get("Effect") == "Deny" and fnmatch.fnmatchcase(method_arn, str(s.get("Resource")))
            for s in statements
        )
        if allowed and not denied:
            return Decision(context=context)
        return self._refuse("ACCESS_DENIED", context)

    def _refuse(self, kind: str, context: dict[str, Any], method: str = "", path: str = "") -> Decision:
        spec = self.responses.get(kind, {})
        template = (spec.get("ResponseTemplates") or {}).get("application/json")
        status = int(spec.get("StatusCode", _SOURCE_ERRORS[kind]))
        headers = _static_headers(spec)
        if template is None:
            return Decision(None, status, json.dumps({"message": kind.replace("_", " ").title()}), headers)

        def value(match: re.Match[str]) -> str:
            text = str(context.get(match.group(1), ""))
            return json.dumps(text)[1:-1]  # as VTL would print it inside the template's quotes

        body = re.sub(r"\$context\.authorizer\.([A-Za-z0-9_]+)", value, template)
        body = body.replace("$context.httpMethod", method).replace(
            "$context.resourcePath", json.dumps(path)[1:-1]
        )
        return Decision(None, status, body, headers)


def _static_headers(spec: dict[str, Any]) -> dict[str, str]:
    """The ResponseParameters headers with static ('quoted') values, as API Gateway sends them."""
    headers = (spec.get("ResponseParameters") or {}).get("Headers") or {}
    return {
        name: str(value)[1:-1]
        for name, value in headers.items()
        if len(str(value)) >= 2 and str(value)[0] == str(value)[-1] == "'"
    }
