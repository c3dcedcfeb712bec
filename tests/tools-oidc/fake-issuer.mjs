// A Keycloak-shaped OIDC issuer for mlflowd's SSO tests (sso-and-deploy.md §6.4, level 1).
//
//   node fake-issuer.mjs PORT
//
// Serves, on 127.0.0.1:PORT, Keycloak's paths for realm "test":
//   /realms/test/.well-known/openid-configuration, /realms/test/protocol/openid-connect/certs
//   (JWKS: the RS256 key k1, an EC P-256 key e1, a 1024-bit RSA key "weak", and a `use: enc`
//   decoy), .../auth (answers at once with a code, no login page), .../token (authorization
//   code with PKCE S256, refresh_token), .../logout.
// Test controls (JSON):
//   POST /control/mint    {claims, header, key, variant, omit} -> {token}
//                         claims override the Keycloak-like defaults (null deletes one);
//                         key: k1 (default), k2 (published only after rotate), e1, weak, rogue;
//                         variant: none | hs256-pubkey | jwe | pad (16 KiB+) | jwk-header | crit
//   POST /control/rotate  publishes k2 next to k1
//   GET  /control/counts  {jwks, discovery, token}
//   POST /control/fail    {discovery, jwks}: discovery answers 503 / the JWKS a 200 with no keys
//                         (jwks: "huge": a 200 of 2 MiB)
//   POST /control/user    {sub, preferred_username, roles, groups} the identity .../auth signs in
//   POST /control/delay   {refresh_ms}: refresh-token grants answer that much later
import crypto from 'node:crypto';
import http from 'node:http';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';

const port = Number(process.argv[2] || 0);
const base = `http://127.0.0.1:${port}`;
const issuer = `${base}/realms/test`;
const oidc = `${issuer}/protocol/openid-connect`;

const keys = {
  k1: await generateKeyPair('RS256', { extractable: true }),
  k2: await generateKeyPair('RS256', { extractable: true }),
  e1: await generateKeyPair('ES256', { extractable: true }),
  weak: crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }), // jose refuses to make one
  rogue: await generateKeyPair('RS256', { extractable: true }),
  enc: await generateKeyPair('RSA-OAEP', { extractable: true }),
};
const algOf = { k1: 'RS256', k2: 'RS256', e1: 'ES256', weak: 'RS256', rogue: 'RS256' };
let published = ['k1', 'e1', 'weak'];
const counts = { jwks: 0, discovery: 0, token: 0 };
// Failures to play (POST /control/fail): discovery answers 503, the JWKS a 200 without keys.
let fail = { discovery: false, jwks: false };
let user = { sub: 'sub-native-1', preferred_username: 'native-user', roles: ['editor'], groups: [] };
const codes = new Map(); // code -> {challenge, nonce, client_id, redirect_uri}
const refreshTokens = new Map(); // refresh token -> sub
let refreshDelayMs = 0;

async function publicJwk(name) {
  const jwk = await exportJWK(keys[name].publicKey);
  return { ...jwk, kid: name, use: 'sig', alg: algOf[name] };
}

async function jwks() {
  const out = [];
  for (const name of published) out.push(await publicJwk(name));
  const enc = await exportJWK(keys.enc.publicKey);
  out.push({ ...enc, kid: 'enc1', use: 'enc', alg: 'RSA-OAEP' });
  return { keys: out };
}

const keyObject = (k) => (k instanceof crypto.KeyObject ? k : crypto.KeyObject.from(k));
const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

function defaults() {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: issuer, aud: ['mlflow', 'account'], azp: 'mlflow', sub: 'sub-alice', typ: 'Bearer',
    iat: now, exp: now + 300, jti: crypto.randomUUID(),
    preferred_username: 'alice', email: 'alice@example.test', email_verified: true,
    realm_access: { roles: ['offline_access'] },
    resource_access: { mlflow: { roles: [] }, account: { roles: ['view-profile'] } },
    groups: [],
  };
}

async function mint({ claims = {}, header = {}, key = 'k1', variant = '' } = {}) {
  const payload = defaults();
  for (const [k, v] of Object.entries(claims)) {
    if (v === null) delete payload[k];
    else payload[k] = v;
  }
  if (variant === 'pad') payload.padding = 'x'.repeat(17 * 1024);
  const alg = algOf[key] || 'RS256';
  const hdr = { alg, typ: 'JWT', kid: key, ...header };
  if (variant === 'none') return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`;
  if (variant === 'jwe') return `${b64({ alg: 'RSA-OAEP', enc: 'A256GCM', kid: 'enc1' })}.a.b.c.d`;
  if (variant === 'hs256-pubkey') {
    // Classic alg confusion: HMAC keyed with the RSA public key's PEM (and its JWK's bytes).
    const pem = keyObject(keys.k1.publicKey).export({ type: 'spki', format: 'pem' });
    const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: 'k1' })}.${b64(payload)}`;
    return `${input}.${crypto.createHmac('sha256', pem).update(input).digest('base64url')}`;
  }
  if (variant === 'jwk-header') {
    // Signed by a key of the attacker's, which the header offers as `jwk` (and jku/x5u).
    hdr.jwk = await exportJWK(keys.rogue.publicKey);
    hdr.jku = `${base}/rogue-jwks`;
    hdr.x5u = `${base}/rogue-cert`;
    key = 'rogue';
  }
  if (variant === 'crit') {
    hdr.crit = ['exp'];
    hdr.exp = payload.exp;
  }
  // Manual signing: jose would refuse the crit header we want to send.
  const input = `${b64(hdr)}.${b64(payload)}`;
  const signer = alg === 'ES256'
    ? crypto.sign('sha256', Buffer.from(input), { key: keyObject(keys[key].privateKey), dsaEncoding: 'ieee-p1363' })
    : crypto.sign('sha256', Buffer.from(input), keyObject(keys[key].privateKey));
  return `${input}.${signer.toString('base64url')}`;
}

async function idToken(sub, nonce, clientId) {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: issuer, aud: clientId, azp: clientId, sub, typ: 'ID', iat: now, exp: now + 60,
    preferred_username: user.preferred_username, email: `${user.preferred_username}@example.test`,
    realm_access: { roles: user.roles }, groups: user.groups,
  };
  if (nonce) claims.nonce = nonce;
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(keys.k1.privateKey);
}

function send(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': typeof body === 'string' ? 'text/plain' : 'application/json', ...headers });
  res.end(text);
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks).toString();
}

async function token(req, res, form) {
  counts.token++;
  const auth = req.headers.authorization || '';
  const [id, secret] = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString().split(':');
  if (decodeURIComponent(id || '') !== 'mlflow' || decodeURIComponent(secret || '') !== 'client-secret')
    return send(res, 401, { error: 'invalid_client' });
  if (form.get('grant_type') === 'authorization_code') {
    const c = codes.get(form.get('code'));
    codes.delete(form.get('code'));
    const challenge = crypto.createHash('sha256').update(form.get('code_verifier') || '').digest('base64url');
    if (!c || c.challenge !== challenge || c.redirect_uri !== form.get('redirect_uri'))
      return send(res, 400, { error: 'invalid_grant' });
    const refresh = crypto.randomUUID();
    refreshTokens.set(refresh, user.sub);
    return send(res, 200, { access_token: 'opaque', token_type: 'Bearer', expires_in: 60,
      id_token: await idToken(user.sub, c.nonce, 'mlflow'), refresh_token: refresh });
  }
  if (form.get('grant_type') === 'refresh_token') {
    if (refreshDelayMs) await new Promise((done) => setTimeout(done, refreshDelayMs));
    const sub = refreshTokens.get(form.get('refresh_token'));
    if (!sub) return send(res, 400, { error: 'invalid_grant' });
    return send(res, 200, { access_token: 'opaque', token_type: 'Bearer', expires_in: 60,
      id_token: await idToken(sub, null, 'mlflow') });
  }
  return send(res, 400, { error: 'unsupported_grant_type' });
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, base);
    const path = url.pathname;
    if (path === '/realms/test/.well-known/openid-configuration') {
      counts.discovery++;
      if (fail.discovery) return send(res, 503, 'unavailable');
      return send(res, 200, {
        issuer, jwks_uri: `${oidc}/certs`, authorization_endpoint: `${oidc}/auth`,
        token_endpoint: `${oidc}/token`, end_session_endpoint: `${oidc}/logout`,
        userinfo_endpoint: `${oidc}/userinfo`, id_token_signing_alg_values_supported: ['RS256'],
      });
    }
    if (path === `/realms/test/protocol/openid-connect/certs`) {
      counts.jwks++;
      if (fail.jwks === 'huge') return send(res, 200, { keys: [], pad: 'x'.repeat(2 << 20) });
      if (fail.jwks) return send(res, 200, { keys: 'garbage' });
      return send(res, 200, await jwks());
    }
    if (path === `/realms/test/protocol/openid-connect/auth`) {
      const q = url.searchParams;
      if (q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge') || !q.get('state') || !q.get('nonce'))
        return send(res, 400, 'PKCE S256, state and nonce are required');
      const code = crypto.randomUUID();
      codes.set(code, { challenge: q.get('code_challenge'), nonce: q.get('nonce'), redirect_uri: q.get('redirect_uri') });
      const to = new URL(q.get('redirect_uri'));
      to.searchParams.set('code', code);
      to.searchParams.set('state', q.get('state'));
      res.writeHead(302, { Location: to.toString() });
      return res.end();
    }
    if (path === `/realms/test/protocol/openid-connect/token` && req.method === 'POST')
      return token(req, res, new URLSearchParams(await readBody(req)));
    if (path === '/redirect-certs') { // a JWKS location that redirects: must not be followed
      res.writeHead(302, { Location: `${oidc}/certs` });
      return res.end();
    }
    if (path === `/realms/test/protocol/openid-connect/logout`) return send(res, 200, 'logged out');
    if (path === '/control/mint') return send(res, 200, { token: await mint(JSON.parse((await readBody(req)) || '{}')) });
    if (path === '/control/rotate') {
      if (!published.includes('k2')) published.push('k2');
      return send(res, 200, { keys: published });
    }
    if (path === '/control/counts') return send(res, 200, counts);
    if (path === '/control/fail') {
      fail = { discovery: false, jwks: false, ...JSON.parse((await readBody(req)) || '{}') };
      return send(res, 200, fail);
    }
    if (path === '/control/delay') {
      refreshDelayMs = Number(JSON.parse((await readBody(req)) || '{}').refresh_ms || 0);
      return send(res, 200, { refresh_ms: refreshDelayMs });
    }
    if (path === '/control/user') {
      user = { ...user, ...JSON.parse(await readBody(req)) };
      return send(res, 200, user);
    }
    return send(res, 404, 'not found');
  } catch (e) {
    return send(res, 500, String(e && e.stack || e));
  }
});
server.listen(port, '127.0.0.1', () => console.log(`fake issuer on ${base}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
