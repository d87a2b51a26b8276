// The Trace page: the span tree beside a waterfall on one time axis (one virtualised
// list: only the rows in view exist in the DOM), and a span panel whose payloads are
// fetched when a span is opened.
import { getJSON, hashFor } from "./api.js";
import { h, s, clear, fmtMs, fmtCost, fmtNum, fmtTime, statusBadge, kindBadge, badge, errorBox } from "./dom.js";
import { renderSpanPanel, scoreForm, scoreList } from "./span.js";
import { aroundTrace } from "./filters.js";

const ROW_H = 24;
const OVERSCAN = 12;
// Traces this big open with only the first levels expanded.
const EXPAND_ALL_UP_TO = 300;
const OPEN_DEPTH = 2;

export async function renderTrace(main, parts, params) {
  const traceId = parts[0];
  // One list per field, one index per span (in tree order): no object per span to parse or build.
  const data = await getJSON(`/api/traces/${traceId}`, { spans: "columns" });
  // Named points on the page's clock: bench ui reads them to say where a load's time went.
  performance.mark("trace:data");
  const c = data.span_columns;
  const count = c.span_id.length;
  let total = 1;
  for (let i = 0; i < count; i++) total = Math.max(total, c.end_ms[i] ?? c.start_ms[i]);
  const collapsed = new Set();
  if (count > EXPAND_ALL_UP_TO) {
    for (let i = 0; i < count; i++) if (c.depth[i] >= OPEN_DEPTH - 1 && c.subtree_size[i] > 0) collapsed.add(i);
  }
  let selected = params.span ? c.span_id.indexOf(params.span) : -1;
  if (selected >= 0) {
    // A span opened by its link must be in view: expand its ancestors.
    const byId = new Map(c.span_id.map((id, i) => [id, i]));
    for (let p = byId.get(c.parent_span_id[selected]); p !== undefined; p = byId.get(c.parent_span_id[p])) {
      collapsed.delete(p);
    }
  }
  // The visible rows' span indices; rebuilt only when a subtree opens or closes.
  let visible = new Int32Array(0);

  const panel = h("aside", { class: "span-panel", id: "span-panel" });
  const viewport = h("div", { class: "tree-viewport", id: "tree-viewport", tabindex: "0" });
  const spacer = h("div", { class: "tree-spacer" });
  const rowsBox = h("div", { class: "tree-rows" });
  viewport.append(spacer, rowsBox);

  main.append(
    header(data),
    h("div", { class: "trace-layout" },
      h("section", { class: "tree-pane" },
        h("div", { class: "tree-toolbar" },
          h("button", { type: "button", id: "expand-all", onclick: () => { collapsed.clear(); refresh(); } }, "Expand all"),
          h("button", { type: "button", id: "collapse-all", onclick: () => {
            for (let i = 0; i < count; i++) if (c.subtree_size[i] > 0) collapsed.add(i);
            refresh();
          } }, "Collapse all"),
          h("span", { class: "muted" }, ` ${fmtNum(count)} spans${data.truncated ? " (truncated)" : ""}`),
          h("span", { class: "legend" }, badge("critical path", "crit"), badge("error", "st-error"), badge("anomaly", "anom"))),
        h("div", { class: "tree-head" }, h("div", { class: "tree-col" }, "Span"), h("div", { class: "bar-col" }, axis(total))),
        viewport),
      panel));

  function computeVisible() {
    const shown = new Int32Array(count);
    let n = 0;
    for (let i = 0; i < count; i++) {
      shown[n++] = i;
      if (collapsed.has(i)) i += c.subtree_size[i];
    }
    visible = shown.subarray(0, n);
    spacer.style.height = `${n * ROW_H}px`;
  }

  function draw() {
    const first = Math.max(0, Math.floor(viewport.scrollTop / ROW_H) - OVERSCAN);
    const last = Math.min(visible.length, Math.ceil((viewport.scrollTop + viewport.clientHeight) / ROW_H) + OVERSCAN);
    const rows = [];
    for (let v = first; v < last; v++) rows.push(row(visible[v], v));
    rowsBox.replaceChildren(...rows);
  }

  function refresh() { computeVisible(); draw(); }

  // One span as an object, built only for the rows drawn.
  function span(i) {
    const sp = {};
    for (const name in c) sp[name] = c[name][i];
    return sp;
  }

  function row(i, v) {
    const sp = span(i);
    const hasKids = sp.subtree_size > 0;
    const open = !collapsed.has(i);
    const end = sp.end_ms ?? total;
    const left = (sp.start_ms / total) * 100;
    const width = Math.max(0.15, ((end - sp.start_ms) / total) * 100);
    const cls = ["tree-row", sp.status === "error" ? "error" : "", sp.critical ? "critical" : "",
      sp.anomaly ? "anomaly" : "", i === selected ? "selected" : ""].join(" ");
    const toggle = hasKids
      ? h("button", { type: "button", class: "toggle", "aria-label": open ? "collapse" : "expand", "aria-expanded": String(open),
        onclick: (e) => { e.stopPropagation(); if (open) collapsed.add(i); else collapsed.delete(i); refresh(); } }, open ? "▾" : "▸")
      : h("span", { class: "toggle-pad" });
    return h("div", { class: cls, style: { top: `${v * ROW_H}px` }, "data-span-id": sp.span_id, role: "row",
      onclick: () => select(i) },
    h("div", { class: "tree-col", style: { paddingLeft: `${4 + sp.depth * 14}px` } },
      toggle, kindBadge(sp.kind), h("span", { class: "span-name", title: sp.name }, sp.name),
      sp.model ? h("span", { class: "span-model" }, sp.model) : null,
      sp.status === "error" ? h("span", { class: "err-mark", title: `${sp.error_type}: ${sp.error_message}` }, " ✖") : null,
      hasKids && !open ? h("span", { class: "span-model" }, `+${sp.subtree_size}`) : null),
    h("div", { class: "bar-col" },
      h("div", { class: `bar k-${sp.kind}`, style: { left: `${left}%`, width: `${width}%` } }),
      h("span", { class: "bar-label", style: { left: `${left + width}%` } }, fmtMs(sp.duration_ms))));
  }

  async function select(i) {
    selected = i;
    draw();
    const sp = span(i);
    history.replaceState(null, "", hashFor(`trace/${traceId}`, { span: sp.span_id }));
    clear(panel).append(h("p", { class: "muted" }, "Loading span…"));
    try {
      const detail = await getJSON(`/api/traces/${traceId}/spans/${sp.span_id}`);
      if (selected === i) renderSpanPanel(panel, detail, traceId);
    } catch (err) {
      clear(panel).append(errorBox(err));
    }
  }

  viewport.addEventListener("scroll", () => window.requestAnimationFrame(draw), { passive: true });
  viewport.addEventListener("keydown", (e) => {
    const at = visible.indexOf(selected);
    if (e.key === "ArrowDown" && at < visible.length - 1) { e.preventDefault(); select(visible[at + 1]); }
    if (e.key === "ArrowUp" && at > 0) { e.preventDefault(); select(visible[at - 1]); }
  });
  window.addEventListener("resize", draw);
  // The rows in view are drawn first; computeVisible is one pass over the spans, no objects.
  refresh();
  performance.mark("trace:rows");
  if (selected >= 0) {
    viewport.scrollTop = Math.max(0, visible.indexOf(selected) * ROW_H - 100);
    select(selected);
  } else {
    panel.append(h("h2", null, "Trace"), h("p", { class: "muted" }, "Select a span to see its inputs, outputs and costs."),
      scoreList(data.scores), scoreForm(traceId, null));
  }
  return () => window.removeEventListener("resize", draw);
}

function header(data) {
  const t = data.trace;
  const rootName = data.span_columns.name[0];
  const name = t ? t.name : rootName ?? data.trace_id;
  const fields = t ? [
    ["Status", statusBadge(t.status)],
    ["Started", fmtTime(t.start_time)],
    ["Duration", fmtMs(t.duration_ms)],
    ["Spans", fmtNum(t.span_count)],
    ["Errors", fmtNum(t.error_count)],
    ["Tokens", `${fmtNum(t.input_tokens)} in / ${fmtNum(t.output_tokens)} out`],
    ["Cost", fmtCost(t.cost_usd)],
    ["Models", t.models.join(", ") || "–"],
    ["Project", `${t.project} / ${t.environment}`],
    ["User", t.user_id ? h("a", { href: hashFor(`session/${encodeURIComponent(t.user_id)}`, { by: "user", ...aroundTrace(t.start_time) }) }, t.user_id) : "–"],
    ["Session", t.session_id ? h("a", { href: hashFor(`session/${encodeURIComponent(t.session_id)}`, aroundTrace(t.start_time)) }, t.session_id) : "–"],
    ["Tags", t.tags.length ? t.tags.map((tag) => badge(tag, "tag")) : "–"],
  ] : [["Status", h("span", { class: "muted" }, "in progress (no trace row yet)")], ["Started", fmtTime(data.start_time)]];
  return h("div", { class: "trace-header" },
    h("div", { class: "crumbs" }, h("a", { href: "#/traces" }, "Traces"), " / ", h("code", null, data.trace_id)),
    h("h1", null, name),
    h("dl", { class: "facts" }, fields.map(([k, v]) => h("div", null, h("dt", null, k), h("dd", null, v)))),
    data.anomalies.length ? h("p", { class: "anomaly-note" },
      `${data.anomalies.length} anomaly window(s) overlap this trace: `,
      data.anomalies.map((a) => badge(`${a.kind} ${a.name} ${a.metric} ${a.severity}`, "anom"))) : null);
}

function axis(total) {
  const step = niceStep(total / 5);
  const ticks = [];
  for (let t = 0; t <= total + 1e-9; t += step) ticks.push(t);
  return s("svg", { class: "axis", width: "100%", height: "20", preserveAspectRatio: "none" },
    ticks.map((t) => s("g", null,
      s("line", { x1: `${(t / total) * 100}%`, x2: `${(t / total) * 100}%`, y1: 14, y2: 20, stroke: "currentColor" }),
      s("text", { x: `${Math.min((t / total) * 100, 96)}%`, y: 11, "font-size": 10 }, fmtMs(t)))));
}

function niceStep(raw) {
  const pow = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-6)));
  for (const m of [1, 2, 5, 10]) if (raw <= m * pow) return m * pow;
  return 10 * pow;
}
