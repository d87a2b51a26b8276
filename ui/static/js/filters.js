// The time-range control shared by the list pages.
import { h } from "./dom.js";

export const RANGES = ["15m", "1h", "6h", "24h", "7d", "30d"];

// Inputs for since / from / to; returns [element, read()] where read() gives the params.
export function rangeControl(params) {
  const custom = Boolean(params.from);
  const since = h("select", { name: "since", "aria-label": "Time range" },
    RANGES.map((r) => h("option", { value: r, selected: !custom && (params.since || "24h") === r }, `last ${r}`)),
    h("option", { value: "custom", selected: custom }, "custom…"));
  const from = h("input", { name: "from", placeholder: "from (ISO, UTC)", value: params.from || "", size: 22 });
  const to = h("input", { name: "to", placeholder: "to (ISO, UTC)", value: params.to || "", size: 22 });
  const customBox = h("span", { class: custom ? "" : "hidden" }, from, " – ", to);
  since.addEventListener("change", () => customBox.classList.toggle("hidden", since.value !== "custom"));
  const read = () => (since.value === "custom"
    ? { from: from.value.trim(), to: to.value.trim() }
    : { since: since.value });
  return [h("span", { class: "range" }, since, customBox), read];
}

export function selectOf(name, label, values, current) {
  return h("select", { name, "aria-label": label },
    h("option", { value: "" }, `${label}: any`),
    (values || []).map((v) => h("option", { value: v, selected: v === current }, v)),
    current && !(values || []).includes(current) ? h("option", { value: current, selected: true }, current) : null);
}

// A session's or user's other turns: a week either side of one trace.
export function aroundTrace(startIso) {
  const at = Date.parse(startIso);
  const week = 7 * 24 * 3600 * 1000;
  return { from: new Date(at - week).toISOString(), to: new Date(at + week).toISOString() };
}
