// The read API, as the pages use it (the same endpoints documented at /api/openapi.json).
import { takeEarly } from "./early.js";

export async function getJSON(path, params) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== "" && value !== null && value !== undefined) url.searchParams.set(key, value);
  }
  const early = takeEarly(url.pathname + url.search);
  const response = await (early || fetch(url, { headers: { Accept: "application/json" } }));
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

export async function postJSON(path, payload) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(payload),
  });
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

// Route state lives in the hash: "#/traces?status=error" -> ["traces", {status: "error"}].
export function parseHash() {
  const raw = window.location.hash.replace(/^#\/?/, "");
  const [path, query] = raw.split("?", 2);
  const params = Object.fromEntries(new URLSearchParams(query || ""));
  return { parts: (path || "traces").split("/").map(decodeURIComponent), params };
}

export function hashFor(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== "" && value !== null && value !== undefined) query.set(key, value);
  }
  const text = query.toString();
  return `#/${path}${text ? `?${text}` : ""}`;
}
