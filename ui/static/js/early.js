// The Trace page's one big request, sent the moment the document is parsed instead of
// after every module has loaded and run: on a busy 2-core host the server's answer
// (hundreds of ms for 10,000 spans) then overlaps the module loads rather than
// following them (issue 13: a 10,000-span trace drawn within 1 s). getJSON takes the
// response from here when it asks for the same path; any later visit fetches afresh.
const pending = new Map();

const TRACE_ROUTE = /^#\/trace\/([0-9a-f]{32})(?:[?/]|$)/;
const opened = TRACE_ROUTE.exec(window.location.hash);
if (opened) {
  // The Trace page's request exactly (trace.js): getJSON finds it by this path and query.
  const path = `/api/traces/${opened[1]}?spans=columns`;
  // A failed request is getJSON's to report (it awaits this promise), not an unhandled rejection here.
  const response = fetch(path, { headers: { Accept: "application/json" } });
  response.catch(() => {});
  pending.set(path, response);
}

// The response already requested for this path and query, once; undefined otherwise.
export function takeEarly(pathAndQuery) {
  const response = pending.get(pathAndQuery);
  pending.delete(pathAndQuery);
  return response;
}
