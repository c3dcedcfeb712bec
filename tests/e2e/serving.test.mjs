// serving.test.mjs — how src/api/ui.c serves the bundle: index.html for /,
// assets under /static-files/ with Content-Type, ETag/304, Cache-Control,
// precompressed gzip; and everything under --static-prefix, including the
// app talking to <prefix>/ajax-api/.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { launchBrowser, screenshot, Server, watchPage } from './harness.mjs';

// node's fetch decompresses and hides Content-Encoding details; use http.
function get(url, headers = {}, method = 'GET') {
  return new Promise((ok, fail) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => ok({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', fail);
    req.end();
  });
}

function configOf(html) {
  const m = html.match(/<script id="mfd-config" type="application\/json">(.*?)<\/script>/);
  assert.ok(m, 'index.html carries the config');
  return JSON.parse(m[1]);
}

describe('serving the UI', () => {
  let server;

  before(async () => {
    server = await new Server().start();
  });
  after(async () => {
    await server?.stop();
  });

  it('answers / with index.html and its config', async () => {
    const r = await get(`${server.url}/`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(r.headers['cache-control'], 'no-cache');
    assert.match(r.headers['content-security-policy'], /script-src 'self'/);
    const html = r.body.toString();
    const config = configOf(html);
    assert.equal(config.prefix, '');
    assert.equal(config.auth, false);
    assert.equal(config.sso_login_url, undefined);
    assert.match(html, new RegExp(`src="/static-files/app\\.js\\?v=${config.build}"`));
    const again = await get(`${server.url}/`, { 'If-None-Match': r.headers.etag });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    const entry = await get(`${server.url}/static-files/`);
    assert.equal(entry.status, 200);
    assert.equal(configOf(entry.body.toString()).build, config.build);
  });

  it('serves assets gzipped or plain, with validators and caching', async () => {
    const { build } = configOf((await get(`${server.url}/`)).body.toString());
    const plain = await get(`${server.url}/static-files/app.js`);
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.headers['cache-control'], 'no-cache');
    assert.equal(plain.headers.vary, 'Accept-Encoding');
    const gz = await get(`${server.url}/static-files/app.js?v=${build}`, { 'Accept-Encoding': 'br, gzip;q=0.8' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.ok(gz.body.length < plain.body.length / 2);
    assert.notEqual(gz.headers.etag, plain.headers.etag);
    const refused = await get(`${server.url}/static-files/app.js`, { 'Accept-Encoding': 'gzip;q=0' });
    assert.equal(refused.headers['content-encoding'], undefined);
    assert.equal((await get(`${server.url}/static-files/app.js`, { 'If-None-Match': plain.headers.etag })).status, 304);
    assert.equal((await get(`${server.url}/static-files/app.js`, { 'If-None-Match': `W/${plain.headers.etag}` })).status, 304);
    const css = await get(`${server.url}/static-files/app.css`);
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    const icon = await get(`${server.url}/static-files/favicon.svg`);
    assert.equal(icon.headers['content-type'], 'image/svg+xml');
    const head = await get(`${server.url}/static-files/app.css`, {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
  });

  it('answers unknown files and methods like any endpoint', async () => {
    const missing = await get(`${server.url}/static-files/nope.js`);
    assert.equal(missing.status, 404);
    assert.equal(JSON.parse(missing.body.toString()).error_code, 'ENDPOINT_NOT_FOUND');
    const post = await get(`${server.url}/`, {}, 'POST');
    assert.equal(post.status, 405);
  });
});

describe('serving the UI under --static-prefix', () => {
  let server;
  let browser;

  before(async () => {
    server = await new Server({ args: ['--static-prefix', '/mlflow'] }).start();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('serves <prefix>/ and redirects <prefix> there', async () => {
    const r = await get(`${server.url}/mlflow/`);
    assert.equal(r.status, 200);
    const html = r.body.toString();
    assert.equal(configOf(html).prefix, '/mlflow');
    assert.match(html, /src="\/mlflow\/static-files\/app\.js\?v=/);
    const redirect = await get(`${server.url}/mlflow`);
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.location, '/mlflow/');
    assert.equal((await get(`${server.url}/mlflow/static-files/app.css`)).status, 200);
  });

  it('runs the app against <prefix>/ajax-api/', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(15_000);
    const problems = watchPage(page);
    const apiPaths = new Set();
    page.on('request', (req) => {
      const path = new URL(req.url()).pathname;
      if (/ajax-api|\/api\//.test(path)) apiPaths.add(path.replace(/(ajax-api\/2\.0\/mlflow)\/.*/, '$1/…'));
    });
    await page.goto(`${server.url}/mlflow/#/experiments`);
    await page.getByRole('button', { name: 'New experiment' }).click();
    await page.getByLabel('Name', { exact: true }).fill('prefixed-exp');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { name: 'prefixed-exp' }).waitFor();
    assert.deepEqual([...apiPaths], ['/mlflow/ajax-api/2.0/mlflow/…']);
    await screenshot(page, 'serving-01-prefix');
    assert.deepEqual(problems, []);
  });
});
