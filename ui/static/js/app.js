// The router: one page at a time, chosen by the location hash.
import { parseHash } from "./api.js";
import { clear, errorBox } from "./dom.js";

// Each page's module is imported when the page is first shown: a page loads its own
// files only (the Trace page 8 of 13; each file more is a request that can wait for
// one of the browser's 6 connections). index.html preloads the ones of the first page.
const PAGES = {
  traces: async () => (await import("./traces.js")).renderTraces,
  trace: async () => (await import("./trace.js")).renderTrace,
  overview: async () => (await import("./overview.js")).renderOverview,
  anomalies: async () => (await import("./anomalies.js")).renderAnomalies,
  sessions: async () => (await import("./sessions.js")).renderSessions,
  session: async () => (await import("./sessions.js")).renderSession,
};

let cleanup = null;
let routed = 0;

async function route() {
  const turn = ++routed;
  const { parts, params } = parseHash();
  const page = PAGES[parts[0]] ? parts[0] : "traces";
  for (const link of document.querySelectorAll("nav a[data-page]")) {
    const active = link.dataset.page === page || (page === "trace" && link.dataset.page === "traces")
      || (page === "session" && link.dataset.page === "sessions");
    link.classList.toggle("active", active);
  }
  if (cleanup) cleanup();
  cleanup = null;
  const main = clear(document.getElementById("main"));
  try {
    const render = await PAGES[page]();
    // Another route began while this page's module loaded: that one draws.
    if (turn !== routed) return;
    // Named point on the page's clock (bench ui's phases): the first page's modules have run.
    if (!performance.getEntriesByName("app:modules").length) performance.mark("app:modules");
    cleanup = (await render(main, parts.slice(1), params)) || null;
  } catch (err) {
    main.append(errorBox(err));
  }
}

window.addEventListener("hashchange", route);
// index.html adds this module from a script, so it may run before the body is parsed.
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", route, { once: true });
else route();
