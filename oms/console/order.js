// The order page of the OMS console: what the order is, why it waits or stopped, what happened to it
// (business events, with the Step Functions detail one click away), and what it published.
// Uses the shared helpers of app.js (h, api, when, may...), which is loaded after this file.
"use strict";

const WORKFLOW_KEY = "oms.timeline.workflow";  // the reader's choice survives live updates and pages

// The state machine path: which states ran, how often a task was attempted, errors, where it waited.
function statePath(timeline) {
  const states = [];
  let current = null;
  for (const event of timeline.filter((e) => e.source === "workflow")) {
    const type = event.type || "";
    if (type.endsWith("StateEntered")) {
      current = { name: event.state, kind: type.replace("StateEntered", ""), workflow: event.workflow, entered: event.at, exited: null, attempts: 0, errors: [], waited: false };
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

// Which workflow ran a state (ADR 0001): the Express fast path, or the Standard one an order waits on.
const WORKFLOW_NAMES = { express: "fast path", standard: "waiting workflow" };
function workflowName(kind) {
  return WORKFLOW_NAMES[kind] || "workflow";
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

const reasonList = (reasons) => reasons.map((r) => h("div", { class: "reason", "data-code": r.code }, `${r.code}: ${r.message}`));

// Review: what review decided and, once a person decided a held order, who, when and why. Reasons
// that held an order that has since been approved are shown as history, not as a live problem.
function reviewRows(order) {
  const review = order.review;
  const manual = order.manual_review;
  const rows = [];
  if (review) {
    const held = review.decision === "hold";
    rows.push(h("dt", {}, "Review"), h("dd", { id: "review-outcome" },
      held && manual ? `held, then ${manual.decision === "approve" ? "approved" : "rejected"} by a person` : review.decision,
      review.reasons.length ? h("div", { class: manual ? "muted was" : "" }, manual ? "was held for: " : null, reasonList(review.reasons)) : null));
  }
  if (manual) {
    rows.push(h("dt", {}, "Decided"), h("dd", { id: "manual-review" },
      `${manual.decision} by ${manual.actor} at `, when(manual.at), h("div", { class: "comment" }, `“${manual.comment}”`)));
  }
  return rows;
}

// Why the order stopped: failure, rejection, cancellation (payment timeout, interception), refunds owed.
function problemRows(order) {
  const rows = [];
  if (order.failure) rows.push(h("dt", {}, "Failure"), h("dd", {}, `${order.failure.stage}: ${order.failure.error} ${order.failure.cause}`));
  if (order.rejection) rows.push(h("dt", {}, "Rejection"), h("dd", {}, `${order.rejection.code}: ${order.rejection.message}`));
  if (order.cancellation) rows.push(h("dt", {}, "Cancelled"), h("dd", { id: "cancellation" }, `${order.cancellation.code}: ${order.cancellation.message}`));
  if (order.interception) {
    const i = order.interception;
    rows.push(h("dt", {}, "Intercepted"), h("dd", {}, `${i.action} by ${i.actor}: ${i.reason} (${i.state})`));
  }
  if (order.refund_required) {
    rows.push(h("dt", {}, "Refund"), h("dd", { id: "refund-required" }, h("span", { class: "status FAILED" }, "refund required"),
      " the buyer paid after the order was cancelled: give the payment back"));
  }
  return rows;
}

function timelineTable(entries, withWorkflow) {
  const shown = withWorkflow ? entries : entries.filter((e) => e.source !== "workflow");
  return h("div", { class: "scroll" }, h("table", { id: "timeline" },
    h("thead", {}, h("tr", {}, ["When", "Source", "What", "State / status", "Detail"].map((t) => h("th", {}, t)))),
    h("tbody", {}, shown.map((e) => h("tr", { class: e.source },
      h("td", { class: "when" }, when(e.at)),
      h("td", {}, e.source),
      h("td", {}, e.type),
      h("td", {}, e.source === "order" ? `${e.from_status || "∅"} → ${e.to_status}` : e.state || ""),
      h("td", {}, e.source === "order" ? `${e.actor}${e.detail && Object.keys(e.detail).length ? " " + JSON.stringify(e.detail) : ""}` : [e.error, e.cause && causeText(e.cause)].filter(Boolean).join(": ")))))));
}

function timelineSection(entries) {
  const workflow = entries.filter((e) => e.source === "workflow").length;
  const box = h("div", { id: "timeline-box" });
  const toggle = h("input", { type: "checkbox", id: "show-workflow", checked: sessionStorage.getItem(WORKFLOW_KEY) === "1" });
  const draw = () => box.replaceChildren(timelineTable(entries, toggle.checked));
  toggle.addEventListener("change", () => {
    sessionStorage.setItem(WORKFLOW_KEY, toggle.checked ? "1" : "0");
    toggle.blur();  // a ticked box must not count as someone typing (live updates go on)
    draw();
  });
  draw();
  return [h("h3", {}, "Timeline ", h("label", { class: "toggle muted" }, toggle, ` workflow detail (${workflow} Step Functions events)`)), box];
}

async function orderView(orderId) {
  const [order, history] = await Promise.all([api("GET", `/orders/${orderId}`), api("GET", `/orders/${orderId}/history`)]);
  const path = statePath(history.timeline);
  const pathList = h("ol", { class: "path", id: "state-path" }, path.map((s) =>
    h("li", { class: [s.errors.length ? "failed" : "", s.waited ? "waited" : ""].join(" ").trim(), "data-state": s.name, "data-workflow": s.workflow || "" },
      h("strong", {}, s.name),
      h("span", { class: "meta" }, `${s.kind} · ${workflowName(s.workflow)} · ${duration(s.seconds)}`,
        s.attempts > 1 ? ` · ${s.attempts - 1} retr${s.attempts === 2 ? "y" : "ies"}` : "",
        s.waited ? " · waited" : ""),
      s.errors.map((e) => h("span", { class: "meta error" }, e)))));
  const a = order.shipping_address || {};
  const details = h("div", { class: "grid" },
    h("div", { class: "card" }, h("dl", {},
      h("dt", {}, "Status"), h("dd", { id: "order-status" }, statusBadge(order.status)),
      h("dt", {}, "Platform"), h("dd", {}, `${order.platform} · ${order.platform_order_id}`),
      h("dt", {}, "Buyer"), h("dd", {}, `${order.buyer.name || ""} (${order.buyer.id})`),
      order.remark ? [h("dt", {}, "Buyer remark"), h("dd", { id: "buyer-remark" }, `“${order.remark}”`)] : null,
      h("dt", {}, "Ship to"), h("dd", {}, [a.name, a.phone, a.line1, a.city, a.country].filter(Boolean).join(", ")),
      h("dt", {}, "Total"), h("dd", {}, `${order.amounts.total} ${order.amounts.currency}`),
      h("dt", {}, "Received"), h("dd", {}, when(order.created_at)),
      order.pay_deadline && !order.payment_received && order.status === "AWAITING_PAYMENT" ? [h("dt", {}, "Pay by"), h("dd", {}, when(order.pay_deadline))] : null,
      reviewRows(order),
      problemRows(order))),
    h("div", { class: "card", id: "lines-card" }, h("strong", {}, "Lines"), h("table", { id: "order-lines" },
      h("tbody", {}, order.lines.map((l) => h("tr", { "data-sku": l.sku }, h("td", {}, l.sku), h("td", { class: "num qty" }, `× ${l.quantity}`), h("td", { class: "num" }, l.unit_price)))),
      order.shipments.map((s) => h("tr", { "data-shipment": s.shipment_id }, h("td", { colspan: 3, class: "muted" },
        `Shipment ${s.shipment_id}: ${s.carrier} ${s.tracking_number} from ${s.warehouse}`,
        order.delivery && order.delivery.shipments[s.shipment_id] ? ` · ${order.delivery.shipments[s.shipment_id]}` : ""))),
      order.delivery ? h("tr", { id: "delivery" }, h("td", { colspan: 3 }, `Delivery: ${order.delivery.state} (${order.delivery.delivered} of ${order.delivery.total} shipments delivered)`)) : null)));
  const executions = history.executions || [];
  const held = order.status === "ON_HOLD";
  const canDecide = held && (await may("POST", "/orders/{order_id}/review"));
  const holdCard = held ? h("div", { class: "card", id: "hold-card" }, h("strong", {}, "Held for review: "),
    reasonList((order.hold && order.hold.reasons) || (order.review && order.review.reasons) || []),
    order.remark ? h("p", {}, "Buyer remark: ", h("q", {}, order.remark)) : null,
    canDecide ? decideButtons(order.order_id, () => route(true)) : await decideNote()) : null;
  const lineEditor = await lineEditorSection(order);
  const splitter = await splitSection(order);
  const integration = await integrationSection(order.order_id);
  const cases = await api("GET", `/orders/${orderId}/aftersales`).then((r) => r.cases, () => []);
  const aftersales = cases.length ? h("table", { id: "aftersales" },
    h("thead", {}, h("tr", {}, ["Case", "Kind", "Status", "Amount", "Opened", "Last step"].map((t) => h("th", {}, t)))),
    h("tbody", {}, cases.map((c) => h("tr", {},
      h("td", {}, c.case_id),
      h("td", {}, `${c.kind} (${c.reason})`),
      h("td", {}, c.status),
      h("td", { class: "num" }, `${c.kind === "exchange" ? c.goods_value : c.amount} ${c.currency}`),
      h("td", { class: "when" }, when(c.opened_at)),
      h("td", { class: "muted" }, c.timeline.length ? c.timeline[c.timeline.length - 1].note || "" : ""))))) : null;
  const refunded = order.refund_summary ? h("p", { class: "muted" },
    `Refunded ${order.refund_summary.refunded} ${order.refund_summary.currency} in ${order.refund_summary.refunds} refund(s)`) : null;
  show(
    h("h2", {}, `Order ${order.order_id}`),
    details,
    lineEditor,
    splitter,
    holdCard,
    aftersales || refunded ? [h("h3", {}, "After-sales"), refunded, aftersales] : null,
    h("h3", {}, "State machine path", executions.length ? h("span", { class: "muted", id: "executions" },
      executions.map((e) => ` · ${workflowName(e.kind)} ${e.status}`).join("")) : null),
    path.length ? pathList : h("p", { class: "muted" }, "No execution yet."),
    timelineSection(history.timeline),
    integration);
}

// What the outbox published on the event bus for this order, and the webhooks sent to its platform
// (docs/events.md). Shown to the roles that may read them; nothing for the others.
async function optional(method, route, path) {
  if (!(await may(method, route))) return null;
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
      h("div", { class: "scroll" }, h("table", { id: "published-events" },
        h("thead", {}, h("tr", {}, ["Occurred", "Detail-type", "Event id", "Status", "Data"].map((t) => h("th", {}, t)))),
        h("tbody", {}, published.events.length ? published.events.map((e) => h("tr", { "data-type": e.detail_type },
          h("td", { class: "when" }, when(e.detail.occurred_at)),
          h("td", {}, e.detail_type),
          h("td", { class: "muted" }, e.detail.event_id),
          h("td", {}, e.detail.status || e.detail.shipment_status || ""),
          h("td", { class: "data" }, JSON.stringify(e.detail.data || { carrier: e.detail.carrier, tracking_number: e.detail.tracking_number }))))
          : h("tr", {}, h("td", { colspan: 5, class: "muted" }, "Nothing published yet."))))));
  }
  if (webhooks && webhooks.deliveries.length) {
    parts.push(h("h3", {}, "Webhooks to the platform"),
      h("div", { class: "scroll" }, h("table", { id: "webhook-deliveries" },
        h("thead", {}, h("tr", {}, ["Event", "Status", "Attempts", "Answer", "Last attempt"].map((t) => h("th", {}, t)))),
        h("tbody", {}, webhooks.deliveries.map((d) => h("tr", { "data-status": d.status },
          h("td", {}, d.event_type, h("div", { class: "muted" }, d.event_id)),
          h("td", {}, d.status),
          h("td", { class: "num" }, String(d.attempts)),
          h("td", {}, d.response_status ? String(d.response_status) : d.last_error || ""),
          h("td", { class: "when" }, when(d.last_attempt_at))))))));
  }
  return parts;
}

// Changing lines before shipment (POST /orders/{id}/changes/lines, docs/api.md): a quantity per line (0
// removes it), a new line (SKU, quantity, price; unpaid orders), a reason. The answer says what a person
// needs next: the refund owed, the units back in stock or reserved, a hold it caused.
const CHANGEABLE = ["RECEIVED", "ON_HOLD", "APPROVED", "BACKORDERED", "ALLOCATED", "AWAITING_PAYMENT", "PAID"];

function changeSummary(answer) {
  const units = (rows) => rows.reduce((n, r) => n + r.quantity, 0);
  const parts = [answer.cancelled ? `Order ${answer.order_id} cancelled` : `Lines of ${answer.order_id} changed`];
  if (answer.refund !== null) parts.push(`refund ${answer.refund} ${answer.currency}`);
  else if (!answer.cancelled) parts.push(`total now ${answer.total} ${answer.currency}`);
  if (answer.released && units(answer.released)) parts.push(`${units(answer.released)} unit(s) back in stock`);
  if (answer.reserved && units(answer.reserved)) parts.push(`${units(answer.reserved)} more unit(s) reserved`);
  if (answer.held) parts.push("sent to the review queue");
  return `${parts.join("; ")}.`;
}

async function lineEditorSection(order) {
  if (!CHANGEABLE.includes(order.status) || !(await may("POST", "/orders/{order_id}/changes/lines"))) return null;
  const card = h("div", { class: "card", id: "line-editor" });
  const editing = () => card.setAttribute("data-expanded", "");  // the live update must not redraw edits away
  const quantities = order.lines.map((l) => h("input", {
    type: "number", min: 0, max: 10000, value: l.quantity, class: "line-qty", "data-sku": l.sku,
    "aria-label": `quantity of ${l.sku}`, oninput: editing,
  }));
  const newSku = h("input", { id: "new-line-sku", placeholder: "SKU", size: 14, "aria-label": "new line SKU", oninput: editing });
  const newQty = h("input", { id: "new-line-qty", type: "number", min: 1, value: 1, "aria-label": "new line quantity", oninput: editing });
  const newPrice = h("input", { id: "new-line-price", placeholder: "unit price", size: 9, "aria-label": "new line unit price", oninput: editing });
  const reason = h("input", { id: "change-reason", placeholder: "reason (required)", size: 28, "aria-label": "reason", oninput: editing });
  const save = () => guarded(async () => {
    const lines = order.lines
      .map((l, i) => ({ sku: l.sku, quantity: Number(quantities[i].value) }))
      .filter((l, i) => l.quantity !== order.lines[i].quantity);
    if (newSku.value.trim()) lines.push({ sku: newSku.value.trim(), quantity: Number(newQty.value), unit_price: newPrice.value.trim() });
    if (!lines.length) return say("Nothing changed: set a quantity or add a line first.");
    if (!reason.value.trim()) return say("Say why the lines change (the reason goes into the order's history).");
    const reference = `console-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    const answer = await api("POST", `/orders/${order.order_id}/changes/lines`, { lines, reason: reason.value.trim(), reference });
    say(changeSummary(answer), true);
    await route(true);
  });
  card.append(
    h("strong", {}, "Change lines before shipment"),
    h("table", {}, h("tbody", {},
      order.lines.map((l, i) => h("tr", {}, h("td", {}, l.sku), h("td", { class: "num" }, quantities[i]), h("td", { class: "muted" }, "0 removes the line"))),
      h("tr", { class: "new-line" }, h("td", {}, newSku), h("td", { class: "num" }, newQty), h("td", {}, newPrice)))),
    h("p", { class: "editor-actions" }, reason, " ",
      h("button", { type: "button", class: "primary save-lines", onclick: save }, "Save lines"),
      h("span", { class: "muted" }, order.payment && order.payment.status === "unpaid" && !order.payment_received
        ? " Unpaid: the total is recomputed; more units are reserved at once."
        : " Paid: lower or remove only; the cancelled units' share is refunded.")));
  return card;
}

// Split by hand (POST /orders/{id}/changes/split, docs/api.md): tick the lines that leave in a second
// parcel. The order stays one sale; the API says why when it cannot be split (not reserved yet, 合单...).
async function splitSection(order) {
  const parcelLines = order.lines.filter((l) => !l.virtual);
  if (!CHANGEABLE.includes(order.status) || parcelLines.length < 2) return null;
  if (!(await may("POST", "/orders/{order_id}/changes/split"))) return null;
  const card = h("div", { class: "card", id: "split-card" });
  const editing = () => card.setAttribute("data-expanded", "");  // the live update must not redraw a choice away
  const boxes = parcelLines.map((l) => h("input", {
    type: "checkbox", class: "split-line", "data-sku": l.sku, "aria-label": `send ${l.sku} in the second parcel`, onchange: editing,
  }));
  const reason = h("input", { id: "split-reason", placeholder: "reason (required)", size: 28, "aria-label": "split reason", oninput: editing });
  const split = () => guarded(async () => {
    const skus = parcelLines.filter((l, i) => boxes[i].checked).map((l) => l.sku);
    if (!skus.length) return say("Tick the lines that go in the second parcel first.");
    if (!reason.value.trim()) return say("Say why the order is split (the reason goes into the order's history).");
    const reference = `console-split-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    const answer = await api("POST", `/orders/${order.order_id}/changes/split`, { skus, reason: reason.value.trim(), reference });
    say(`Order ${answer.order_id} split: ${skus.join(", ")} will ship in parcel ${answer.group}, the rest in parcel 1.`, true);
    await route(true);
  });
  card.append(
    h("strong", {}, "Split into a second parcel"),
    h("table", {}, h("tbody", {}, parcelLines.map((l, i) => h("tr", {},
      h("td", {}, h("label", {}, boxes[i], ` ${l.sku}`)), h("td", { class: "num" }, `× ${l.quantity}`))))),
    h("p", { class: "editor-actions" }, reason, " ",
      h("button", { type: "button", class: "primary split-order", onclick: split }, "Split"),
      h("span", { class: "muted" }, " Whole lines, once the stock is reserved; still one order and one payment.")));
  return card;
}
