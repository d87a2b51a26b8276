// The response to a request index.html's head already sent (the Trace page's data,
// asked for before any module loaded), for the one getJSON that asks for the same
// path and query; any later visit fetches afresh.
export function takeEarly(pathAndQuery) {
  const early = window.tracestreamEarly;
  if (!early || early.path !== pathAndQuery) return undefined;
  window.tracestreamEarly = undefined;
  return early.response;
}
