// Small DOM helpers. Every piece of stored data reaches the page as text
// nodes or attribute values, never as HTML: traces hold whatever users typed.

const SVG_NS = "http://www.w3.org/2000/svg";

function fill(el, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.setAttribute("class", value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (key === "value" && "value" in el) el.value = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function h(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

export function s(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined) return "–";
  if (ms === 0) return "0";
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60000)} m ${Math.round((ms % 60000) / 1000)} s`;
}

export function fmtCost(usd) {
  if (usd === null || usd === undefined) return "–";
  if (usd === 0) return "$0";
  if (usd < 0.01) return `$${usd.toFixed(5)}`;
  return `$${usd.toFixed(usd < 1 ? 4 : 2)}`;
}

export function fmtNum(n) {
  if (n === null || n === undefined) return "–";
  const value = Number(n);
  // Whole numbers grouped by hand: a page's first toLocaleString loads ICU's number
  // data, 16-18 ms in headless Chromium on a quiet host, in the Trace page's first draw.
  if (!Number.isSafeInteger(value)) return value.toLocaleString("en-US");
  const digits = String(Math.abs(value)).replace(/\B(?=(\d{3})+$)/g, ",");
  return value < 0 ? `-${digits}` : digits;
}

export function fmtTime(iso) {
  if (!iso) return "–";
  // "2026-11-01T10:00:00.123456Z" -> "2026-11-01 10:00:00.123" (UTC, as stored)
  return iso.replace("T", " ").replace(/(\.\d{3})\d*Z$/, "$1");
}

export function badge(text, cls) {
  return h("span", { class: `badge ${cls || ""}` }, text);
}

export function statusBadge(status) {
  return badge(status, `st-${status}`);
}

// Short labels that still read as the word (a plain 3-letter cut gave "TOO"
// for tool and "AGE" for agent); an unknown kind falls back to that cut.
const KIND_LABELS = {
  workflow: "FLOW", agent: "AGNT", step: "STEP", generation: "GEN", tool: "TOOL",
  retrieval: "RETR", reasoning: "THINK", event: "EVT",
};

export function kindBadge(kind) {
  const label = KIND_LABELS[kind] ?? kind.slice(0, 3).toUpperCase();
  return h("span", { class: `kind k-${kind}`, title: kind }, label);
}

export function pretty(value) {
  if (typeof value === "string") return value;
  return JSON.stringify(value, null, 2);
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function errorBox(err) {
  return h("div", { class: "error-box", role: "alert" }, String(err.message || err));
}
