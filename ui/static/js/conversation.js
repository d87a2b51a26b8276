// Inputs and outputs as a conversation: roles, tool calls with arguments and results,
// reasoning. Understands OpenAI-style and GenAI-semconv-style messages; anything else
// is shown as JSON.
import { h, pretty } from "./dom.js";

function messagesOf(value, defaultRole) {
  if (value === null || value === undefined) return [];
  if (typeof value === "string") return [{ role: defaultRole, content: value }];
  if (Array.isArray(value) && value.length && value.every((m) => m && typeof m === "object" && "role" in m)) return value;
  if (typeof value === "object" && !Array.isArray(value)) {
    if ("role" in value) return [value];
    if (Array.isArray(value.messages)) return messagesOf(value.messages, defaultRole);
  }
  return null;
}

function part(p) {
  if (typeof p === "string") return h("div", { class: "msg-text" }, p);
  if (!p || typeof p !== "object") return h("pre", { class: "json" }, pretty(p));
  const type = p.type || "";
  if (type === "text" || type === "output_text" || type === "input_text") return h("div", { class: "msg-text" }, p.text ?? p.content ?? "");
  if (type === "reasoning" || type === "thinking") {
    return h("details", { class: "reasoning" }, h("summary", null, "reasoning"), h("div", { class: "msg-text" }, p.text ?? p.content ?? p.thinking ?? ""));
  }
  if (type === "tool_call" || type === "tool_use" || type === "function_call") {
    return toolCall(p.name, p.arguments ?? p.input, p.id);
  }
  if (type === "tool_call_response" || type === "tool_result" || type === "function_call_output") {
    return h("div", { class: "tool-result" }, h("span", { class: "muted small" }, `result${p.id || p.tool_use_id ? ` of ${p.id || p.tool_use_id}` : ""}`),
      h("pre", { class: "json" }, pretty(p.response ?? p.result ?? p.content ?? p.output)));
  }
  return h("pre", { class: "json" }, pretty(p));
}

function toolCall(name, args, id) {
  let parsed = args;
  if (typeof args === "string") { try { parsed = JSON.parse(args); } catch { parsed = args; } }
  return h("div", { class: "tool-call" }, h("span", { class: "tool-name" }, `⚙ ${name || "tool"}`),
    id ? h("span", { class: "muted small" }, ` ${id}`) : null, h("pre", { class: "json" }, pretty(parsed)));
}

export function conversation(value, defaultRole) {
  const messages = messagesOf(value, defaultRole);
  if (messages === null) return h("pre", { class: "json" }, pretty(value));
  return h("div", { class: "conversation" }, messages.map((m) => {
    const body = [];
    const content = m.content ?? m.parts;
    if (Array.isArray(content)) body.push(...content.map(part));
    else if (content !== undefined && content !== null && content !== "") body.push(part(typeof content === "string" ? content : content));
    for (const call of m.tool_calls || []) {
      const fn = call.function || call;
      body.push(toolCall(fn.name, fn.arguments, call.id));
    }
    const role = String(m.role || defaultRole);
    return h("div", { class: `msg role-${role.replace(/[^a-z_]/gi, "")}` },
      h("div", { class: "msg-role" }, role, m.tool_call_id ? h("span", { class: "muted small" }, ` (${m.tool_call_id})`) : null, m.name ? ` · ${m.name}` : ""),
      body);
  }));
}
