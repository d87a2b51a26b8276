// The router: one page at a time, chosen by the location hash.
import { parseHash } from "./api.js";
import { clear, errorBox } from "./dom.js";
import { renderTraces } from "./traces.js";
import { renderTrace } from "./trace.js";
import { renderOverview } from "./overview.js";
import { renderAnomalies } from "./anomalies.js";
import { renderSessions, renderSession } from "./sessions.js";

const PAGES = {
  traces: renderTraces,
  trace: renderTrace,
  overview: renderOverview,
  anomalies: renderAnomalies,
  sessions: renderSessions,
  session: renderSession,
};

let cleanup = null;

async function route() {
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
    cleanup = (await PAGES[page](main, parts.slice(1), params)) || null;
  } catch (err) {
    main.append(errorBox(err));
  }
}

// Named point on the page's clock (bench ui's phases): every module has loaded and run.
performance.mark("app:modules");
window.addEventListener("hashchange", route);
// index.html adds this module from a script, so it may run before the body is parsed.
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", route, { once: true });
else route();
