// The Anomalies page: each window with observed value, baseline, score and severity,
// linked to the traces of that window.
import { getJSON, hashFor } from "./api.js";
import { h, fmtTime, badge } from "./dom.js";
import { rangeControl } from "./filters.js";

export async function renderAnomalies(main, _parts, params) {
  const [range, readRange] = rangeControl({ since: "7d", ...params });
  const form = h("form", { class: "filters" }, range,
    h("input", { name: "project", placeholder: "project", value: params.project || "", size: 10 }),
    h("input", { name: "service", placeholder: "service", value: params.service || "", size: 10 }),
    h("button", { type: "submit" }, "Apply"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const d = new FormData(form);
    window.location.hash = hashFor("anomalies", { ...readRange(), project: d.get("project"), service: d.get("service") });
  });
  const query = params.from ? { from: params.from, to: params.to } : { since: params.since || "7d" };
  const data = await getJSON("/api/anomalies", { ...query, project: params.project, service: params.service });
  const rows = data.items.map((a) => h("tr", { class: `sev-${a.severity}` },
    h("td", { class: "nowrap" }, fmtTime(a.window_start)),
    h("td", null, `${a.project} / ${a.service}`),
    h("td", null, `${a.kind} ${a.name}${a.model ? ` (${a.model})` : ""}`),
    h("td", null, a.metric),
    h("td", { class: "num" }, a.value.toPrecision(4)),
    h("td", { class: "num" }, a.baseline.toPrecision(4)),
    h("td", { class: "num" }, `${a.score.toFixed(1)} (≥ ${a.threshold})`),
    h("td", null, badge(a.severity, `sev-${a.severity}`), ` ${a.direction}`),
    h("td", null, h("a", { href: hashFor("traces", { project: a.project, service: a.service, from: a.window_start, to: a.window_end, live: "0" }) }, "traces →"))));
  main.append(h("h1", null, "Anomalies"), form,
    h("table", { class: "grid", id: "anomalies-table" },
      h("thead", null, h("tr", null, ["Window", "Project / service", "Operation", "Metric", "Observed", "Baseline", "Score", "Severity", ""].map((c) => h("th", null, c)))),
      h("tbody", null, rows.length ? rows : h("tr", null, h("td", { colspan: 9, class: "muted empty" }, "No anomalies in this range.")))));
}
