// OMS ops console: plain JavaScript, no build step. Talks to the same REST API as everyone else, with
// the staff token the user pastes (or that `oms serve` puts in the URL: /console?token=...).
// This file: the shared pieces, the order lists, held orders, exceptions and routing. The order page is
// in order.js and Sales in sales.js (loaded before this file; they only define functions).
"use strict";

const STATUSES = ["RECEIVED", "ON_HOLD", "APPROVED", "BACKORDERED", "ALLOCATED", "AWAITING_PAYMENT", "PAID", "SHIPPED", "DELIVERED", "REJECTED", "CANCELLED", "FAILED"];
const view = document.getElementById("view");
const flash = document.getElementById("flash");
// How often an open list, order page or queue reads the API again (?poll=ms overrides, for demos).
const LIVE_MS = Number(new URLSearchParams(location.search).get("poll")) || 4000;

// ------------------------------------------------------------------ DOM without innerHTML (no XSS)
function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {  // `.map` inside `.map` nests arrays: flatten them all
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
function show(...nodes) { view.replaceChildren(...nodes.flat(Infinity).filter((n) => n !== null && n !== undefined && n !== false)); }
function say(message, ok) {
  flash.textContent = message;
  flash.className = ok ? "ok" : "";
  flash.hidden = !message;
}

// Times: the reader's local time on screen, UTC on hover (the API speaks UTC).
const pad = (n) => String(n).padStart(2, "0");
function localTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
function utcTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}
function when(iso) { return iso ? h("time", { datetime: iso, title: utcTime(iso) }, localTime(iso)) : ""; }
function money(revenue) {
  const entries = Object.entries(revenue || {});
  return entries.length ? entries.map(([c, v]) => `${v} ${c}`).join(" + ") : "0";
}
function statusBadge(status) { return h("span", { class: `status ${status}`, "data-status": status }, status); }
function loading() { return h("p", { class: "muted loading" }, "Loading…"); }

// ------------------------------------------------------------------ the token, the role and the API
const TOKEN_KEY = "oms.token";
function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }
function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY);
  whoAmI();
}
function claims() {
  try { return JSON.parse(atob(token().split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))); } catch { return null; }
}
function whoAmI() {
  const c = claims();
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
  document.getElementById("who").textContent = c ? `${c.sub} (${c.role})` : "not signed in";
  document.getElementById("who").title = `times shown in ${zone}; hover a time for UTC`;
}

class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code;
  }
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${token()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

let openapi = null;
async function hasRoute(method, route) {
  if (!openapi) openapi = await api("GET", "/openapi.json");
  return Boolean(openapi.paths && openapi.paths[route] && openapi.paths[route][method.toLowerCase()]);
}

// Who may call what: the API's own permissions table (functions/core/auth/permissions.py), as the server gives it.
let permissions = null;
async function may(method, route) {
  if (!(await hasRoute(method, route))) return false;
  if (!permissions) {
    const response = await fetch("/console/permissions.json");
    permissions = response.ok ? await response.json() : {};
  }
  const roles = permissions[`${method} ${route}`];
  const c = claims();
  return roles === undefined ? true : Boolean(c && roles.includes(c.role));
}

// "2 applied, 1 stale": what went through first, then the rest by name (the same words every time,
// whatever order the server counted them in).
const countsText = (counts, good) => Object.entries(counts)
  .sort(([a], [b]) => (good.includes(b) - good.includes(a)) || a.localeCompare(b))
  .map(([outcome, n]) => `${n} ${outcome}`).join(", ");

async function guarded(work) {
  try {
    await work();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) say("Your token is missing, invalid or expired: paste a fresh one (oms token --role ops --user you).");
    else if (err instanceof ApiError && err.status === 403) say(`Not allowed for your role: ${err.message}`);
    else say(err.message || String(err));
    if (!view.querySelector("table, .card")) show(h("p", { class: "muted" }, "Nothing to show."));
  }
}

// ------------------------------------------------------------------ order tables
const NO_ORDERS = () => h("tr", { class: "empty" }, h("td", { colspan: 8, class: "muted" }, "No orders."));
// Select-many: a checkbox per row (class "pick", value the order id) and one in the header for all.
function pickCell(orderId) {
  return h("td", {}, h("input", { type: "checkbox", class: "pick", value: orderId, "aria-label": `select ${orderId}` }));
}
function pickHeader(selectable) {
  return selectable ? h("th", {}, h("input", { type: "checkbox", id: "pick-all", "aria-label": "select all",
    onchange: (event) => document.querySelectorAll("input.pick").forEach((box) => { box.checked = event.target.checked; }) })) : null;
}
function picked() { return [...document.querySelectorAll("input.pick:checked")].map((box) => box.value); }
function orderRow(o, extra, selectable) {
  return h("tr", { "data-order": o.order_id },
    selectable ? pickCell(o.order_id) : null,
    h("td", {}, h("a", { href: `#/orders/${o.order_id}`, class: "order-link" }, o.order_id)),
    h("td", { class: "wide-only" }, o.platform, h("div", { class: "muted" }, o.platform_order_id)),
    h("td", {}, statusBadge(o.status)),
    h("td", { class: "wide-only" }, o.buyer.name || "", h("div", { class: "muted" }, o.buyer.id)),
    h("td", { class: "num" }, `${o.total} ${o.currency}`),
    h("td", { class: "when" }, when(o.created_at)),
    h("td", { class: "why" }, o.problem || ""),
    extra ? h("td", {}, extra(o)) : null);
}
function ordersTable(extra, selectable) {
  return h("div", { class: "scroll" }, h("table", { class: "orders" },
    h("thead", {}, h("tr", {}, pickHeader(selectable), h("th", {}, "Order"), h("th", { class: "wide-only" }, "Platform"), h("th", {}, "Status"),
      h("th", { class: "wide-only" }, "Buyer"), h("th", { class: "num" }, "Total"), h("th", {}, "Received"), h("th", {}, "Why"),
      extra ? h("th", {}, "Decide") : null)),
    h("tbody", {}, h("tr", { class: "loading" }, h("td", { colspan: 8, class: "muted" }, "Loading…")))));
}

// A list of orders, first page loaded before it is returned (so nothing says "No orders." while
// the answer is on its way); "More" follows next_token and marks the list expanded (live updates
// then leave it alone, so a reader's extra pages do not vanish under them).
async function pagedList(query, extra, selectable) {
  let next = null;
  const more = h("button", { type: "button" }, "More");
  const box = h("div", { class: "paged" }, ordersTable(extra, selectable), more);
  const tbody = box.querySelector("tbody");
  let first = true;
  async function load() {
    const params = new URLSearchParams(query);
    if (next) params.set("next_token", next);
    const page = await api("GET", `/orders?${params}`);
    if (first) { tbody.replaceChildren(); first = false; } else box.dataset.expanded = "true";
    for (const o of page.items) tbody.append(orderRow(o, extra, selectable));
    if (!tbody.children.length && !page.next_token) tbody.append(NO_ORDERS());
    next = page.next_token;
    more.hidden = !next;
  }
  more.addEventListener("click", () => guarded(load));
  await load();
  return box;
}

// ------------------------------------------------------------------ views
async function ordersView(params) {
  const field = (name, input) => h("label", {}, name, input);
  const form = h("form", { class: "filters", id: "search" },
    field("Status", h("select", { name: "status" }, h("option", { value: "" }, "any"), STATUSES.map((s) => h("option", { value: s, selected: params.get("status") === s }, s)))),
    field("Platform", h("input", { name: "platform", value: params.get("platform") || "", size: 10 })),
    field("Buyer id", h("input", { name: "buyer", value: params.get("buyer") || "", size: 12 })),
    field("Received from", h("input", { name: "from", type: "date", value: params.get("from") || "" })),
    field("to (exclusive)", h("input", { name: "to", type: "date", value: params.get("to") || "" })),
    h("button", { type: "submit", class: "primary" }, "Search"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) query.set(k, v);
    location.hash = `#/orders?${query}`;
  });
  const query = {};
  for (const key of ["status", "platform", "buyer"]) if (params.get(key)) query[key] = params.get(key);
  // The date inputs are the reader's local days: turn midnight local into the instant the API wants.
  for (const key of ["from", "to"]) if (params.get(key)) query[key] = new Date(`${params.get(key)}T00:00:00`).toISOString();
  query.limit = "25";
  const canIntercept = await may("POST", "/orders/interceptions");
  const canExport = await may("GET", "/orders/export");
  const list = await pagedList(query, null, canIntercept);
  const { limit, ...filters } = query;
  show(h("h2", {}, "Orders"), form,
    canExport ? h("p", {}, h("button", { type: "button", id: "export", onclick: () => guarded(() => exportCsv(filters)) }, "Export CSV")) : null,
    canIntercept ? bulkInterceptBar(() => route(true)) : null,
    h("div", { id: "results" }, list));
}

// The search as CSV (GET /orders/export, masked as this role sees it), saved as a file.
async function exportCsv(filters) {
  const response = await fetch(`/orders/export?${new URLSearchParams(filters)}`, { headers: { Authorization: `Bearer ${token()}` } });
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  const rows = response.headers.get("X-Export-Rows") || "?";
  const capped = response.headers.get("X-Export-Truncated") === "true";
  const link = h("a", { href: URL.createObjectURL(await response.blob()), download: "orders.csv", id: "export-file" }, "orders.csv");
  document.body.append(link);
  link.click();
  link.remove();
  say(`Exported ${rows} orders to orders.csv${capped ? " (capped: narrow the search for the rest)" : ""}.`, !capped);
}

// Stock import: paste or pick a CSV (sku,warehouse,on_hand[,reason]); POST /inventory/import answers a
// result per row, shown as a table (rows that were not applied first).
async function stockImportView() {
  if (!(await may("POST", "/inventory/import"))) {
    show(h("h2", {}, "Stock import"), h("p", { class: "note", id: "read-only-note" }, "Only admin may import stock counts."));
    return;
  }
  const text = h("textarea", { id: "import-csv", rows: 8, cols: 60, "aria-label": "CSV", placeholder: "sku,warehouse,on_hand,reason" });
  const file = h("input", { type: "file", accept: ".csv,text/csv", "aria-label": "CSV file",
    onchange: async () => { if (file.files[0]) text.value = await file.files[0].text(); } });
  const importId = h("input", { id: "import-id", size: 24, value: `import-${new Date().toISOString().slice(0, 19).replace(/[-:T]/g, "")}`, "aria-label": "import id" });
  const result = h("div", { id: "import-result" });
  const send = () => guarded(async () => {
    const response = await fetch(`/inventory/import?${new URLSearchParams({ import_id: importId.value })}`, {
      method: "POST", headers: { Authorization: `Bearer ${token()}`, "Content-Type": "text/csv" }, body: text.value });
    const data = await response.json();
    if (!response.ok) throw new ApiError(response.status, data);
    const counts = countsText(data.counts, ["applied", "duplicate"]);
    say(`Import ${data.import_id}: ${data.rows} rows, ${counts}.`, !data.results.some((r) => !["applied", "duplicate"].includes(r.outcome)));
    const ordered = [...data.results].sort((a, b) => (a.outcome === "applied") - (b.outcome === "applied") || a.row - b.row);
    result.replaceChildren(h("table", { class: "orders import" },
      h("thead", {}, h("tr", {}, ["Row", "SKU", "Warehouse", "Result", "Why"].map((t) => h("th", {}, t)))),
      h("tbody", {}, ordered.map((r) => h("tr", { "data-row": r.row, "data-outcome": r.outcome },
        h("td", {}, String(r.row)), h("td", {}, r.sku || ""), h("td", {}, r.warehouse || ""),
        h("td", {}, h("span", { class: `status ${r.outcome === "applied" ? "SHIPPED" : "FAILED"}` }, r.outcome)),
        h("td", {}, r.message || (r.on_hand !== null && r.on_hand !== undefined ? `on hand ${r.on_hand}` : "")))))));
  });
  show(h("h2", {}, "Stock import"),
    h("p", { class: "muted" }, "Counted stock per SKU and warehouse, one row each: sku,warehouse,on_hand[,reason]. Sending the same import id again applies nothing twice."),
    h("p", {}, file), text, h("p", {}, h("label", {}, "Import id ", importId), " ",
      h("button", { type: "button", class: "primary", id: "import-send", onclick: send }, "Import")), result);
}

// Select orders in the list, then intercept them at once (POST /orders/interceptions): a line per order
// that could not be intercepted (shipped, already final) is shown, not hidden.
function bulkInterceptBar(after) {
  const reason = h("input", { id: "intercept-reason", placeholder: "reason (kept on each order)", size: 28, "aria-label": "intercept reason" });
  const action = h("select", { id: "intercept-action", "aria-label": "intercept action" },
    h("option", { value: "hold" }, "hold for review"), h("option", { value: "cancel" }, "cancel"));
  const report = h("ul", { id: "bulk-report" });
  const intercept = () => guarded(async () => {
    const chosen = picked();
    if (!chosen.length) { say("Select at least one order first."); return; }
    if (!reason.value.trim()) { say("Say why the orders are intercepted."); return; }
    const done = await api("POST", "/orders/interceptions", { reason: reason.value, action: action.value, order_ids: chosen });
    const counts = countsText(done.counts, ["requested", "repeated"]);
    const left = done.results.filter((r) => !["requested", "repeated"].includes(r.outcome));
    say(`Intercept (${action.value}) ${chosen.length} orders: ${counts}.`, left.length === 0);
    await after();
    document.getElementById("bulk-report")?.replaceChildren(...left.map((r) =>
      h("li", { "data-order": r.order_id }, `${r.order_id}: ${r.outcome}${r.code ? ` ${r.code}` : ""}${r.message ? ` - ${r.message}` : ""}`)));
  });
  return h("div", { class: "decide", id: "bulk-intercept" }, "Selected: ", action, " ", reason, " ",
    h("button", { type: "button", class: "intercept-selected", onclick: intercept }, "Intercept selected"), report);
}

function decideButtons(orderId, after) {
  const comment = h("input", { placeholder: "comment", size: 18, "aria-label": "comment" });
  const decide = (decision) => guarded(async () => {
    await api("POST", `/orders/${orderId}/review`, { decision, comment: comment.value || `${decision} in the console` });
    say(`Order ${orderId}: ${decision} sent.`, true);
    await after();
  });
  return h("span", { class: "decide" }, comment, " ",
    h("button", { type: "button", class: "primary approve", onclick: () => decide("approve") }, "Approve"), " ",
    h("button", { type: "button", class: "danger reject", onclick: () => decide("reject") }, "Reject"));
}

function holdsTable(entries, extra, selectable) {
  const rows = entries.map((e) =>
    h("tr", { "data-order": e.order_id },
      selectable ? pickCell(e.order_id) : null,
      h("td", {}, h("a", { href: `#/orders/${e.order_id}`, class: "order-link" }, e.order_id)),
      h("td", { class: "wide-only" }, e.platform, h("div", { class: "muted" }, e.platform_order_id)),
      h("td", {}, e.reasons.map((r) => h("div", {}, `${r.code}: ${r.message}`,
        r.code === "BUYER_REMARK" ? [" · ", h("a", { href: `#/orders/${e.order_id}` }, "read the remark")] : null))),
      h("td", { class: "num" }, `${e.total} ${e.currency}`),
      h("td", { class: "when" }, when(e.held_since), e.escalated ? h("div", { class: "status FAILED" }, "escalated") : null),
      extra ? h("td", {}, extra(e)) : null));
  return h("div", { class: "scroll" }, h("table", { class: "orders holds" },
    h("thead", {}, h("tr", {}, pickHeader(selectable), h("th", {}, "Order"), h("th", { class: "wide-only" }, "Platform"), h("th", {}, "Why held"),
      h("th", { class: "num" }, "Total"), h("th", {}, "Held since"), extra ? h("th", {}, "Decide") : null)),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 6, class: "muted" }, "Nothing is held.")))));
}

// Why this reader sees no Approve / Reject: the OMS has no review endpoint, or their role may not.
async function decideNote() {
  if (!(await hasRoute("POST", "/orders/{order_id}/review"))) {
    return h("p", { class: "note", id: "read-only-note" },
      "Read-only: this OMS has no POST /orders/{id}/review yet, so held orders cannot be approved or rejected here.");
  }
  const c = claims();
  return h("p", { class: "note", id: "read-only-note" },
    `Read-only: your role (${c ? c.role : "none"}) may not approve or reject; ops and admin may.`);
}

// Select many held orders, then approve or reject them at once (POST /holds/decisions): a line per
// order that was not decided (decided meanwhile by someone else, changed, unknown) is shown, not hidden.
function bulkDecideBar(after) {
  const comment = h("input", { id: "bulk-comment", placeholder: "comment (a rejection must say why)", size: 28, "aria-label": "bulk comment" });
  const report = h("ul", { id: "bulk-report" });
  const decide = (decision) => guarded(async () => {
    const chosen = picked().map((orderId) => ({ order_id: orderId }));
    if (!chosen.length) { say("Select at least one order first."); return; }
    const done = await api("POST", "/holds/decisions", { decision, comment: comment.value || (decision === "approve" ? "approved in the console" : ""), orders: chosen });
    const counts = countsText(done.counts, ["applied", "repeated"]);
    const left = done.results.filter((r) => !["applied", "repeated"].includes(r.outcome));
    say(`${decision === "approve" ? "Approve" : "Reject"} ${chosen.length} orders: ${counts}.`, left.length === 0);
    await after();
    document.getElementById("bulk-report")?.replaceChildren(...left.map((r) =>
      h("li", { "data-order": r.order_id }, `${r.order_id}: ${r.outcome}${r.status ? ` (now ${r.status})` : ""}${r.message ? ` - ${r.message}` : ""}`)));
  });
  return h("div", { class: "decide", id: "bulk-decide" }, "Selected: ", comment, " ",
    h("button", { type: "button", class: "primary approve-selected", onclick: () => decide("approve") }, "Approve selected"), " ",
    h("button", { type: "button", class: "reject-selected", onclick: () => decide("reject") }, "Reject selected"), report);
}

async function holdsView(params) {
  const canDecide = await may("POST", "/orders/{order_id}/review");
  const canBulk = await may("POST", "/holds/decisions");
  const hasQueue = await hasRoute("GET", "/holds");
  const reason = params.get("reason") || "";
  const note = canDecide ? null : await decideNote();
  const extra = canDecide ? (o) => decideButtons(o.order_id, () => route(true)) : null;
  if (hasQueue) {
    const query = new URLSearchParams(reason ? { reason } : { limit: "500" });
    const page = await api("GET", `/holds?${query}`);
    const counts = Object.entries(page.by_reason || {});
    const reasons = h("p", { class: "muted", id: "hold-reasons" }, "By reason: ",
      h("a", { href: "#/holds", class: reason ? "" : "active" }, "all"),
      counts.map(([code, n]) => [" · ", h("a", { href: `#/holds?reason=${encodeURIComponent(code)}`, "data-reason": code, class: code === reason ? "active" : "" }, `${code} (${n})`)]));
    show(h("h2", {}, reason ? `Held orders: ${reason}` : "Held orders (oldest first)"), note, reasons,
      canBulk ? bulkDecideBar(() => route(true)) : null,
      h("div", { id: "results" }, holdsTable(page.holds || [], extra, canBulk)));
  } else {
    const list = await pagedList({ status: "ON_HOLD", limit: "25" }, extra);
    show(h("h2", {}, "Held orders"), note, h("div", { id: "results" }, list));
  }
}

// Logistics exception cases (damaged, lost, delayed shipments): GET /exceptions, resolved by ops.
function logisticsTable(cases, canResolve, after) {
  const rows = cases.map((c) =>
    h("tr", { "data-exception": c.exception_id, "data-kind": c.kind },
      h("td", {}, h("span", { class: `status kind-${c.kind}` }, c.kind), h("div", { class: "muted" }, c.exception_id)),
      h("td", {}, c.order_ids.map((o) => h("div", {}, h("a", { href: `#/orders/${o}`, class: "order-link" }, o)))),
      h("td", {}, `${c.carrier} ${c.tracking_number}`, h("div", { class: "muted" }, `${c.shipment_id} from ${c.warehouse}`)),
      h("td", { class: "when" }, when(c.opened_at), h("div", { class: "muted" }, c.opened_by)),
      h("td", {}, c.detail.description || (c.detail.due ? ["no progress since ", when(c.detail.last_progress_at), ` (${c.detail.status})`] : c.detail.status || "")),
      h("td", {}, c.resolution
        ? `${c.resolution.action} by ${c.resolution.actor}: ${c.resolution.comment}`
        : (canResolve ? resolveButtons(c.exception_id, after) : "open"))));
  return h("div", { class: "scroll" }, h("table", { class: "orders logistics" },
    h("thead", {}, h("tr", {}, ["Case", "Orders", "Shipment", "Opened", "What happened", "Resolution"].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No cases.")))));
}

function resolveButtons(exceptionId, after) {
  const comment = h("input", { placeholder: "comment", size: 14, "aria-label": "comment" });
  const resolve = (action) => guarded(async () => {
    const done = await api("POST", `/exceptions/${exceptionId}/resolve`, { action, comment: comment.value || `${action} in the console` });
    const replacements = Object.values(done.resolution.replacement_order_ids || {});
    say(`Case ${exceptionId}: ${action}${replacements.length ? ` (replacement ${replacements.join(", ")})` : ""}.`, true);
    await after();
  });
  return h("span", { class: "decide" }, comment, " ",
    h("button", { type: "button", class: "primary reship", onclick: () => resolve("reship") }, "Reship"), " ",
    h("button", { type: "button", class: "refund", onclick: () => resolve("refund") }, "Refund"), " ",
    h("button", { type: "button", class: "dismiss", onclick: () => resolve("dismiss") }, "Dismiss"));
}

async function logisticsSection(container) {
  if (!(await hasRoute("GET", "/exceptions"))) return;
  const canResolve = await may("POST", "/exceptions/{exception_id}/resolve");
  const load = async () => {
    const page = await api("GET", "/exceptions?status=open&limit=500");
    const kinds = Object.entries(page.by_kind || {}).map(([k, n]) => `${k} ${n}`).join(" · ");
    container.replaceChildren(
      h("p", { class: "muted", id: "logistics-kinds" }, kinds ? `Open: ${kinds}` : "No open cases."),
      logisticsTable(page.exceptions || [], canResolve, load));
  };
  await load();
}

async function exceptionsView() {
  const logistics = h("div", { id: "logistics" });
  await logisticsSection(logistics);
  const [failed, rejected, cancelled] = await Promise.all(["FAILED", "REJECTED", "CANCELLED"].map((status) => pagedList({ status, limit: "25" })));
  show(h("h2", {}, "Exception cases"),
    h("p", { class: "muted" }, "Shipments damaged, lost or stuck past their carrier's SLA; orders the workflow compensated after a technical failure, orders it rejected, and orders cancelled (intercepted, timed out)."),
    h("h3", {}, "Logistics (open)"), logistics,
    h("h3", {}, "Failed (compensated)"), h("div", { id: "failed" }, failed),
    h("h3", {}, "Rejected"), h("div", { id: "rejected" }, rejected),
    h("h3", {}, "Cancelled"), h("div", { id: "cancelled" }, cancelled));
}

// ------------------------------------------------------------------ routing and live updates
let liveTimer = null;
let routed = 0;  // which route() call is the latest: an older one's answer must not paint over it

function busy() {
  // Someone is typing (a filter, a comment) or has opened more pages: do not redraw under them.
  const active = document.activeElement;
  if (active && view.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName)) return true;
  if ([...view.querySelectorAll("input[aria-label=comment]")].some((i) => i.value)) return true;
  if (view.querySelector("input.pick:checked") || view.querySelector("#bulk-report li")) return true;  // a selection, a report to read
  return Boolean(view.querySelector("[data-expanded]"));
}

function stamp(text) {
  const live = document.getElementById("live");
  live.textContent = text;
  live.hidden = !text;
}

async function route(refresh) {
  clearTimeout(liveTimer);
  const [path, search] = (location.hash.slice(1) || "/orders").split("?");
  const params = new URLSearchParams(search || "");
  const section = path.split("/")[1] || "orders";
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.nav === section);
  if (!token()) {
    stamp("");
    show(h("div", { class: "card" }, h("p", {}, "Paste a staff token above to start."),
      h("p", { class: "muted" }, "Locally: `oms serve` prints a console URL with a token, and `oms token --role ops --user you` mints one.")));
    return;
  }
  const mine = ++routed;
  if (refresh !== true) {
    say("");
    show(loading());
  }
  const order = path.match(/^\/orders\/((?:ord|rpl)-[0-9a-f]{24})$/);
  await guarded(async () => {
    if (order) return orderView(order[1]);
    if (section === "holds") return holdsView(params);
    if (section === "exceptions") return exceptionsView();
    if (section === "reports") return reportsView(params);
    if (section === "stock") return stockImportView();
    return ordersView(params);
  });
  if (mine !== routed || section === "reports" || section === "stock") return;  // refreshed on demand
  stamp(`live · updated ${localTime(new Date().toISOString()).slice(11)}`);
  const tick = () => {
    if (mine !== routed) return;
    if (document.hidden || busy()) liveTimer = setTimeout(tick, LIVE_MS);
    else route(true);
  };
  liveTimer = setTimeout(tick, LIVE_MS);
}

document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("token");
  setToken(input.value.trim());
  input.value = "";
  route();
});
document.getElementById("logout").addEventListener("click", () => { setToken(""); route(); });
window.addEventListener("hashchange", () => route());

(function start() {
  const url = new URL(location.href);
  const given = url.searchParams.get("token");
  if (given) {  // a link from `oms serve`: keep the token for this tab, drop it from the address bar
    setToken(given);
    url.searchParams.delete("token");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  whoAmI();
  route();
})();
