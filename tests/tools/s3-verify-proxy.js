// s3-verify-proxy.js — a SigV4-checking front for s3rver (sso-and-deploy.md §6.3, item 2).
//
// s3rver accepts any SigV4 signature. This proxy, on 127.0.0.1, recomputes the signature of
// every request with AWS's own signer (@smithy/signature-v4, the one in the AWS SDK for
// JavaScript): same credentials, the region and service of the request's credential scope, its
// x-amz-date and its signed headers; for a presigned URL (query-string SigV4, the parts of a
// proxied multipart upload), those of its X-Amz-* parameters, and its expiry. A request it cannot verify gets S3's 403
// SignatureDoesNotMatch (or 400 XAmzContentSHA256Mismatch / BadDigest for a body that is not the
// one signed) and never reaches s3rver; the others are passed on unchanged. One line per request
// on stdout: "ok METHOD PATH" or "refused CODE METHOD PATH: why".
//
//   node s3-verify-proxy.js LISTEN_PORT S3RVER_PORT [ACCESS_KEY SECRET]   (S3RVER S3RVER)
'use strict';

const crypto = require('crypto');
const http = require('http');
const {
  parseAuthorization, parseQuery, signingDate, expectedSignature, expectedPresignedSignature,
} = require('./sigv4-verify');

const [listenPort, upstreamPort] = process.argv.slice(2, 4).map(Number);
const accessKeyId = process.argv[4] || 'S3RVER';
const secretAccessKey = process.argv[5] || 'S3RVER';
const SKEW_MS = 15 * 60 * 1000; // S3's RequestTimeTooSkewed limit

function refuse(req, res, status, code, why) {
  console.log(`refused ${code} ${req.method} ${req.url}: ${why}`);
  res.writeHead(status, { 'Content-Type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
    `<Message>${why.replace(/[<&>]/g, '_')}</Message></Error>`);
}

// Why the signature of `req` is wrong, or null when it is the one AWS's signer makes.
async function checkSignature(req) {
  const auth = parseAuthorization(req.headers.authorization);
  if (!auth) return ['AccessDenied', 'no SigV4 Authorization header'];
  if (auth.accessKeyId !== accessKeyId)
    return ['InvalidAccessKeyId', `unknown access key ${auth.accessKeyId}`];
  const date = signingDate(req.headers['x-amz-date']);
  if (!date) return ['AccessDenied', 'no valid x-amz-date header'];
  if (Math.abs(Date.now() - date.getTime()) > SKEW_MS) return ['RequestTimeTooSkewed', 'date'];
  if (req.headers['x-amz-date'].slice(0, 8) !== auth.day) return ['SignatureDoesNotMatch', 'scope date'];
  if (!('x-amz-content-sha256' in req.headers))
    return ['InvalidRequest', 'x-amz-content-sha256 is missing'];
  const names = auth.signedHeaders;
  for (const required of ['host', 'x-amz-date', 'x-amz-content-sha256'])
    if (!names.includes(required)) return ['AccessDenied', `${required} is not signed`];
  for (const name of Object.keys(req.headers))
    if (name.startsWith('x-amz-') && !names.includes(name))
      return ['AccessDenied', `header ${name} is not signed`];
  for (const name of names)
    if (!(name in req.headers)) return ['SignatureDoesNotMatch', `signed header ${name} absent`];
  const want = await expectedSignature(req, auth, secretAccessKey, date);
  if (want !== auth.signature)
    return ['SignatureDoesNotMatch', `signature ${auth.signature}, want ${want}`];
  return null;
}

function presignedQuery(req) {
  const q = req.url.indexOf('?');
  const query = parseQuery(q < 0 ? '' : req.url.slice(q + 1));
  return 'X-Amz-Algorithm' in query ? query : null;
}

// The same for a presigned URL (query-string SigV4), as S3 checks one.
async function checkPresigned(req, query) {
  if (req.headers.authorization) return ['InvalidArgument', 'two authentication mechanisms'];
  if (query['X-Amz-Algorithm'] !== 'AWS4-HMAC-SHA256') return ['AuthorizationQueryParametersError', 'algorithm'];
  const credential = String(query['X-Amz-Credential'] || '').split('/');
  if (credential.length !== 5 || credential[4] !== 'aws4_request')
    return ['AuthorizationQueryParametersError', 'X-Amz-Credential'];
  if (credential[0] !== accessKeyId) return ['InvalidAccessKeyId', `unknown access key ${credential[0]}`];
  const date = signingDate(query['X-Amz-Date']);
  if (!date || query['X-Amz-Date'].slice(0, 8) !== credential[1])
    return ['AuthorizationQueryParametersError', 'X-Amz-Date'];
  const expires = Number(query['X-Amz-Expires']);
  if (!Number.isInteger(expires) || expires < 1 || expires > 604800)
    return ['AuthorizationQueryParametersError', 'X-Amz-Expires'];
  if (Date.now() > date.getTime() + expires * 1000) return ['AccessDenied', 'Request has expired'];
  if (date.getTime() - Date.now() > SKEW_MS) return ['RequestTimeTooSkewed', 'date'];
  if (query['X-Amz-SignedHeaders'] !== 'host') return ['AccessDenied', 'signed headers other than host'];
  const want = await expectedPresignedSignature(req, query, secretAccessKey);
  if (want !== query['X-Amz-Signature'])
    return ['SignatureDoesNotMatch', `signature ${query['X-Amz-Signature']}, want ${want}`];
  return null;
}

// s3rver is not S3 in one respect that matters to concurrency tests: a PUT truncates and
// rewrites the object file in place, and answers before that file is flushed. Two PUTs of one
// key can interleave, and a GET right after a 200 can read a short object. Real S3 replaces an
// object atomically. So the proxy runs the writes of one object one at a time and holds each
// PUT's answer until s3rver serves the object at the size written.
const writeQueues = new Map(); // object path -> promise of the last write queued on it

function serialized(path, work) {
  const previous = writeQueues.get(path) || Promise.resolve();
  const mine = previous.then(work, work);
  writeQueues.set(path, mine);
  mine.finally(() => {
    if (writeQueues.get(path) === mine) writeQueues.delete(path);
  });
  return mine;
}

function upstreamSize(path) {
  return new Promise((resolve) => {
    const head = http.request(
      { host: '127.0.0.1', port: upstreamPort, method: 'HEAD', path },
      (answer) => {
        answer.resume();
        resolve(answer.statusCode === 200 ? Number(answer.headers['content-length']) : -1);
      },
    );
    head.on('error', () => resolve(-1));
    head.end();
  });
}

async function settled(path, size) {
  for (let i = 0; i < 200 && (await upstreamSize(path)) !== size; i++)
    await new Promise((wake) => setTimeout(wake, 10));
}

// s3rver ignores ListObjectsV2's encoding-type=url (and writes a key with a control character
// into its XML as it is, which no XML parser reads). S3 and MinIO then URL-encode every Key and
// Prefix (form style, '+' for a space) and add <EncodingType>url</EncodingType>; so does this.
const XML_ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function xmlUnescape(text) {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (_, e) =>
    e[0] === '#'
      ? String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10))
      : XML_ENTITIES[e]);
}

function urlEncodeListing(xml) {
  const encode = (text) =>
    encodeURIComponent(xmlUnescape(text)).replace(/%2F/g, '/').replace(/%20/g, '+');
  return xml
    .replace(/<(Key|Prefix)>([^<]*)<\/\1>/g, (_, tag, text) => `<${tag}>${encode(text)}</${tag}>`)
    .replace(/(<ListBucketResult[^>]*>)/, '$1<EncodingType>url</EncodingType>');
}

function wantsUrlEncoding(req) {
  const query = new URL(req.url, 'http://x').searchParams;
  return req.method === 'GET' && query.get('encoding-type') === 'url' && query.get('list-type') === '2';
}

// Sends the request on to s3rver; resolves once the client has its whole answer.
function forward(req, res, body) {
  return new Promise((done) => {
    const headers = { ...req.headers };
    delete headers.expect;
    const plainPut = req.method === 'PUT' && !req.url.includes('?') && !headers['x-amz-copy-source'];
    let sent = 0;
    const upstream = http.request(
      { host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers },
      (answer) => {
        const chunks = [];
        answer.on('data', (chunk) => chunks.push(chunk));
        answer.on('end', async () => {
          if (plainPut && answer.statusCode === 200) await settled(req.url, sent);
          let payload = Buffer.concat(chunks);
          const answerHeaders = { ...answer.headers };
          if (answer.statusCode === 200 && wantsUrlEncoding(req)) {
            payload = Buffer.from(urlEncodeListing(payload.toString('utf8')), 'utf8');
            answerHeaders['content-length'] = String(payload.length);
          }
          res.writeHead(answer.statusCode, answerHeaders);
          res.end(payload);
          done();
        });
      },
    );
    upstream.on('error', (err) => {
      res.writeHead(502);
      res.end(String(err));
      done();
    });
    if (body) {
      sent = body.length;
      upstream.end(body);
    } else {
      req.on('data', (chunk) => (sent += chunk.length));
      req.pipe(upstream);
    }
  });
}

// Writes (PUT, POST, DELETE) of one object go through its queue; reads go straight on.
function pass(req, res, body) {
  if (req.method === 'GET' || req.method === 'HEAD') return forward(req, res, body);
  const q = req.url.indexOf('?');
  return serialized(q < 0 ? req.url : req.url.slice(0, q), () => forward(req, res, body));
}

http
  .createServer(async (req, res) => {
    let problem;
    const presigned = presignedQuery(req);
    try {
      problem = presigned ? await checkPresigned(req, presigned) : await checkSignature(req);
    } catch (err) {
      problem = ['SignatureDoesNotMatch', `cannot check: ${err.message}`];
    }
    if (problem) {
      req.resume();
      const status = ['InvalidRequest', 'InvalidArgument', 'AuthorizationQueryParametersError']
        .includes(problem[0]) ? 400 : 403;
      return refuse(req, res, status, ...problem);
    }
    const payloadHash = req.headers['x-amz-content-sha256'];
    if (presigned || payloadHash === 'UNSIGNED-PAYLOAD') {
      console.log(`ok ${req.method} ${req.url}`);
      return pass(req, res, null);
    }
    // A signed payload: the body must be the one whose hash was signed (and match Content-MD5).
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const sha256 = crypto.createHash('sha256').update(body).digest('hex');
      if (sha256 !== payloadHash)
        return refuse(req, res, 400, 'XAmzContentSHA256Mismatch', `body hash ${sha256}`);
      const md5 = req.headers['content-md5'];
      if (md5 && md5 !== crypto.createHash('md5').update(body).digest('base64'))
        return refuse(req, res, 400, 'BadDigest', 'Content-MD5 does not match the body');
      console.log(`ok ${req.method} ${req.url}`);
      pass(req, res, body);
    });
  })
  .listen(listenPort, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${listenPort}`));
