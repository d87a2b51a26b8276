// Sessions: the list, and one session (or user) as a conversation thread with
// per-turn cost and latency.
import { getJSON, hashFor } from "./api.js";
import { h, fmtMs, fmtCost, fmtNum, fmtTime, statusBadge } from "./dom.js";
import { rangeControl } from "./filters.js";
import { conversation } from "./conversation.js";

function rangeOf(params, fallback) {
  return params.from ? { from: params.from, to: params.to } : { since: params.since || fallback };
}

export async function renderSessions(main, _parts, params) {
  const [range, readRange] = rangeControl({ since: "7d", ...params });
  const form = h("form", { class: "filters" }, range,
    h("input", { name: "project", placeholder: "project", value: params.project || "", size: 10 }),
    h("button", { type: "submit" }, "Apply"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    window.location.hash = hashFor("sessions", { ...readRange(), project: new FormData(form).get("project") });
  });
  const data = await getJSON("/api/sessions", { ...rangeOf(params, "7d"), project: params.project, offset: params.offset });
  main.append(h("h1", null, "Sessions"), form, h("table", { class: "grid", id: "sessions-table" },
    h("thead", null, h("tr", null, ["Last turn", "Session", "Users", "Turns", "Cost", "Time in traces", "Errors"].map((c) => h("th", null, c)))),
    h("tbody", null, data.items.map((x) => h("tr", null,
      h("td", { class: "nowrap" }, fmtTime(x.last_start)),
      h("td", null, h("a", { href: hashFor(`session/${encodeURIComponent(x.session_id)}`, rangeOf(params, "7d")) }, x.session_id)),
      h("td", null, x.users.join(", ")), h("td", { class: "num" }, fmtNum(x.traces)),
      h("td", { class: "num" }, fmtCost(x.cost_usd)), h("td", { class: "num" }, fmtMs(x.duration_ms)),
      h("td", { class: "num" }, fmtNum(x.errors)))))));
}

export async function renderSession(main, parts, params) {
  const key = parts[0];
  const data = await getJSON(`/api/sessions/${encodeURIComponent(key)}`, { ...rangeOf(params, "30d"), by: params.by, project: params.project });
  const cost = data.turns.reduce((a, t) => a + (t.cost_usd || 0), 0);
  main.append(h("div", { class: "crumbs" }, h("a", { href: "#/sessions" }, "Sessions"), " / ", data.by, " ", h("code", null, key)),
    h("h1", null, `${data.by === "user" ? "User" : "Session"} ${key}`),
    h("p", { class: "muted" }, `${data.turns.length} turns · ${fmtCost(cost)} in total`),
    h("div", { class: "thread" }, data.turns.map((t, i) => h("article", { class: `turn ${t.status === "error" ? "error" : ""}` },
      h("header", null, h("a", { href: hashFor(`trace/${t.trace_id}`, {}) }, `#${i + 1} ${t.name}`), " ", statusBadge(t.status),
        h("span", { class: "muted small" }, ` ${fmtTime(t.start_time)} · ${fmtMs(t.duration_ms)} · ${fmtCost(t.cost_usd)} · ${fmtNum(t.input_tokens + t.output_tokens)} tokens`)),
      conversation(t.input, "user"), t.output !== null ? conversation(t.output, "assistant") : h("p", { class: "muted" }, "(no output)")))));
}
