// minio-admin-fake.js — enough of MinIO's admin REST API v3 (and one S3 call) to provision a
// bucket's user against, for tests/integration/test_admin_commands.py (no MinIO binary here).
//
// What it checks, like MinIO does:
//   - every request's SigV4 signature (service "s3", region us-east-1), recomputed with AWS's own
//     signer (@smithy/signature-v4, as s3-verify-proxy.js does) from the secret key of the access
//     key in the credential scope, and x-amz-content-sha256 against the body;
//   - admin routes only for the root user's keys (403 AccessDenied for anyone else);
//   - add-user bodies DECRYPTED here, independently of mlflowd's C code, in madmin-go's
//     EncryptData format (PBKDF2-SHA256 + AES-256-GCM, id 0x02) over sio-go's stream framing, with
//     the root secret key as password; a body that does not decrypt is 400
//     XMinioAdminConfigBadJSON, as on MinIO. The framing code is proved at start-up against
//     test vectors published in sio-go's test_vectors.json;
//   - canned policies parsed (Version required), user/policy existence for attachments.
// Routes: GET info-canned-policy, PUT add-canned-policy, GET user-info, PUT add-user,
// PUT set-user-or-group-policy (under /minio/admin/v3/), and GET /<bucket>?location signed by a
// user (allowed when an attached policy allows s3:GetBucketLocation on the bucket).
// Policies are answered re-serialized, with action and resource lists in another order than
// sent, as MinIO (which keeps them as sets) may do.
//
// Test control, unsigned, under /_fake/: GET state (policies, users with their secret keys, and
// every call with the decrypted add-user body), POST reset, POST drift (JSON merged into users
// and policies: what an operator might have changed by hand).
// One line per request on stdout: "<status> METHOD URL".
//
//   node minio-admin-fake.js PORT ROOT_ACCESS_KEY ROOT_SECRET_KEY
// Also a module: sioSeal/sioOpen/madminEncrypt/madminDecrypt (used to derive the known answers of
// tests/unit/test_madmin_crypt.c).
'use strict';

const crypto = require('crypto');
const http = require('http');

const TAG_LEN = 16;
const SIO_BUF_SIZE = 16384;
const PBKDF2_AES_GCM = 0x02;
const PBKDF2_ITERATIONS = 8192;

// --- sio-go stream framing and madmin-go EncryptData ---------------------------------------------

function gcmAlgorithm(key) {
  if (key.length === 16) return 'aes-128-gcm';
  if (key.length === 32) return 'aes-256-gcm';
  throw new Error(`no AES-GCM with a ${key.length}-byte key`);
}

// The GCM nonce of sequence number `seq`: the stream's 8-byte nonce, then seq little-endian.
function gcmNonce(nonce, seq) {
  const full = Buffer.alloc(12);
  nonce.copy(full, 0);
  full.writeUInt32LE(seq, 8);
  return full;
}

// The AAD of a fragment: the final flag, then the GCM tag of nothing under sequence 0 with the
// stream's associated data.
function fragmentAad(key, nonce, associatedData, final) {
  const c = crypto.createCipheriv(gcmAlgorithm(key), key, gcmNonce(nonce, 0));
  c.setAAD(associatedData);
  c.final();
  return Buffer.concat([Buffer.from([final ? 0x80 : 0x00]), c.getAuthTag()]);
}

function sioSeal(key, nonce, associatedData, bufSize, plaintext) {
  const out = [];
  let offset = 0;
  for (let seq = 1; ; seq++) {
    const final = plaintext.length - offset <= bufSize;
    const piece = plaintext.subarray(offset, final ? plaintext.length : offset + bufSize);
    const c = crypto.createCipheriv(gcmAlgorithm(key), key, gcmNonce(nonce, seq));
    c.setAAD(fragmentAad(key, nonce, associatedData, final));
    out.push(c.update(piece), c.final(), c.getAuthTag());
    offset += piece.length;
    if (final) return Buffer.concat(out);
  }
}

// Throws unless `sealed` is a whole, authentic stream; the last fragment must carry the final flag.
function sioOpen(key, nonce, associatedData, bufSize, sealed) {
  const out = [];
  let offset = 0;
  for (let seq = 1; ; seq++) {
    const rest = sealed.length - offset;
    if (rest < TAG_LEN) throw new Error('sio: truncated stream');
    const final = rest <= bufSize + TAG_LEN;
    const size = final ? rest : bufSize + TAG_LEN;
    const fragment = sealed.subarray(offset, offset + size);
    const d = crypto.createDecipheriv(gcmAlgorithm(key), key, gcmNonce(nonce, seq));
    d.setAAD(fragmentAad(key, nonce, associatedData, final));
    d.setAuthTag(fragment.subarray(size - TAG_LEN));
    out.push(d.update(fragment.subarray(0, size - TAG_LEN)), d.final());
    offset += size;
    if (final) return Buffer.concat(out);
  }
}

function madminKey(password, salt) {
  return crypto.pbkdf2Sync(Buffer.from(password, 'utf8'), salt, PBKDF2_ITERATIONS, 32, 'sha256');
}

// salt (32) | 0x02 | nonce (8) | sio stream (AES-256-GCM, 16 KiB fragments, no associated data)
function madminEncrypt(password, plaintext, salt = crypto.randomBytes(32), nonce = crypto.randomBytes(8)) {
  const sealed = sioSeal(madminKey(password, salt), nonce, Buffer.alloc(0), SIO_BUF_SIZE, plaintext);
  return Buffer.concat([salt, Buffer.from([PBKDF2_AES_GCM]), nonce, sealed]);
}

function madminDecrypt(password, body) {
  if (body.length < 41) throw new Error('shorter than the 41-byte header');
  const salt = body.subarray(0, 32);
  const id = body[32];
  const nonce = body.subarray(33, 41);
  if (id !== PBKDF2_AES_GCM)
    throw new Error(`algorithm id ${id}: this fake reads only the PBKDF2 + AES-GCM form (2)`);
  return sioOpen(madminKey(password, salt), nonce, Buffer.alloc(0), SIO_BUF_SIZE, body.subarray(41));
}

// sio-go test_vectors.json (AES-128-GCM): the framing here must reproduce them before serving.
const SIO_VECTORS = [
  { bufSize: 16, key: '10000000000000000000000000000000', nonce: '0000000000000002', ad: '',
    plain: '00'.repeat(17),
    sealed: '691deb7b9ccbee91f48d12c7ad5fe3cd4e1e5e7d394f06b91228ec9a5dd2456ac7de9502a0b4010fb1ee1db94e940458fb' },
  { bufSize: 16, key: '20000000000000000000000000000000', nonce: '2000000000000000', ad: '00',
    plain: '00'.repeat(32),
    sealed: 'f58d8fef7ac7782a4361a79c07f5e6c4672d8a45e6cb9ef67cb7177897358deb8d338d313d44f78e0b68a3723d7ca0fe5f62aa8af0a72e508f5d5f8491ecedb2' },
];

function selfCheck() {
  for (const v of SIO_VECTORS) {
    const [key, nonce, ad, plain] = [v.key, v.nonce, v.ad, v.plain].map((h) => Buffer.from(h, 'hex'));
    if (sioSeal(key, nonce, ad, v.bufSize, plain).toString('hex') !== v.sealed)
      throw new Error(`sio framing does not reproduce sio-go's vector ${v.sealed.slice(0, 16)}`);
    if (!sioOpen(key, nonce, ad, v.bufSize, Buffer.from(v.sealed, 'hex')).equals(plain))
      throw new Error(`sio framing does not open sio-go's vector ${v.sealed.slice(0, 16)}`);
  }
}

module.exports = { sioSeal, sioOpen, madminEncrypt, madminDecrypt };

// --- the server ---------------------------------------------------------------------------------

function serve(port, rootKey, rootSecret) {
  const { parseAuthorization, parseQuery, signingDate, expectedSignature } =
    require('./sigv4-verify');
  const REGION = 'us-east-1';
  const SKEW_MS = 15 * 60 * 1000;
  const anywhere = (...actions) => ({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: actions, Resource: ['arn:aws:s3:::*'] }],
  });
  const BUILTIN = {
    readwrite: anywhere('s3:*'),
    readonly: anywhere('s3:GetBucketLocation', 's3:GetObject'),
    writeonly: anywhere('s3:PutObject'),
  };
  let policies, users, calls;
  function reset() {
    policies = JSON.parse(JSON.stringify(BUILTIN));
    users = {};
    calls = [];
  }
  reset();

  // [status, code, message] when the signature is not the one the key's secret makes, else the
  // access key that signed.
  async function checkSignature(req, body) {
    const auth = parseAuthorization(req.headers.authorization);
    if (!auth) return [403, 'AccessDenied', 'no SigV4 Authorization header'];
    const key = auth.accessKeyId;
    const secret = key === rootKey ? rootSecret : users[key] && users[key].secretKey;
    if (secret === undefined)
      return [403, 'InvalidAccessKeyId', 'The Access Key Id you provided does not exist in our records.'];
    if (auth.region !== REGION || auth.service !== 's3')
      return [400, 'AuthorizationHeaderMalformed', `scope ${auth.region}/${auth.service}, want ${REGION}/s3`];
    const date = signingDate(req.headers['x-amz-date']);
    if (!date || req.headers['x-amz-date'].slice(0, 8) !== auth.day)
      return [403, 'AccessDenied', 'no valid x-amz-date header'];
    if (Math.abs(Date.now() - date.getTime()) > SKEW_MS)
      return [403, 'RequestTimeTooSkewed', 'date'];
    const hash = req.headers['x-amz-content-sha256'];
    if (hash !== crypto.createHash('sha256').update(body).digest('hex'))
      return [400, 'XAmzContentSHA256Mismatch', 'x-amz-content-sha256 is not the body\'s'];
    for (const required of ['host', 'x-amz-date', 'x-amz-content-sha256'])
      if (!auth.signedHeaders.includes(required))
        return [403, 'AccessDenied', `${required} is not signed`];
    for (const name of auth.signedHeaders)
      if (!(name in req.headers)) return [403, 'SignatureDoesNotMatch', `${name} absent`];
    if ((await expectedSignature(req, auth, secret, date)) !== auth.signature)
      return [403, 'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your key and signing method.'];
    return key;
  }


  const noSuchPolicy = [404, 'XMinioAdminNoSuchPolicy', 'The canned policy does not exist.'];
  const noSuchUser = [404, 'XMinioAdminNoSuchUser', 'The specified user does not exist.'];

  function asList(v) {
    return v === undefined ? [] : [].concat(v);
  }

  // MinIO keeps actions and resources as sets and may answer them in any order.
  function reserialized(doc) {
    return JSON.stringify({
      Version: doc.Version,
      Statement: asList(doc.Statement).map((s) => ({
        Effect: s.Effect,
        Action: asList(s.Action).slice().sort().reverse(),
        Resource: asList(s.Resource).slice().sort().reverse(),
      })),
    }, null, ' ');
  }

  function parsePolicy(text) {
    let doc;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      return [400, 'XMinioMalformedJSON', `policy is not JSON: ${err.message}`];
    }
    if (!doc.Version) return [400, 'XMinioAdminPolicyInvalidVersion', 'Version is empty'];
    const statements = asList(doc.Statement);
    if (!statements.length) return [400, 'XMinioMalformedJSON', 'no Statement'];
    for (const s of statements)
      if (!['Allow', 'Deny'].includes(s.Effect) || !asList(s.Action).length || !asList(s.Resource).length)
        return [400, 'XMinioMalformedJSON', 'a statement needs Effect, Action and Resource'];
    return doc;
  }

  function allows(policyNames, action, resource) {
    let allowed = false;
    for (const name of policyNames)
      for (const s of asList((policies[name] || {}).Statement)) {
        const actionMatches = asList(s.Action).some((a) => a === action || a === 's3:*');
        const resourceMatches = asList(s.Resource).some((r) => r === resource || r === 'arn:aws:s3:::*');
        if (actionMatches && resourceMatches) {
          if (s.Effect === 'Deny') return false;
          allowed = true;
        }
      }
    return allowed;
  }

  const admin = {
    'GET info-canned-policy': (q) => {
      if (!(q.name in policies)) return noSuchPolicy;
      return [200, reserialized(policies[q.name])];
    },
    'PUT add-canned-policy': (q, body, req) => {
      if (!q.name || q.name.includes(',')) return [400, 'XMinioPolicyInvalidName', 'bad name'];
      if (!(+req.headers['content-length'] > 0)) return [411, 'MissingContentLength', 'no length'];
      const doc = parsePolicy(body.toString('utf8'));
      if (Array.isArray(doc)) return doc;
      policies[q.name] = doc;
      return [200, ''];
    },
    'GET user-info': (q) => {
      const u = users[q.accessKey];
      if (!u) return noSuchUser;
      const info = { status: u.status, updatedAt: new Date().toISOString() };
      if (u.policies.length) info.policyName = u.policies.join(',');
      return [200, JSON.stringify(info)];
    },
    'PUT add-user': (q, body, req, call) => {
      if (!q.accessKey || q.accessKey === rootKey)
        return [400, 'XMinioAdminInvalidArgument', 'cannot add the root user'];
      if (!req.headers['content-length']) return [400, 'XMinioAdminConfigTooLarge', 'no length'];
      let request;
      try {
        const plain = madminDecrypt(rootSecret, body);
        call.decrypted = JSON.parse(plain.toString('utf8'));
        request = call.decrypted;
      } catch (err) {
        return [400, 'XMinioAdminConfigBadJSON', `cannot decrypt: ${err.message}`];
      }
      if (typeof request.secretKey !== 'string' || request.secretKey.length < 8)
        return [400, 'XMinioAdminInvalidSecretKey', 'secret key too short'];
      if (!['enabled', 'disabled'].includes(request.status))
        return [400, 'XMinioAdminInvalidArgument', 'status'];
      const old = users[q.accessKey];
      users[q.accessKey] = {
        secretKey: request.secretKey,
        status: request.status,
        policies: old ? old.policies : [],
      };
      return [200, ''];
    },
    'PUT set-user-or-group-policy': (q) => {
      if (q.isGroup !== 'false') return [400, 'XMinioAdminInvalidArgument', 'only users here'];
      if (!users[q.userOrGroup]) return noSuchUser;
      const names = (q.policyName || '').split(',').filter((n) => n);
      if (!names.length || names.some((n) => !(n in policies))) return noSuchPolicy;
      users[q.userOrGroup].policies = names;
      return [200, ''];
    },
  };

  function control(req, body) {
    if (req.method === 'GET' && req.url === '/_fake/state')
      return [200, JSON.stringify({ policies, users, calls })];
    if (req.method === 'POST' && req.url === '/_fake/reset') {
      reset();
      return [200, '{}'];
    }
    if (req.method === 'POST' && req.url === '/_fake/drift') {
      const drift = JSON.parse(body.toString('utf8') || '{}');
      Object.assign(policies, drift.policies || {});
      for (const [key, change] of Object.entries(drift.users || {}))
        users[key] = Object.assign(users[key] || { status: 'enabled', policies: [] }, change);
      return [200, '{}'];
    }
    return [404, JSON.stringify({ error: 'no such control' })];
  }

  async function handle(req, body) {
    if (req.url.startsWith('/_fake/')) return control(req, body);
    const q = req.url.indexOf('?');
    const path = q < 0 ? req.url : req.url.slice(0, q);
    const query = parseQuery(q < 0 ? '' : req.url.slice(q + 1));
    const call = { method: req.method, path, query };
    calls.push(call);
    const answer = await route(req, body, path, query, call);
    call.status = answer[0];
    return answer;
  }

  async function route(req, body, path, query, call) {
    const signer = await checkSignature(req, body);
    const isAdmin = path.startsWith('/minio/admin/v3/');
    if (Array.isArray(signer)) return isAdmin ? adminError(...signer, path) : s3Error(...signer, path);
    if (isAdmin) {
      if (signer !== rootKey) return adminError(403, 'AccessDenied', 'Access Denied.', path);
      const handler = admin[`${req.method} ${path.slice('/minio/admin/v3/'.length)}`];
      if (!handler) return adminError(400, 'XMinioUnknownAPIRequest', 'unknown admin API', path);
      const answer = handler(query, body, req, call);
      return answer.length === 3 ? adminError(...answer, path) : answer;
    }
    // GetBucketLocation, the one S3 call: as a user whose policies allow it on the bucket.
    const bucket = path.slice(1);
    if (req.method !== 'GET' || !('location' in query) || !/^[a-z0-9.-]{3,63}$/.test(bucket))
      return s3Error(501, 'NotImplemented', 'only GetBucketLocation here', path);
    const user = users[signer];
    if (signer !== rootKey && (!user || user.status !== 'enabled' ||
        !allows(user.policies, 's3:GetBucketLocation', `arn:aws:s3:::${bucket}`)))
      return s3Error(403, 'AccessDenied', 'Access Denied.', path);
    return [200, '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></LocationConstraint>',
    'application/xml'];
  }

  function adminError(status, code, message, path) {
    return [status, JSON.stringify({ Code: code, Message: message, Resource: path, RequestId: '', HostId: '' })];
  }

  function s3Error(status, code, message, path) {
    return [status, `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
      `<Message>${message.replace(/[<&>]/g, '_')}</Message><Resource>${path}</Resource></Error>`,
    'application/xml'];
  }

  http
    .createServer((req, res) => {
      const chunks = [];
      req.on('data', (chunk) => chunks.push(chunk));
      req.on('end', async () => {
        let answer;
        try {
          answer = await handle(req, Buffer.concat(chunks));
        } catch (err) {
          answer = [500, JSON.stringify({ Code: 'InternalError', Message: String(err) })];
        }
        const [status, text, type] = answer;
        if (!req.url.startsWith('/_fake/')) console.log(`${status} ${req.method} ${req.url}`);
        res.writeHead(status, { 'Content-Type': type || 'application/json' });
        res.end(text);
      });
    })
    .listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${port}`));
}

if (require.main === module) {
  selfCheck();
  const [port, rootKey, rootSecret] = process.argv.slice(2, 5);
  serve(Number(port), rootKey || 'minioadmin', rootSecret || 'minioadmin');
}
