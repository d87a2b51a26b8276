// The span panel: what one span did, from its payloads (fetched on demand).
import { postJSON } from "./api.js";
import { h, clear, fmtMs, fmtCost, fmtNum, fmtTime, statusBadge, kindBadge, badge, pretty } from "./dom.js";
import { conversation } from "./conversation.js";

export function renderSpanPanel(panel, detail, traceId) {
  const sp = detail.span;
  const section = (title, ...body) => h("section", { class: "panel-section" }, h("h3", null, title), ...body);
  const kv = (rows) => h("table", { class: "kv" }, rows.filter(([, v]) => v !== null && v !== undefined && v !== "")
    .map(([k, v]) => h("tr", null, h("th", null, k), h("td", null, v))));
  const parts = [
    h("div", { class: "panel-title" }, kindBadge(sp.kind), h("h2", null, sp.name), statusBadge(sp.status)),
    kv([["Service", sp.service], ["Span", h("code", null, sp.span_id)], ["Started", fmtTime(sp.start_time)],
      ["Duration", fmtMs(sp.duration_ms)], ["Version", sp.version]]),
  ];
  if (sp.error_type || sp.error_message) {
    parts.push(section("Error", h("div", { class: "error-box" }, h("strong", null, sp.error_type), " ", sp.error_message),
      sp.error_stack ? h("pre", { class: "stack" }, sp.error_stack) : null));
  }
  if (sp.model) {
    const params = sp.model_parameters && typeof sp.model_parameters === "object" ? Object.entries(sp.model_parameters) : [];
    parts.push(section("Model", kv([["Model", sp.model], ["Provider", sp.provider],
      ...params.map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])])));
  }
  const tokens = [["Input", sp.input_tokens], ["Output", sp.output_tokens], ["Cached (in input)", sp.cached_tokens],
    ["Cache write", sp.cache_write_tokens], ["Reasoning (in output)", sp.reasoning_tokens]].filter(([, v]) => v);
  if (tokens.length) parts.push(section("Tokens", kv(tokens.map(([k, v]) => [k, fmtNum(v)]))));
  if (sp.cost_usd !== null || sp.kind === "generation") {
    parts.push(section("Cost", sp.cost_usd === null ? h("p", { class: "muted" }, "Not priced (unknown model).")
      : kv([["Input", fmtCost(sp.cost_input_usd)], ["Output", fmtCost(sp.cost_output_usd)], ["Cached", fmtCost(sp.cost_cached_usd)],
        ["Cache write", fmtCost(sp.cost_cache_write_usd)], ["Reasoning", fmtCost(sp.cost_reasoning_usd)],
        ["Total", h("strong", null, fmtCost(sp.cost_usd))], ["Price source", sp.price_source]])));
  }
  if (sp.tool_name) {
    parts.push(section(`Tool: ${sp.tool_name}`, kv([["Call id", sp.tool_call_id]]),
      h("h4", null, "Arguments"), h("pre", { class: "json" }, pretty(sp.tool_arguments)),
      h("h4", null, "Result"), h("pre", { class: "json" }, pretty(sp.tool_result))));
  }
  if (sp.input !== null) parts.push(section("Input", conversation(sp.input, "user")));
  if (sp.output !== null) parts.push(section("Output", conversation(sp.output, "assistant")));
  if (sp.outcome_label) parts.push(section("Outcome", kv([["Label", sp.outcome_label], ["Success", String(sp.outcome_success)], ["Detail", pretty(sp.outcome_detail)]])));
  if (Array.isArray(sp.decisions) && sp.decisions.length) parts.push(section("Decisions", h("pre", { class: "json" }, pretty(sp.decisions))));
  const redactions = Array.isArray(sp.redactions) ? sp.redactions : [];
  parts.push(section("Redactions", redactions.length
    ? h("table", { class: "grid small" }, h("tr", null, h("th", null, "Detector"), h("th", null, "Field"), h("th", null, "Count")),
      redactions.map((r) => h("tr", null, h("td", null, badge(r.detector, "redact")), h("td", null, r.field), h("td", { class: "num" }, r.count))))
    : h("p", { class: "muted" }, "Nothing redacted.")));
  const attributes = Object.entries(sp.attributes || {});
  if (attributes.length) parts.push(section("Attributes", kv(attributes.map(([k, v]) => [k, pretty(v)]))));
  parts.push(section("Scores", scoreList(detail.scores), scoreForm(traceId, sp.span_id)));
  parts.push(h("details", { class: "raw" }, h("summary", null, "Raw JSON"), h("pre", { class: "json" }, JSON.stringify(sp, null, 2))));
  clear(panel).append(...parts);
}

export function scoreList(scores) {
  if (!scores || !scores.length) return h("p", { class: "muted" }, "No scores yet.");
  return h("ul", { class: "scores" }, scores.map((sc) => h("li", null,
    h("strong", null, sc.name), ": ", typeof sc.value === "boolean" ? (sc.value ? "✔ good" : "✘ bad") : String(sc.value),
    h("span", { class: "muted small" }, ` ${sc.source} · ${fmtTime(sc.timestamp)}`),
    sc.comment ? h("div", { class: "small" }, sc.comment) : null)));
}

// A score on the trace (spanId null) or a span: thumbs, a number or a label, with a comment.
export function scoreForm(traceId, spanId) {
  const status = h("span", { class: "score-status", role: "status" });
  const kind = h("select", { name: "kind", "aria-label": "score kind" },
    h("option", { value: "thumbs" }, "thumbs"), h("option", { value: "number" }, "number"), h("option", { value: "label" }, "label"));
  const name = h("input", { name: "name", value: "thumbs", size: 12, "aria-label": "score name", required: true });
  const value = h("input", { name: "value", size: 10, placeholder: "0.8 or a label", "aria-label": "score value", class: "hidden" });
  const up = h("button", { type: "submit", name: "up", value: "true", class: "thumb", "aria-label": "thumbs up" }, "✔ good");
  const down = h("button", { type: "submit", name: "down", value: "false", class: "thumb", "aria-label": "thumbs down" }, "✘ bad");
  const send = h("button", { type: "submit", name: "send", class: "hidden" }, "Add score");
  const comment = h("input", { name: "comment", placeholder: "comment (optional)", size: 24, "aria-label": "comment" });
  kind.addEventListener("change", () => {
    const thumbs = kind.value === "thumbs";
    value.classList.toggle("hidden", thumbs); send.classList.toggle("hidden", thumbs);
    up.classList.toggle("hidden", !thumbs); down.classList.toggle("hidden", !thumbs);
    name.value = { thumbs: "thumbs", number: "quality", label: "category" }[kind.value];
  });
  const form = h("form", { class: "score-form", "data-target": spanId ? "span" : "trace" },
    h("span", { class: "muted small" }, spanId ? "Score this span: " : "Score this trace: "), kind, name, value, up, down, send, comment, status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let v;
    if (kind.value === "thumbs") v = event.submitter === up;
    else if (kind.value === "number") {
      v = Number(value.value);
      if (value.value.trim() === "" || !Number.isFinite(v)) { status.textContent = "enter a number"; return; }
    } else v = value.value.trim();
    status.textContent = "sending…";
    try {
      const sent = await postJSON("/api/scores", { trace_id: traceId, span_id: spanId, name: name.value.trim(), value: v,
        comment: comment.value.trim() || null, kind: kind.value });
      status.textContent = `sent (${sent.event_id.slice(0, 8)}…); it appears once stored`;
      status.className = "score-status ok";
    } catch (err) {
      status.textContent = `not sent: ${err.message}`;
      status.className = "score-status bad";
    }
  });
  return form;
}
