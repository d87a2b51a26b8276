// The Traces page: filters, a sortable paged table, and live refresh of the first page.
import { getJSON, hashFor } from "./api.js";
import { h, clear, fmtMs, fmtCost, fmtNum, fmtTime, statusBadge, errorBox, badge } from "./dom.js";
import { rangeControl, selectOf, aroundTrace } from "./filters.js";

const COLUMNS = [
  ["start_time", "Time"], ["name", "Name"], ["status", "Status"], ["duration_ms", "Duration"],
  ["span_count", "Spans"], ["tokens", "Tokens"], ["cost_usd", "Cost"], [null, "Models"],
  ["user_id", "User"], ["session_id", "Session"], [null, "Tags"],
];
const FILTER_KEYS = ["project", "service", "environment", "status", "model", "user", "session",
  "tag", "min_duration_ms", "min_cost_usd", "has_errors", "q"];
const LIVE_MS = 5000;

export async function renderTraces(main, _parts, params) {
  const [range, readRange] = rangeControl(params);
  const facets = await getJSON("/api/facets", pick(params, ["since", "from", "to"])).catch(() => ({}));
  const text = (name, placeholder, size = 10) => h("input", { name, placeholder, value: params[name] || "", size });
  const form = h("form", { class: "filters", id: "trace-filters" },
    range,
    selectOf("project", "project", facets.projects, params.project),
    selectOf("service", "service", facets.services, params.service),
    selectOf("environment", "env", facets.environments, params.environment),
    selectOf("status", "status", ["ok", "error", "incomplete", "timeout", "unset"], params.status),
    selectOf("model", "model", facets.models, params.model),
    text("user", "user"), text("session", "session"),
    selectOf("tag", "tag", facets.tags, params.tag),
    text("min_duration_ms", "min ms", 6), text("min_cost_usd", "min $", 6),
    selectOf("has_errors", "errors", ["true", "false"], params.has_errors),
    h("input", { name: "q", type: "search", placeholder: "search inputs & outputs (whole words)", value: params.q || "", size: 30 }),
    h("button", { type: "submit" }, "Apply"),
    h("label", { class: "live" }, h("input", { type: "checkbox", name: "live", checked: params.live !== "0" }), " live"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const next = { ...readRange(), sort: params.sort, order: params.order, live: data.get("live") ? "" : "0" };
    for (const key of FILTER_KEYS) next[key] = (data.get(key) || "").trim();
    window.location.hash = hashFor("traces", next);
  });
  const table = h("div", { class: "table-wrap" });
  const pager = h("div", { class: "pager" });
  main.append(h("h1", null, "Traces"), form, table, pager);

  const query = pick(params, ["since", "from", "to", "sort", "order", "limit", "offset", ...FILTER_KEYS]);
  let known = null;
  async function load() {
    let page;
    try {
      page = await getJSON("/api/traces", query);
    } catch (err) {
      clear(table).append(errorBox(err));
      return;
    }
    const fresh = known ? new Set(page.items.map((t) => t.trace_id).filter((id) => !known.has(id))) : new Set();
    known = new Set(page.items.map((t) => t.trace_id));
    clear(table).append(tracesTable(page.items, params, fresh));
    clear(pager).append(...pagerFor(page, params));
  }
  await load();
  const live = params.live !== "0" && !params.to && !Number(params.offset || 0);
  const timer = live ? setInterval(load, LIVE_MS) : null;
  return () => timer && clearInterval(timer);
}

function pick(params, keys) {
  return Object.fromEntries(keys.filter((k) => params[k]).map((k) => [k, params[k]]));
}

function tracesTable(items, params, fresh) {
  const sort = params.sort || "start_time";
  const order = params.order || "desc";
  const head = h("tr", null, COLUMNS.map(([key, label]) => {
    if (!key) return h("th", null, label);
    const next = key === sort && order === "desc" ? "asc" : "desc";
    const arrow = key === sort ? (order === "desc" ? " ▼" : " ▲") : "";
    return h("th", { class: "sortable" },
      h("a", { href: hashFor("traces", { ...params, sort: key, order: next, offset: "" }) }, label + arrow));
  }));
  const rows = items.map((t) => {
    const link = hashFor(`trace/${t.trace_id}`, {});
    const errors = t.error_count > 0 || t.status === "error";
    return h("tr", {
      class: `${errors ? "row-error" : ""} ${fresh.has(t.trace_id) ? "row-new" : ""}`,
      "data-trace-id": t.trace_id,
      onclick: (e) => { if (e.target.tagName !== "A") window.location.hash = link; },
    },
    h("td", { class: "nowrap" }, h("a", { href: link }, fmtTime(t.start_time))),
    h("td", null, h("div", { class: "name" }, t.name || "(unnamed)"), h("div", { class: "preview" }, t.input_preview)),
    h("td", null, statusBadge(t.status), t.error_count ? h("span", { class: "err-count" }, ` ${t.error_count} err`) : null),
    h("td", { class: "num" }, fmtMs(t.duration_ms)),
    h("td", { class: "num" }, fmtNum(t.span_count)),
    h("td", { class: "num" }, fmtNum(t.input_tokens + t.output_tokens)),
    h("td", { class: "num" }, fmtCost(t.cost_usd)),
    h("td", null, t.models.join(", ")),
    h("td", null, t.user_id),
    h("td", null, t.session_id ? h("a", { href: hashFor(`session/${encodeURIComponent(t.session_id)}`, aroundTrace(t.start_time)) }, t.session_id) : ""),
    h("td", null, t.tags.map((tag) => badge(tag, "tag"))));
  });
  if (!rows.length) {
    rows.push(h("tr", null, h("td", { colspan: COLUMNS.length, class: "muted empty" }, "No traces match these filters in this range.")));
  }
  return h("table", { class: "grid", id: "traces-table" }, h("thead", null, head), h("tbody", null, rows));
}

function pagerFor(page, params) {
  const offset = page.offset;
  const prev = offset > 0 ? h("a", { href: hashFor("traces", { ...params, offset: Math.max(0, offset - page.limit) || "" }) }, "← newer") : h("span", { class: "muted" }, "← newer");
  const next = page.has_more ? h("a", { href: hashFor("traces", { ...params, offset: offset + page.limit }) }, "older →") : h("span", { class: "muted" }, "older →");
  return [prev, h("span", { class: "muted" }, ` rows ${offset + 1}–${offset + page.items.length} `), next];
}
