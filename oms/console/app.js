// OMS ops console: plain JavaScript, no build step. Talks to the same REST API as everyone else, with
// the staff token the user pastes (or that `oms serve` puts in the URL: /console?token=...).
"use strict";

const STATUSES = ["RECEIVED", "ON_HOLD", "APPROVED", "ALLOCATED", "AWAITING_PAYMENT", "PAID", "SHIPPED", "DELIVERED", "REJECTED", "CANCELLED", "FAILED"];
const view = document.getElementById("view");
const flash = document.getElementById("flash");

// ------------------------------------------------------------------ DOM without innerHTML (no XSS)
function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
function show(...nodes) { view.replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined && n !== false)); }
function say(message, ok) {
  flash.textContent = message;
  flash.className = ok ? "ok" : "";
  flash.hidden = !message;
}
function fmtTime(iso) { return iso ? iso.replace("T", " ").replace(/(\.\d+)?(Z|\+00:00)$/, "Z") : ""; }
function money(revenue) {
  const entries = Object.entries(revenue || {});
  return entries.length ? entries.map(([c, v]) => `${v} ${c}`).join(" + ") : "0";
}
function statusBadge(status) { return h("span", { class: `status ${status}`, "data-status": status }, status); }

// ------------------------------------------------------------------ the token and the API
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
  document.getElementById("who").textContent = c ? `${c.sub} (${c.role})` : "not signed in";
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

async function guarded(work) {
  say("");
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
function ordersTable(items, extra) {
  const rows = items.map((o) =>
    h("tr", { "data-order": o.order_id },
      h("td", {}, h("a", { href: `#/orders/${o.order_id}`, class: "order-link" }, o.order_id)),
      h("td", {}, o.platform, h("div", { class: "muted" }, o.platform_order_id)),
      h("td", {}, statusBadge(o.status)),
      h("td", {}, o.buyer.name || "", h("div", { class: "muted" }, o.buyer.id)),
      h("td", { class: "num" }, `${o.total} ${o.currency}`),
      h("td", {}, fmtTime(o.created_at)),
      h("td", {}, o.problem || ""),
      extra ? h("td", {}, extra(o)) : null));
  return h("table", { class: "orders" },
    h("thead", {}, h("tr", {}, ["Order", "Platform", "Status", "Buyer", "Total", "Received", "Why"].map((t) => h("th", {}, t)),
      extra ? h("th", {}, "Decide") : null)),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No orders."))));
}

async function pagedList(container, query, extra) {
  let next = null;
  const more = h("button", { type: "button" }, "More");
  const table = ordersTable([], extra);
  const tbody = table.querySelector("tbody");
  container.replaceChildren(table, more);
  let first = true;
  async function load() {
    const params = new URLSearchParams(query);
    if (next) params.set("next_token", next);
    const page = await api("GET", `/orders?${params}`);
    if (first) { tbody.replaceChildren(); first = false; }
    for (const row of ordersTable(page.items, extra).querySelectorAll("tbody tr[data-order]")) tbody.append(row);
    if (!tbody.children.length && !page.next_token) tbody.append(h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No orders.")));
    next = page.next_token;
    more.hidden = !next;
  }
  more.addEventListener("click", () => guarded(load));
  await load();
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
  const results = h("div", { id: "results" });
  show(h("h2", {}, "Orders"), form, results);
  const query = {};
  for (const key of ["status", "platform", "buyer"]) if (params.get(key)) query[key] = params.get(key);
  for (const key of ["from", "to"]) if (params.get(key)) query[key] = `${params.get(key)}T00:00:00Z`;
  query.limit = "25";
  await pagedList(results, query);
}

// The state machine path: which states ran, how often a task was attempted, errors, where it waited.
function statePath(timeline) {
  const states = [];
  let current = null;
  for (const event of timeline.filter((e) => e.source === "workflow")) {
    const type = event.type || "";
    if (type.endsWith("StateEntered")) {
      current = { name: event.state, kind: type.replace("StateEntered", ""), entered: event.at, exited: null, attempts: 0, errors: [], waited: false };
      states.push(current);
      if (type === "WaitStateEntered") current.waited = true;
    } else if (current && type.endsWith("StateExited")) {
      current.exited = event.at;
    } else if (current && /Scheduled$/.test(type)) {
      current.attempts += 1;
      if ((event.resource || "").includes("waitForTaskToken")) current.waited = true;
    } else if (current && /(Failed|TimedOut)$/.test(type) && !/^Execution/.test(type)) {
      current.errors.push(`${event.error || type}${event.cause ? `: ${causeText(event.cause)}` : ""}`);
    } else if (current && type === "TaskSubmitted" && (event.resource || "").includes("waitForTaskToken")) {
      current.waited = true;
    }
  }
  for (const s of states) {
    s.seconds = s.exited ? (Date.parse(s.exited) - Date.parse(s.entered)) / 1000 : null;
    if (s.seconds !== null && s.seconds >= 60) s.waited = true;
  }
  return states;
}

// A Lambda error's cause is its JSON error document: show the message, not the stack trace.
function causeText(cause) {
  try {
    const doc = JSON.parse(cause);
    return doc.errorMessage || cause;
  } catch {  // the history summary cuts long causes, so the JSON may be incomplete
    const found = /"errorMessage"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(cause);
    return found ? found[1] : cause;
  }
}

function duration(seconds) {
  if (seconds === null) return "still here";
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

async function orderView(orderId) {
  const [order, history] = await Promise.all([api("GET", `/orders/${orderId}`), api("GET", `/orders/${orderId}/history`)]);
  const path = statePath(history.timeline);
  const pathList = h("ol", { class: "path", id: "state-path" }, path.map((s) =>
    h("li", { class: [s.errors.length ? "failed" : "", s.waited ? "waited" : ""].join(" ").trim(), "data-state": s.name },
      h("strong", {}, s.name),
      h("span", { class: "meta" }, `${s.kind} · ${duration(s.seconds)}`,
        s.attempts > 1 ? ` · ${s.attempts - 1} retr${s.attempts === 2 ? "y" : "ies"}` : "",
        s.waited ? " · waited" : ""),
      s.errors.map((e) => h("span", { class: "meta error" }, e)))));
  const a = order.shipping_address || {};
  const details = h("div", { class: "grid" },
    h("div", { class: "card" }, h("dl", {},
      h("dt", {}, "Status"), h("dd", { id: "order-status" }, statusBadge(order.status)),
      h("dt", {}, "Platform"), h("dd", {}, `${order.platform} · ${order.platform_order_id}`),
      h("dt", {}, "Buyer"), h("dd", {}, `${order.buyer.name || ""} (${order.buyer.id})`),
      h("dt", {}, "Ship to"), h("dd", {}, [a.name, a.phone, a.line1, a.city, a.country].filter(Boolean).join(", ")),
      h("dt", {}, "Total"), h("dd", {}, `${order.amounts.total} ${order.amounts.currency}`),
      h("dt", {}, "Received"), h("dd", {}, fmtTime(order.created_at)),
      order.review ? [h("dt", {}, "Review"), h("dd", {}, order.review.decision, order.review.reasons.map((r) => h("div", { class: "muted" }, `${r.code}: ${r.message}`)))] : null,
      order.failure ? [h("dt", {}, "Failure"), h("dd", {}, `${order.failure.stage}: ${order.failure.error} ${order.failure.cause}`)] : null,
      order.rejection ? [h("dt", {}, "Rejection"), h("dd", {}, `${order.rejection.code}: ${order.rejection.message}`)] : null)),
    h("div", { class: "card" }, h("strong", {}, "Lines"), h("table", {},
      h("tbody", {}, order.lines.map((l) => h("tr", {}, h("td", {}, l.sku), h("td", { class: "num" }, `× ${l.quantity}`), h("td", { class: "num" }, l.unit_price)))),
      order.shipments.map((s) => h("tr", { "data-shipment": s.shipment_id }, h("td", { colspan: 3, class: "muted" },
        `Shipment ${s.shipment_id}: ${s.carrier} ${s.tracking_number} from ${s.warehouse}`,
        order.delivery && order.delivery.shipments[s.shipment_id] ? ` · ${order.delivery.shipments[s.shipment_id]}` : ""))),
      order.delivery ? h("tr", { id: "delivery" }, h("td", { colspan: 3 }, `Delivery: ${order.delivery.state} (${order.delivery.delivered} of ${order.delivery.total} shipments delivered)`)) : null)));
  const execution = history.execution;
  const timeline = h("table", { id: "timeline" },
    h("thead", {}, h("tr", {}, ["When", "Source", "What", "State / status", "Detail"].map((t) => h("th", {}, t)))),
    h("tbody", {}, history.timeline.map((e) => h("tr", { class: e.source },
      h("td", { class: "when" }, fmtTime(e.at)),
      h("td", {}, e.source),
      h("td", {}, e.type),
      h("td", {}, e.source === "order" ? `${e.from_status || "∅"} → ${e.to_status}` : e.state || ""),
      h("td", {}, e.source === "order" ? `${e.actor}${e.detail && Object.keys(e.detail).length ? " " + JSON.stringify(e.detail) : ""}` : [e.error, e.cause && causeText(e.cause)].filter(Boolean).join(": "))))));
  const actions = (await reviewable(order)) ? decideButtons(order.order_id, () => route()) : null;
  const integration = await integrationSection(order.order_id);
  const cases = await api("GET", `/orders/${orderId}/aftersales`).then((r) => r.cases, () => []);
  const aftersales = cases.length ? h("table", { id: "aftersales" },
    h("thead", {}, h("tr", {}, ["Case", "Kind", "Status", "Amount", "Opened", "Last step"].map((t) => h("th", {}, t)))),
    h("tbody", {}, cases.map((c) => h("tr", {},
      h("td", {}, c.case_id),
      h("td", {}, `${c.kind} (${c.reason})`),
      h("td", {}, c.status),
      h("td", { class: "num" }, `${c.kind === "exchange" ? c.goods_value : c.amount} ${c.currency}`),
      h("td", { class: "when" }, fmtTime(c.opened_at)),
      h("td", { class: "muted" }, c.timeline.length ? c.timeline[c.timeline.length - 1].note || "" : ""))))) : null;
  const refunded = order.refund_summary ? h("p", { class: "muted" },
    `Refunded ${order.refund_summary.refunded} ${order.refund_summary.currency} in ${order.refund_summary.refunds} refund(s)`) : null;
  show(
    h("h2", {}, `Order ${order.order_id}`),
    details,
    actions ? h("div", { class: "card" }, h("strong", {}, "Held for review: "), actions) : null,
    aftersales || refunded ? [h("h3", {}, "After-sales"), refunded, aftersales] : null,
    h("h3", {}, "State machine path", execution ? h("span", { class: "muted" }, ` · execution ${execution.status}`) : null),
    path.length ? pathList : h("p", { class: "muted" }, "No execution yet."),
    h("h3", {}, "Timeline"),
    timeline,
    integration);
}

// What the outbox published on the event bus for this order, and the webhooks sent to its platform
// (docs/events.md). Shown to the roles that may read them; nothing for the others.
async function optional(method, route, path) {
  if (!(await hasRoute(method, route))) return null;
  try {
    return await api(method, path);
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) return null;
    throw err;
  }
}

async function integrationSection(orderId) {
  const id = encodeURIComponent(orderId);
  const [published, webhooks] = await Promise.all([
    optional("GET", "/events", `/events?order_id=${id}`),
    optional("GET", "/webhooks/deliveries", `/webhooks/deliveries?order_id=${id}`),
  ]);
  const parts = [];
  if (published) {
    parts.push(h("h3", {}, "Published events", h("span", { class: "muted" }, ` · bus source ${published.source}`)),
      h("table", { id: "published-events" },
        h("thead", {}, h("tr", {}, ["Occurred", "Detail-type", "Event id", "Status", "Data"].map((t) => h("th", {}, t)))),
        h("tbody", {}, published.events.length ? published.events.map((e) => h("tr", { "data-type": e.detail_type },
          h("td", { class: "when" }, fmtTime(e.detail.occurred_at)),
          h("td", {}, e.detail_type),
          h("td", { class: "muted" }, e.detail.event_id),
          h("td", {}, e.detail.status || e.detail.shipment_status || ""),
          h("td", {}, JSON.stringify(e.detail.data || { carrier: e.detail.carrier, tracking_number: e.detail.tracking_number }))))
          : h("tr", {}, h("td", { colspan: 5, class: "muted" }, "Nothing published yet.")))));
  }
  if (webhooks && webhooks.deliveries.length) {
    parts.push(h("h3", {}, "Webhooks to the platform"),
      h("table", { id: "webhook-deliveries" },
        h("thead", {}, h("tr", {}, ["Event", "Status", "Attempts", "Answer", "Last attempt"].map((t) => h("th", {}, t)))),
        h("tbody", {}, webhooks.deliveries.map((d) => h("tr", { "data-status": d.status },
          h("td", {}, d.event_type, h("div", { class: "muted" }, d.event_id)),
          h("td", {}, d.status),
          h("td", { class: "num" }, String(d.attempts)),
          h("td", {}, d.response_status ? String(d.response_status) : d.last_error || ""),
          h("td", { class: "when" }, fmtTime(d.last_attempt_at)))))));
  }
  return parts;
}

async function reviewable(order) {
  return order.status === "ON_HOLD" && (await hasRoute("POST", "/orders/{order_id}/review"));
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

function holdsTable(entries, extra) {
  const rows = entries.map((e) =>
    h("tr", { "data-order": e.order_id },
      h("td", {}, h("a", { href: `#/orders/${e.order_id}`, class: "order-link" }, e.order_id)),
      h("td", {}, e.platform, h("div", { class: "muted" }, e.platform_order_id)),
      h("td", {}, e.reasons.map((r) => h("div", {}, `${r.code}: ${r.message}`))),
      h("td", { class: "num" }, `${e.total} ${e.currency}`),
      h("td", {}, fmtTime(e.held_since), e.escalated ? h("div", { class: "status FAILED" }, "escalated") : null),
      extra ? h("td", {}, extra(e)) : null));
  return h("table", { class: "orders holds" },
    h("thead", {}, h("tr", {}, ["Order", "Platform", "Why held", "Total", "Held since"].map((t) => h("th", {}, t)),
      extra ? h("th", {}, "Decide") : null)),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 6, class: "muted" }, "Nothing is held."))));
}

async function holdsView(params) {
  const canDecide = await hasRoute("POST", "/orders/{order_id}/review");
  const hasQueue = await hasRoute("GET", "/holds");
  const reason = params.get("reason") || "";
  const results = h("div", { id: "results" });
  const note = canDecide ? null : h("p", { class: "note", id: "read-only-note" },
    "Read-only: this OMS has no POST /orders/{id}/review yet, so held orders cannot be approved or rejected here.");
  const extra = canDecide ? (o) => decideButtons(o.order_id, () => holdsView(params)) : null;
  if (hasQueue) {
    const query = new URLSearchParams(reason ? { reason } : { limit: "500" });
    const page = await api("GET", `/holds?${query}`);
    const reasons = h("p", { class: "muted", id: "hold-reasons" }, "By reason: ",
      h("a", { href: "#/holds" }, "all"),
      Object.entries(page.by_reason || {}).map(([code, n]) => [" · ", h("a", { href: `#/holds?reason=${encodeURIComponent(code)}` }, `${code} (${n})`)]));
    show(h("h2", {}, reason ? `Held orders: ${reason}` : "Held orders (oldest first)"), note, reasons, results);
    results.replaceChildren(holdsTable(page.holds || [], extra));
  } else {
    show(h("h2", {}, "Held orders"), note, results);
    await pagedList(results, { status: "ON_HOLD", limit: "25" }, extra);
  }
}

// Logistics exception cases (damaged, lost, delayed shipments): GET /exceptions, resolved by ops.
function logisticsTable(cases, canResolve, after) {
  const rows = cases.map((c) =>
    h("tr", { "data-exception": c.exception_id, "data-kind": c.kind },
      h("td", {}, h("span", { class: `status kind-${c.kind}` }, c.kind), h("div", { class: "muted" }, c.exception_id)),
      h("td", {}, c.order_ids.map((o) => h("div", {}, h("a", { href: `#/orders/${o}`, class: "order-link" }, o)))),
      h("td", {}, `${c.carrier} ${c.tracking_number}`, h("div", { class: "muted" }, `${c.shipment_id} from ${c.warehouse}`)),
      h("td", {}, fmtTime(c.opened_at), h("div", { class: "muted" }, c.opened_by)),
      h("td", {}, c.detail.description || (c.detail.due ? `no progress since ${fmtTime(c.detail.last_progress_at)} (${c.detail.status})` : c.detail.status || "")),
      h("td", {}, c.resolution
        ? `${c.resolution.action} by ${c.resolution.actor}: ${c.resolution.comment}`
        : (canResolve ? resolveButtons(c.exception_id, after) : "open"))));
  return h("table", { class: "orders logistics" },
    h("thead", {}, h("tr", {}, ["Case", "Orders", "Shipment", "Opened", "What happened", "Resolution"].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No cases."))));
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
  const canResolve = await hasRoute("POST", "/exceptions/{exception_id}/resolve");
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
  const failed = h("div", { id: "failed" });
  const rejected = h("div", { id: "rejected" });
  const cancelled = h("div", { id: "cancelled" });
  show(h("h2", {}, "Exception cases"),
    h("p", { class: "muted" }, "Shipments damaged, lost or stuck past their carrier's SLA; orders the workflow compensated after a technical failure, orders it rejected, and orders cancelled (intercepted, timed out)."),
    h("h3", {}, "Logistics (open)"), logistics,
    h("h3", {}, "Failed (compensated)"), failed,
    h("h3", {}, "Rejected"), rejected,
    h("h3", {}, "Cancelled"), cancelled);
  await logisticsSection(logistics);
  await pagedList(failed, { status: "FAILED", limit: "25" });
  await pagedList(rejected, { status: "REJECTED", limit: "25" });
  await pagedList(cancelled, { status: "CANCELLED", limit: "25" });
}

// ------------------------------------------------------------------ sales chart (canvas, no library)
const COLORS = ["#2d5bd7", "#e07b00", "#157f3b", "#b42318", "#7a3dd8", "#00838f", "#6b7385"];

function drawChart(canvas, days, series, currency) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 800;
  const height = canvas.clientHeight || 260;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  g.clearRect(0, 0, width, height);
  const pad = { l: 48, r: 56, t: 12, b: 28 };
  const w = width - pad.l - pad.r;
  const hgt = height - pad.t - pad.b;
  const maxOrders = Math.max(1, ...days.map((d) => d.orders));
  const revenueOf = (d) => Number((d.revenue || {})[currency] || 0);
  const maxRevenue = Math.max(1, ...days.map(revenueOf));
  const step = w / Math.max(1, days.length);
  g.font = "11px system-ui, sans-serif";
  g.fillStyle = "#6b7385";
  g.fillText(String(maxOrders), 4, pad.t + 8);
  g.fillText("orders", 4, pad.t + 22);
  g.fillText(String(Math.round(maxRevenue)), width - pad.r + 4, pad.t + 8);
  g.fillText(currency || "", width - pad.r + 4, pad.t + 22);
  // stacked bars: orders per platform per day
  days.forEach((day, i) => {
    let y = pad.t + hgt;
    series.forEach((s, k) => {
      const n = (s.byDay[day.day] || 0);
      const barH = (n / maxOrders) * hgt;
      g.fillStyle = COLORS[k % COLORS.length];
      g.fillRect(pad.l + i * step + step * 0.15, y - barH, step * 0.7, barH);
      y -= barH;
    });
    if (days.length <= 31 || i % Math.ceil(days.length / 15) === 0) {
      g.fillStyle = "#6b7385";
      g.fillText(day.day.slice(5), pad.l + i * step, height - 8);
    }
  });
  // revenue line
  g.strokeStyle = "#1d2330";
  g.lineWidth = 2;
  g.beginPath();
  days.forEach((day, i) => {
    const x = pad.l + i * step + step / 2;
    const y = pad.t + hgt - (revenueOf(day) / maxRevenue) * hgt;
    if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
  });
  g.stroke();
}

async function reportsView(params) {
  const form = h("form", { class: "filters", id: "report-form" },
    h("label", {}, "From", h("input", { type: "date", name: "from", value: params.get("from") || "" })),
    h("label", {}, "To", h("input", { type: "date", name: "to", value: params.get("to") || "" })),
    h("label", {}, "Platform", h("input", { name: "platform", value: params.get("platform") || "", size: 10 })),
    h("button", { type: "submit", class: "primary" }, "Show"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) query.set(k, v);
    location.hash = `#/reports?${query}`;
  });
  const query = new URLSearchParams();
  for (const key of ["from", "to", "platform"]) if (params.get(key)) query.set(key, params.get(key));
  const report = await api("GET", `/reports/sales?${query}`);
  const currencies = Object.keys(report.revenue);
  const currency = currencies[0] || "CNY";
  const platforms = [...new Set(report.platforms.map((p) => p.platform))].sort();
  const series = platforms.map((platform) => ({
    platform,
    byDay: Object.fromEntries(report.platforms.filter((p) => p.platform === platform).map((p) => [p.day, p.orders])),
  }));
  const canvas = h("canvas", { id: "sales-chart", role: "img", "aria-label": "orders per day per platform (bars) and revenue (line)" });
  const legend = h("div", { class: "legend" },
    series.map((s, k) => h("span", {}, h("i", { style: `background:${COLORS[k % COLORS.length]}` }), s.platform)),
    h("span", {}, h("i", { style: "background:#1d2330;height:2px" }), `revenue (${currency})`));
  show(
    h("h2", {}, "Sales"),
    form,
    h("p", { class: "muted" }, `${report.start} to ${report.end} (${report.timezone || "UTC"}, by day received) · ${report.orders} orders · ${report.sales} sales · revenue ${money(report.revenue)}`,
      report.truncated ? " · truncated: more rows than one report reads" : ""),
    canvas, legend,
    h("div", { class: "grid" },
      h("div", {}, h("h3", {}, "Per day"), h("table", { id: "days" },
        h("thead", {}, h("tr", {}, h("th", {}, "Day"), h("th", { class: "num" }, "Orders"), h("th", { class: "num" }, "Revenue"))),
        h("tbody", {}, report.days.filter((d) => d.orders).map((d) => h("tr", {}, h("td", {}, d.day), h("td", { class: "num" }, d.orders), h("td", { class: "num" }, money(d.revenue))))))),
      h("div", {}, h("h3", {}, "Per platform"), h("table", { id: "platforms" },
        h("thead", {}, h("tr", {}, h("th", {}, "Platform"), h("th", { class: "num" }, "Orders"), h("th", { class: "num" }, "Revenue"))),
        h("tbody", {}, platforms.map((platform) => {
          const rows = report.platforms.filter((p) => p.platform === platform);
          const revenue = {};
          for (const r of rows) for (const [c, v] of Object.entries(r.revenue)) revenue[c] = (Number(revenue[c] || 0) + Number(v)).toFixed(2);
          return h("tr", {}, h("td", {}, platform), h("td", { class: "num" }, rows.reduce((n, r) => n + r.orders, 0)), h("td", { class: "num" }, money(revenue)));
        })))),
      h("div", {}, h("h3", {}, "Top SKUs"), h("table", { id: "top-skus" },
        h("thead", {}, h("tr", {}, h("th", {}, "SKU"), h("th", { class: "num" }, "Units"), h("th", { class: "num" }, "Revenue"))),
        h("tbody", {}, report.top_skus.map((s) => h("tr", {}, h("td", {}, s.sku), h("td", { class: "num" }, s.quantity), h("td", { class: "num" }, money(s.revenue)))))))));
  drawChart(canvas, report.days, series, currency);
}

// ------------------------------------------------------------------ routing
async function route() {
  const [path, search] = (location.hash.slice(1) || "/orders").split("?");
  const params = new URLSearchParams(search || "");
  const section = path.split("/")[1] || "orders";
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.nav === section);
  if (!token()) {
    show(h("div", { class: "card" }, h("p", {}, "Paste a staff token above to start."),
      h("p", { class: "muted" }, "Locally: `oms serve` prints a console URL with a token, and `oms token --role ops --user you` mints one.")));
    return;
  }
  await guarded(async () => {
    const order = path.match(/^\/orders\/((?:ord|rpl)-[0-9a-f]{24})$/);
    if (order) return orderView(order[1]);
    if (section === "holds") return holdsView(params);
    if (section === "exceptions") return exceptionsView();
    if (section === "reports") return reportsView(params);
    return ordersView(params);
  });
}

document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("token");
  setToken(input.value.trim());
  input.value = "";
  route();
});
document.getElementById("logout").addEventListener("click", () => { setToken(""); route(); });
window.addEventListener("hashchange", route);

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
