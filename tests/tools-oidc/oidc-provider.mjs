// A real OpenID provider (panva/oidc-provider 9) for mlflowd's native-login tests
// (sso-and-deploy.md §6.4, level 2). Its paths are not Keycloak's (/.well-known/openid-configuration,
// /jwks, /auth, /token, /session/end), which proves mlflowd follows discovery.
//
//   node oidc-provider.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI POST_LOGOUT_URI
//
// Development interactions are on: the login form takes any username (it becomes `sub`) and any
// password. Users' roles and groups come from the table below (Keycloak-shaped claims, also in
// the ID token: conformIdTokenClaims is off).
import crypto from 'node:crypto';
import Provider from 'oidc-provider';

const [port, clientId, clientSecret, redirectUri, postLogoutUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

const directory = {
  'oidc-admin': { roles: ['mlflow-admin'], groups: [] },
  'oidc-editor': { roles: ['editor'], groups: ['/data-science'] },
  'oidc-viewer': { roles: ['viewer'], groups: [] },
};

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'op-1', use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    post_logout_redirect_uris: [postLogoutUri],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [signingKey] },
  cookies: { keys: ['mlflowd-test-cookie-key'] },
  claims: {
    openid: ['sub'],
    profile: ['preferred_username'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
    roles: ['realm_access', 'resource_access'],
  },
  scopes: ['openid', 'offline_access', 'profile', 'email', 'groups', 'roles'],
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  async findAccount(ctx, id) {
    const entry = directory[id] || { roles: [], groups: [] };
    return {
      accountId: id,
      async claims() {
        return {
          sub: id, preferred_username: id, email: `${id}@example.test`, email_verified: true,
          groups: entry.groups, realm_access: { roles: entry.roles }, resource_access: {},
        };
      },
    };
  },
});
provider.proxy = false;
const server = provider.listen(Number(port), '127.0.0.1', () => console.log(`oidc-provider on ${issuer}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
