// A real OpenID provider for the console's tests: the certified `oidc-provider` package,
// with its own login and consent pages (development interactions), one static client
// (the console: client_secret_basic, PKCE S256 required) and a few test accounts, each
// account's login being its `sub`. Configured by the environment:
//   OIDC_PORT           the loopback port to listen on (the issuer is http://127.0.0.1:PORT)
//   OIDC_CLIENT_ID      the console's client id
//   OIDC_CLIENT_SECRET  its secret
//   OIDC_REDIRECT_URIS  the console's callback URLs, separated by spaces
//   OIDC_ACCOUNTS       the accounts' logins (their subs), separated by spaces
import { createServer } from "node:http";
import { generateKeyPairSync, randomBytes } from "node:crypto";

import Provider from "oidc-provider";

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
const accounts = new Set((process.env.OIDC_ACCOUNTS || "").split(" ").filter(Boolean));
const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: "jwk" }), use: "sig", alg: "RS256", kid: "test-1" };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: process.env.OIDC_CLIENT_ID,
      client_secret: process.env.OIDC_CLIENT_SECRET,
      redirect_uris: (process.env.OIDC_REDIRECT_URIS || "").split(" ").filter(Boolean),
      response_types: ["code"],
      grant_types: ["authorization_code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  pkce: { required: () => true },
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString("hex")] },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    if (!accounts.has(id)) {
      return undefined;
    }
    return { accountId: id, async claims() { return { sub: id }; } };
  },
});
provider.on("server_error", (ctx, error) => console.error("server_error", error));

createServer(provider.callback()).listen(port, "127.0.0.1", () => {
  console.log(`listening on ${issuer}`);
});
