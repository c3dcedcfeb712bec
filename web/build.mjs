// Bundles the web UI with esbuild into OUTDIR (default dist/):
//   app.js, app.css   minified bundle (Preact + htm + uPlot + our code)
//   *.gz              the same, gzipped at level 9 (served to gzip clients)
//   index.html        the page template; {{PREFIX}}/{{CONFIG}} are filled in
//                     by src/api/ui.c per request, {{HASH}} here
//   favicon.svg, build-hash.txt, sizes.json
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, constants } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] || join(here, 'dist');
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: { app: join(here, 'src/main.js') },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  outdir: out,
  legalComments: 'none',
  write: false,
  logLevel: 'warning',
});

const files = {};
for (const f of result.outputFiles) files[f.path.endsWith('.css') ? 'app.css' : 'app.js'] = f.contents;
if (!files['app.js'] || !files['app.css']) throw new Error('esbuild produced no app.js/app.css');

const hash = createHash('sha256').update(files['app.js']).update(files['app.css']).digest('hex').slice(0, 16);
const sizes = {};
for (const [name, data] of Object.entries(files)) {
  const gz = gzipSync(data, { level: constants.Z_BEST_COMPRESSION });
  writeFileSync(join(out, name), data);
  writeFileSync(join(out, name + '.gz'), gz);
  sizes[name] = { bytes: data.length, gzip: gz.length };
}
const index = readFileSync(join(here, 'index.html'), 'utf8').replaceAll('{{HASH}}', hash);
writeFileSync(join(out, 'index.html'), index);
copyFileSync(join(here, 'favicon.svg'), join(out, 'favicon.svg'));
writeFileSync(join(out, 'build-hash.txt'), hash);
sizes.total_gzip = sizes['app.js'].gzip + sizes['app.css'].gzip + gzipSync(index).length;
writeFileSync(join(out, 'sizes.json'), JSON.stringify(sizes, null, 2) + '\n');
