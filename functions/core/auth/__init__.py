"""Who may call what: principals, the one permissions table, platform signatures and staff tokens.

Pure logic (no AWS): the Lambda authorizer (functions/authorizer) and the API function
(functions/core/security.py) both decide with these functions, on AWS and locally alike. Import the
module that holds what you need; this package re-exports nothing, so importing one piece loads only it:

* `principals`: Role, Principal, ANONYMOUS, AuthError (401 or 403), the PLATFORM / CARRIER / PUBLIC roles.
* `permissions`: PERMISSIONS, (method, route) -> who may call it; match_route, path_parameter, authorize.
* `signing`: the X-OMS-* headers, sign_request / verify_request (signed requests in), sign (webhooks out).
* `tokens`: staff tokens (mint_token, verify_token) and authenticate (who a request comes from).
* `keys`: the per-platform, per-carrier, webhook and staff-token secrets derived from the master keys.
"""
