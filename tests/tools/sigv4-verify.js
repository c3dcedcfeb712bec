// sigv4-verify.js — the SigV4 checks the S3 test servers share (s3-verify-proxy.js in front of
// s3rver, minio-admin-fake.js): the Authorization header's parts, the query as S3 reads it, and
// the signature AWS's own signer (@smithy/signature-v4, the one in the AWS SDK for JavaScript)
// makes for a request with the given secret.
'use strict';

const { SignatureV4 } = require('@smithy/signature-v4');
const { Hash } = require('@smithy/hash-node');

const AUTH_RE =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

// The Authorization header's parts, or null when it is not SigV4's.
function parseAuthorization(header) {
  const m = AUTH_RE.exec(header || '');
  if (!m) return null;
  const [, accessKeyId, day, region, service, signedHeaders, signature] = m;
  return { accessKeyId, day, region, service, signedHeaders: signedHeaders.split(';'), signature };
}

// The query as S3 reads it: each name and value %-decoded once ('+' is a plus); a repeated
// name collects its values in a list.
function parseQuery(raw) {
  const query = {};
  for (const pair of raw ? raw.split('&') : []) {
    const eq = pair.indexOf('=');
    const key = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1));
    query[key] = key in query ? [].concat(query[key], value) : value;
  }
  return query;
}

function signingDate(amzDate) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate || '');
  return m ? new Date(Date.UTC(+m[1], m[2] - 1, +m[3], +m[4], +m[5], +m[6])) : null;
}

// The hex signature AWS's signer makes for `req` (its method, URL and the signed headers
// `auth` names, which must all be present) with this secret at `date`.
async function expectedSignature(req, auth, secretAccessKey, date) {
  const headers = {};
  for (const name of auth.signedHeaders) headers[name] = req.headers[name];
  const q = req.url.indexOf('?');
  const signer = new SignatureV4({
    credentials: { accessKeyId: auth.accessKeyId, secretAccessKey },
    region: auth.region,
    service: auth.service,
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: false, // S3: the path is signed as sent, encoded once
    applyChecksum: false,
  });
  const signed = await signer.sign({
    method: req.method,
    protocol: 'http:',
    hostname: (req.headers.host || '').split(':')[0],
    path: q < 0 ? req.url : req.url.slice(0, q),
    query: parseQuery(q < 0 ? '' : req.url.slice(q + 1)),
    headers,
  }, { signingDate: date });
  return /Signature=([0-9a-f]{64})/.exec(signed.headers.authorization)[1];
}

// The hex signature AWS's signer makes for the presigned URL `req` came with (query-string
// SigV4, as S3 presigners make it: only the host signed, the payload unsigned), from the
// URL's own X-Amz-Credential, X-Amz-Date and X-Amz-Expires and this secret.
async function expectedPresignedSignature(req, query, secretAccessKey) {
  const [accessKeyId, , region, service] = String(query['X-Amz-Credential']).split('/');
  const q = req.url.indexOf('?');
  const rest = { ...query };
  delete rest['X-Amz-Signature'];
  const signer = new SignatureV4({
    credentials: { accessKeyId, secretAccessKey, sessionToken: query['X-Amz-Security-Token'] },
    region,
    service,
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: false,
    applyChecksum: false,
  });
  const unsigned = new Set(['x-amz-content-sha256']);
  const presigned = await signer.presign({
    method: req.method,
    protocol: 'http:',
    hostname: (req.headers.host || '').split(':')[0],
    path: req.url.slice(0, q),
    query: rest,
    headers: { host: req.headers.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
  }, {
    signingDate: signingDate(query['X-Amz-Date']),
    expiresIn: Number(query['X-Amz-Expires']),
    unhoistableHeaders: unsigned,
    unsignableHeaders: unsigned,
  });
  return presigned.query['X-Amz-Signature'];
}

module.exports = {
  parseAuthorization, parseQuery, signingDate, expectedSignature, expectedPresignedSignature,
};
