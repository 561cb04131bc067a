// A real OAuth 2.0 authorization server (oidc-provider, a certified OpenID provider from
// npm) and an MCP server that accepts only its tokens, for tests/oauth_upstream.rs.
//
//   node oauth_server.mjs <upstream MCP url> <token lifetime, seconds>
//
// Prints `LISTENING <as host:port> <mcp host:port>` and exits when stdin closes (or
// after 10 minutes). On 127.0.0.1 only.
//
// - The authorization server (issuer http://<as>) has two confidential clients for the
//   client-credentials grant: `meshgate-post` (client_secret_post) and `meshgate-basic`
//   (client_secret_basic); secrets `post-secret-0042` / `basic-secret-0042`. Tokens are
//   opaque, for the resource `http://<mcp>/mcp` (RFC 8707) with scope `tools`.
// - The MCP server at http://<mcp>/mcp checks each request's bearer token with the
//   provider (valid, unexpired, for this resource) and then relays the request to the
//   upstream MCP url; otherwise 401 with `WWW-Authenticate: Bearer resource_metadata=…`.
//   It serves its RFC 9728 metadata at /.well-known/oauth-protected-resource/mcp.
// - Control: GET /__stats (on the MCP port) → {token_requests, accepted, rejected,
//   seen: [authorization values' first 12 characters]}; POST /__revoke → every token
//   issued so far is revoked; POST /__token_endpoint/down and /up → the token
//   endpoint answers 503 while down.
import http from "node:http";
import Provider from "oidc-provider";

const [upstream, lifetime] = [process.argv[2], Number(process.argv[3] || 3600)];
const listen = (server) =>
  new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));

const mcpServer = http.createServer();
const asServer = http.createServer();
const [mcpPort, asPort] = [await listen(mcpServer), await listen(asServer)];
const issuer = `http://127.0.0.1:${asPort}`;
const resource = `http://127.0.0.1:${mcpPort}/mcp`;

const stats = { token_requests: 0, accepted: 0, rejected: 0, seen: [] };
const issued = [];
let tokenEndpointDown = false;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: "meshgate-post",
      client_secret: "post-secret-0042",
      grant_types: ["client_credentials"],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: "client_secret_post",
      scope: "tools",
    },
    {
      client_id: "meshgate-basic",
      client_secret: "basic-secret-0042",
      grant_types: ["client_credentials"],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: "client_secret_basic",
      scope: "tools",
    },
  ],
  scopes: ["tools"],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => resource,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, indicator) => {
        if (indicator !== resource) throw new Provider.errors.InvalidTarget();
        return { scope: "tools", audience: resource, accessTokenTTL: lifetime, accessTokenFormat: "opaque" };
      },
    },
  },
});
provider.proxy = false;
provider.on("server_error", (_ctx, err) => console.error("oidc-provider:", err));
provider.on("client_credentials.saved", (token) => {
  stats.token_requests += 1;
  issued.push(token.jti);
});
provider.use(async (ctx, next) => {
  if (tokenEndpointDown && ctx.path === "/token") {
    ctx.status = 503;
    ctx.body = { error: "temporarily_unavailable" };
    return;
  }
  await next();
});
asServer.on("request", provider.callback());

async function tokenOk(authorization) {
  const m = /^Bearer (.+)$/.exec(authorization || "");
  if (!m) return false;
  const token = await provider.ClientCredentials.find(m[1]);
  return Boolean(token && !token.isExpired && token.aud === resource);
}

function relay(req, res) {
  const target = new URL(upstream);
  const headers = { ...req.headers, host: target.host };
  delete headers.authorization;
  const out = http.request(
    { host: target.hostname, port: target.port, path: target.pathname, method: req.method, headers },
    (up) => {
      res.writeHead(up.statusCode, up.headers);
      up.pipe(res);
    },
  );
  out.on("error", () => {
    res.writeHead(502);
    res.end();
  });
  req.pipe(out);
}

mcpServer.on("request", async (req, res) => {
  const json = (status, body) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  if (req.url === "/__stats") return json(200, stats);
  if (req.url === "/__revoke" && req.method === "POST") {
    for (const jti of issued.splice(0)) {
      const token = await provider.ClientCredentials.find(jti);
      if (token) await token.destroy();
    }
    return json(200, { revoked: true });
  }
  if (req.url.startsWith("/__token_endpoint/") && req.method === "POST") {
    tokenEndpointDown = req.url.endsWith("/down");
    return json(200, { down: tokenEndpointDown });
  }
  if (req.url.startsWith("/.well-known/oauth-protected-resource")) {
    return json(200, { resource, authorization_servers: [issuer], scopes_supported: ["tools"] });
  }
  if (!req.url.startsWith("/mcp")) return json(404, { error: "not found" });
  stats.seen.push(String(req.headers.authorization || "").slice(0, 12));
  if (!(await tokenOk(req.headers.authorization))) {
    stats.rejected += 1;
    res.writeHead(401, {
      "www-authenticate": `Bearer resource_metadata="http://127.0.0.1:${mcpPort}/.well-known/oauth-protected-resource/mcp"`,
      "content-type": "application/json",
    });
    return res.end(JSON.stringify({ error: "invalid_token" }));
  }
  stats.accepted += 1;
  relay(req, res);
});

console.log(`LISTENING 127.0.0.1:${asPort} 127.0.0.1:${mcpPort}`);
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
setTimeout(() => process.exit(0), 10 * 60 * 1000).unref();
