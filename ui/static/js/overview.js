// The Overview page: hand-drawn SVG charts over the range, anomalies marked on them,
// every chart linking to the traces behind it.
import { getJSON, hashFor } from "./api.js";
import { h, s, fmtMs, fmtCost, fmtNum, fmtTime } from "./dom.js";
import { rangeControl, selectOf } from "./filters.js";

const W = 560;
const H = 150;
const PAD = { l: 48, r: 8, t: 8, b: 20 };

export async function renderOverview(main, _parts, params) {
  const [range, readRange] = rangeControl(params);
  const facets = await getJSON("/api/facets", pickRange(params)).catch(() => ({}));
  const form = h("form", { class: "filters" }, range,
    selectOf("project", "project", facets.projects, params.project),
    selectOf("service", "service", facets.services, params.service),
    selectOf("environment", "env", facets.environments, params.environment),
    h("button", { type: "submit" }, "Apply"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const d = new FormData(form);
    window.location.hash = hashFor("overview", { ...readRange(), project: d.get("project"), service: d.get("service"), environment: d.get("environment") });
  });
  main.append(h("h1", null, "Overview"), form);
  const data = await getJSON("/api/overview", { ...pickRange(params), project: params.project, service: params.service, environment: params.environment });
  const tenant = { project: params.project, service: params.service, environment: params.environment };
  const linkFor = (point) => {
    const end = new Date(Date.parse(point.bucket) + data.bucket_s * 1000).toISOString();
    return hashFor("traces", { ...tenant, from: point.bucket, to: end, live: "0" });
  };
  const series = data.series;
  main.append(h("div", { class: "charts" },
    chart("Traces per bucket", series, [{ key: "traces", cls: "s-count", bars: true }], data, linkFor, fmtNum),
    chart("Latency p50 / p95", series, [{ key: "p50_ms", cls: "s-p50" }, { key: "p95_ms", cls: "s-p95" }], data, linkFor, fmtMs),
    chart("Error rate", series, [{ key: "error_rate", cls: "s-err" }], data, (p) => linkFor(p) + "&has_errors=true", (v) => `${(v * 100).toFixed(1)}%`),
    chart("Cost per bucket", series, [{ key: "cost_usd", cls: "s-cost", bars: true }], data, linkFor, fmtCost)),
  h("div", { class: "charts" },
    hbars("Cost by model", data.cost_by_model, "model", (r) => r.cost_usd,
      (v, r) => (r.unpriced ? `${fmtCost(v)} + ${r.unpriced} unpriced` : fmtCost(v)),
      (r) => hashFor("traces", { ...tenant, ...pickRange(params), model: r.model })),
    hbars("Cost by service", data.cost_by_service, "service", (r) => r.cost_usd, fmtCost, (r) => hashFor("traces", { ...tenant, ...pickRange(params), service: r.service })),
    failing(data.failing_tools, tenant, params)));
}

function pickRange(params) {
  return params.from ? { from: params.from, to: params.to } : { since: params.since || "24h" };
}

function chart(title, points, lines, data, linkFor, fmt) {
  const values = lines.flatMap((l) => points.map((p) => p[l.key]).filter((v) => v !== null));
  const max = Math.max(1e-9, ...values);
  const n = Math.max(1, points.length);
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const x = (i) => PAD.l + (i / n) * iw;
  const y = (v) => PAD.t + ih - (v / max) * ih;
  const t0 = Date.parse(data.from);
  const span = Date.parse(data.to) - t0;
  const marks = data.anomalies.map((a) => {
    const from = Math.max(0, (Date.parse(a.window_start) - t0) / span);
    const to = Math.min(1, (Date.parse(a.window_end) - t0) / span);
    return s("rect", { class: `anomaly-mark sev-${a.severity}`, x: PAD.l + from * iw, y: PAD.t, width: Math.max(2, (to - from) * iw), height: ih },
      s("title", null, `${a.service} ${a.kind} ${a.name}: ${a.metric} ${a.value} (baseline ${a.baseline}, score ${a.score.toFixed(1)})`));
  });
  const shapes = lines.map((l) => {
    if (l.bars) {
      return points.map((p, i) => s("a", { href: linkFor(p) },
        s("rect", { class: `cbar ${l.cls}`, x: x(i) + 0.5, y: y(p[l.key] || 0), width: Math.max(1, iw / n - 1), height: ih - (y(p[l.key] || 0) - PAD.t) },
          s("title", null, `${fmtTime(p.bucket)}: ${fmt(p[l.key] || 0)}`))));
    }
    // One polyline per run of buckets with data: an empty bucket breaks the line.
    const runs = [[]];
    points.forEach((p, i) => {
      if (p[l.key] === null) { if (runs[runs.length - 1].length) runs.push([]); } else runs[runs.length - 1].push(`${x(i + 0.5)},${y(p[l.key])}`);
    });
    return [runs.filter((r) => r.length > 1).map((r) => s("polyline", { class: `line ${l.cls}`, points: r.join(" "), fill: "none" })),
      points.map((p, i) => (p[l.key] === null ? null : s("a", { href: linkFor(p) },
        s("circle", { class: `dot ${l.cls}`, cx: x(i + 0.5), cy: y(p[l.key]), r: 2.5 }, s("title", null, `${fmtTime(p.bucket)}: ${fmt(p[l.key])}`)))))];
  });
  const svgEl = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": title },
    s("line", { class: "axis-line", x1: PAD.l, x2: W - PAD.r, y1: PAD.t + ih, y2: PAD.t + ih }),
    s("text", { x: PAD.l - 4, y: PAD.t + 8, "text-anchor": "end", class: "tick" }, fmt(max)),
    s("text", { x: PAD.l - 4, y: PAD.t + ih, "text-anchor": "end", class: "tick" }, "0"),
    s("text", { x: PAD.l, y: H - 4, class: "tick" }, fmtTime(data.from).slice(5, 16)),
    s("text", { x: W - PAD.r, y: H - 4, "text-anchor": "end", class: "tick" }, fmtTime(data.to).slice(5, 16)),
    marks, shapes);
  const legend = lines.length > 1 ? h("div", { class: "chart-legend" }, lines.map((l) => h("span", { class: `key ${l.cls}` }, l.key))) : null;
  return h("figure", { class: "card" }, h("figcaption", null, title), svgEl, legend);
}

function hbars(title, rows, labelKey, value, fmt, link) {
  const max = Math.max(1e-9, ...rows.map(value));
  return h("figure", { class: "card" }, h("figcaption", null, title),
    rows.length ? h("div", { class: "hbars" }, rows.map((r) => h("a", { class: "hbar", href: link(r) },
      h("span", { class: "hbar-label" }, r[labelKey] || "(none)"),
      h("span", { class: "hbar-track" }, h("span", { class: "hbar-fill", style: { width: `${(value(r) / max) * 100}%` } })),
      h("span", { class: "hbar-value" }, fmt(value(r), r))))) : h("p", { class: "muted" }, "Nothing in this range."));
}

function failing(rows, tenant, params) {
  return h("figure", { class: "card" }, h("figcaption", null, "Top failing tools"),
    rows.length ? h("table", { class: "grid small" }, h("tr", null, h("th", null, "Tool"), h("th", null, "Errors"), h("th", null, "Calls"), h("th", null, "Rate"), h("th", null, "Error type")),
      rows.map((r) => h("tr", null, h("td", null, h("a", { href: hashFor("traces", { ...tenant, ...pickRange(params), has_errors: "true" }) }, r.tool)),
        h("td", { class: "num" }, fmtNum(r.errors)), h("td", { class: "num" }, fmtNum(r.calls)),
        h("td", { class: "num" }, `${(r.error_rate * 100).toFixed(1)}%`), h("td", null, r.error_type))))
      : h("p", { class: "muted" }, "No failing tools in this range."));
}
