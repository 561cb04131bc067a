// Preloaded into the conformance CLI (NODE_OPTIONS="--require .../inject-key.cjs") when
// it tests meshgate through the gateway: the gateway refuses every request without its
// key, and the CLI has no option for custom headers. Adds `<header>: Bearer <key>` to
// every HTTP request the process makes, unless the request already carries that header:
//   - through global fetch (the MCP SDK's client transport, the SSE scenarios), and
//   - through undici's global dispatcher (the dns-rebinding scenario uses undici.request).
// Environment: MESHGATE_CONFORMANCE_KEY (required), MESHGATE_CONFORMANCE_KEY_HEADER
// (default `authorization`; `x-litellm-api-key` works too).
"use strict";
const path = require("path");

const key = process.env.MESHGATE_CONFORMANCE_KEY;
const name = (process.env.MESHGATE_CONFORMANCE_KEY_HEADER || "authorization").toLowerCase();
const value = `Bearer ${key}`;

function hasKeyHeader(headers) {
  if (headers == null) return false;
  if (typeof headers.has === "function") return headers.has(name);
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) {
      return headers.some(([k]) => String(k).toLowerCase() === name);
    }
    for (let i = 0; i < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() === name) return true;
    }
    return false;
  }
  return Object.keys(headers).some((k) => k.toLowerCase() === name);
}

// Headers for undici's dispatch(): a plain object, a flat [k, v, …] array or pairs.
function withKey(headers) {
  if (hasKeyHeader(headers)) return headers;
  if (headers == null) return { [name]: value };
  if (typeof headers.entries === "function" && !Array.isArray(headers)) {
    return { ...Object.fromEntries(headers.entries()), [name]: value };
  }
  if (Array.isArray(headers)) {
    return headers.length > 0 && Array.isArray(headers[0])
      ? [...headers, [name, value]]
      : [...headers, name, value];
  }
  return { ...headers, [name]: value };
}

if (!key) {
  console.error("inject-key.cjs: MESHGATE_CONFORMANCE_KEY is not set; no key header added");
} else {
  const originalFetch = globalThis.fetch;
  globalThis.fetch = function fetchWithKey(input, init) {
    const base = init && init.headers !== undefined
      ? init.headers
      : input instanceof Request ? input.headers : undefined;
    const headers = new Headers(base);
    if (!headers.has(name)) headers.set(name, value);
    return originalFetch.call(this, input, { ...init, headers });
  };

  let undici = null;
  try {
    undici = require(path.join(__dirname, "node_modules", "undici"));
  } catch (e) {
    console.error(`inject-key.cjs: undici not found (${e.message}); only fetch carries the key`);
  }
  if (undici) {
    const addKey = (dispatch) => (opts, handler) =>
      dispatch({ ...opts, headers: withKey(opts.headers) }, handler);
    undici.setGlobalDispatcher(new undici.Agent().compose(addKey));
  }
}
