// Sales in the OMS console: orders placed, paid, shipped and refunded per day, over a range that fits
// the data, with a canvas chart (no library). The sales report (GET /reports/sales) gives placed
// orders, platforms, top SKUs and refunds; where each order stands now (held, unpaid, paid, shipped)
// comes from the order search over the same days, so a held or unpaid order is never counted as money in.
"use strict";

const STAGES = [  // how each status counts, and its colour in the chart (bottom to top)
  { key: "shipped", label: "shipped", color: "#157f3b", statuses: ["SHIPPED", "DELIVERED"] },
  { key: "paid", label: "paid, not shipped yet", color: "#2d5bd7", statuses: ["PAID"] },
  { key: "progress", label: "in progress", color: "#9aa3b5", statuses: ["RECEIVED", "APPROVED", "ALLOCATED"] },
  { key: "waiting", label: "held or unpaid", color: "#e07b00", statuses: ["ON_HOLD", "AWAITING_PAYMENT"] },
  { key: "stopped", label: "cancelled, rejected, failed", color: "#b42318", statuses: ["CANCELLED", "REJECTED", "FAILED"] },
];
const STAGE_OF = Object.fromEntries(STAGES.flatMap((s) => s.statuses.map((status) => [status, s.key])));
const SPLIT_PAGES = 20;  // at most 2,000 orders are read to split a range by stage

function addMoney(into, currency, amount) { into[currency] = (Number(into[currency] || 0) + Number(amount)).toFixed(2); }
function shiftDay(day, days) { const d = new Date(`${day}T00:00:00Z`); d.setUTCDate(d.getUTCDate() + days); return d.toISOString().slice(0, 10); }
// The report's calendar day of an instant (days are days of receipt in the report time zone).
function dayIn(zone) {
  const format = new Intl.DateTimeFormat("en-CA", { timeZone: zone || "UTC", year: "numeric", month: "2-digit", day: "2-digit" });
  return (iso) => format.format(new Date(iso));
}

// The days to show: the ones asked for, else from the first to the last day with orders (a week at least).
function fittedDays(report, asked) {
  if (asked) return report.days;
  const busy = report.days.map((d, i) => (d.orders ? i : -1)).filter((i) => i >= 0);
  if (!busy.length) return report.days;
  const last = busy[busy.length - 1];
  const first = Math.max(0, Math.min(busy[0], last - 6));
  return report.days.slice(first, last + 1);
}

// Where the orders received on these days stand now, per day: counts per stage and paid money.
async function stageSplit(days, platform, zone) {
  const byDay = Object.fromEntries(days.map((d) => [d.day, { paidRevenue: {}, ...Object.fromEntries(STAGES.map((s) => [s.key, 0])) }]));
  const dayOf = dayIn(zone);
  // A day either side covers any zone's offset; orders outside the report's days are not counted.
  const query = new URLSearchParams({ from: `${shiftDay(days[0].day, -1)}T00:00:00Z`, to: `${shiftDay(days[days.length - 1].day, 2)}T00:00:00Z`, limit: "100" });
  if (platform) query.set("platform", platform);
  let complete = true;
  for (let page = 0; page < SPLIT_PAGES; page += 1) {
    const found = await api("GET", `/orders?${query}`);
    for (const o of found.items) {
      const tally = byDay[dayOf(o.created_at)];
      const stage = STAGE_OF[o.status];
      if (!tally || !stage) continue;
      tally[stage] += 1;
      if (stage === "shipped" || stage === "paid") addMoney(tally.paidRevenue, o.currency, o.total);
    }
    if (!found.next_token) break;
    query.set("next_token", found.next_token);
    if (page === SPLIT_PAGES - 1) complete = false;
  }
  return { byDay, complete };
}

function drawChart(canvas, days, split, currency) {
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
  const revenueOf = (d) => Number(split.byDay[d.day].paidRevenue[currency] || 0);
  const maxRevenue = Math.max(1, ...days.map(revenueOf));
  const step = w / Math.max(1, days.length);
  const barWidth = Math.min(step * 0.7, 48);  // one day is a bar, not a wall
  g.font = "11px system-ui, sans-serif";
  g.fillStyle = "#6b7385";
  g.fillText(String(maxOrders), 4, pad.t + 8);
  g.fillText("orders", 4, pad.t + 22);
  g.fillText(String(Math.round(maxRevenue)), width - pad.r + 4, pad.t + 8);
  g.fillText(currency || "", width - pad.r + 4, pad.t + 22);
  days.forEach((day, i) => {  // stacked: where the day's orders stand now
    let y = pad.t + hgt;
    const x = pad.l + i * step + (step - barWidth) / 2;
    for (const stage of STAGES) {
      const barH = (split.byDay[day.day][stage.key] / maxOrders) * hgt;
      g.fillStyle = stage.color;
      g.fillRect(x, y - barH, barWidth, barH);
      y -= barH;
    }
    if (days.length <= 31 || i % Math.ceil(days.length / 15) === 0) {
      g.fillStyle = "#6b7385";
      g.fillText(day.day.slice(5), pad.l + i * step + step / 2 - 14, height - 8);
    }
  });
  g.strokeStyle = "#1d2330";  // paid revenue
  g.fillStyle = "#1d2330";
  g.lineWidth = 2;
  g.beginPath();
  days.forEach((day, i) => {
    const x = pad.l + i * step + step / 2;
    const y = pad.t + hgt - (revenueOf(day) / maxRevenue) * hgt;
    if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
  });
  g.stroke();
  if (days.length === 1) g.fillRect(pad.l + step / 2 - 3, pad.t + hgt - (revenueOf(days[0]) / maxRevenue) * hgt - 3, 6, 6);
}

function salesTotals(days, split) {
  const totals = { placed: 0, paidRevenue: {}, ...Object.fromEntries(STAGES.map((s) => [s.key, 0])) };
  for (const d of days) {
    totals.placed += d.orders;
    const tally = split.byDay[d.day];
    for (const s of STAGES) totals[s.key] += tally[s.key];
    for (const [c, v] of Object.entries(tally.paidRevenue)) addMoney(totals.paidRevenue, c, v);
  }
  return totals;
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
  const days = fittedDays(report, params.get("from") || params.get("to"));
  const split = await stageSplit(days, params.get("platform"), report.timezone);
  const totals = salesTotals(days, split);
  const refunded = {};
  for (const d of days) for (const [c, v] of Object.entries(d.refunded || {})) addMoney(refunded, c, v);
  const currency = Object.keys(totals.paidRevenue)[0] || Object.keys(report.revenue)[0] || "CNY";
  const canvas = h("canvas", { id: "sales-chart", role: "img", "aria-label": "orders per day by where they stand (bars) and paid revenue (line)" });
  const legend = h("div", { class: "legend" },
    STAGES.map((s) => h("span", {}, h("i", { style: `background:${s.color}` }), s.label)),
    h("span", {}, h("i", { style: "background:#1d2330;height:2px" }), `paid revenue (${currency})`));
  const figure = (label, value, id) => h("div", { class: "figure", id }, h("span", { class: "muted" }, label), h("strong", {}, String(value)));
  const platforms = [...new Set(report.platforms.map((p) => p.platform))].sort();
  const fitted = days.length !== report.days.length;
  show(
    h("h2", {}, "Sales"),
    form,
    h("p", { class: "muted", id: "sales-range" }, `${days[0].day} to ${days[days.length - 1].day} (${days.length} day${days.length === 1 ? "" : "s"}, ${report.timezone || "UTC"}, by day received)`,
      fitted ? " · fitted to the days with orders; pick dates to see others" : "",
      report.truncated ? " · truncated: more rows than one report reads" : "",
      split.complete ? "" : ` · stages from the first ${SPLIT_PAGES * 100} orders`),
    h("div", { class: "figures", id: "sales-split" },
      figure("Placed", totals.placed, "sales-placed"),
      figure("Paid", totals.paid + totals.shipped, "sales-paid"),
      figure("Shipped", totals.shipped, "sales-shipped"),
      figure("Refunded", money(refunded), "sales-refunded"),
      figure("Paid revenue", money(totals.paidRevenue), "sales-revenue"),
      figure("Held or unpaid (not revenue)", totals.waiting, "sales-waiting"),
      figure("Cancelled, rejected, failed", totals.stopped, "sales-stopped")),
    canvas, legend,
    h("div", { class: "grid" },
      h("div", {}, h("h3", {}, "Per day"), h("div", { class: "scroll" }, h("table", { id: "days" },
        h("thead", {}, h("tr", {}, ["Day", "Placed", "Paid", "Shipped", "Held/unpaid", "Paid revenue", "Refunded"].map((t, i) => h("th", { class: i ? "num" : "" }, t)))),
        h("tbody", {}, days.filter((d) => d.orders).map((d) => {
          const t = split.byDay[d.day];
          return h("tr", { "data-day": d.day }, h("td", {}, d.day), h("td", { class: "num" }, d.orders), h("td", { class: "num" }, t.paid + t.shipped),
            h("td", { class: "num" }, t.shipped), h("td", { class: "num" }, t.waiting), h("td", { class: "num" }, money(t.paidRevenue)), h("td", { class: "num" }, money(d.refunded)));
        }))))),
      h("div", {}, h("h3", {}, "Per platform"), h("table", { id: "platforms" },
        h("thead", {}, h("tr", {}, h("th", {}, "Platform"), h("th", { class: "num" }, "Placed"), h("th", { class: "num" }, "Not cancelled"))),
        h("tbody", {}, platforms.map((platform) => {
          const rows = report.platforms.filter((p) => p.platform === platform);
          return h("tr", {}, h("td", {}, platform), h("td", { class: "num" }, rows.reduce((n, r) => n + r.orders, 0)), h("td", { class: "num" }, rows.reduce((n, r) => n + r.sales, 0)));
        })))),
      h("div", {}, h("h3", {}, "Top SKUs"), h("table", { id: "top-skus" },
        h("thead", {}, h("tr", {}, h("th", {}, "SKU"), h("th", { class: "num" }, "Units"), h("th", { class: "num" }, "Amount"))),
        h("tbody", {}, report.top_skus.map((s) => h("tr", {}, h("td", {}, s.sku), h("td", { class: "num" }, s.quantity), h("td", { class: "num" }, money(s.revenue)))))))));
  drawChart(canvas, days, split, currency);
}
