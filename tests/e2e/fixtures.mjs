// fixtures.mjs — test data made here (no downloads): a small PNG, an MLmodel
// directory, runs with params/metrics/tags logged over the API.
import { deflateSync } from 'node:zlib';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

// A width x height RGB gradient PNG.
export function makePng(width = 64, height = 48) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) {
      row[1 + x * 3] = Math.round((255 * x) / width);
      row[2 + x * 3] = Math.round((255 * y) / height);
      row[3 + x * 3] = 160;
    }
    rows.push(row);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export const MLMODEL = `artifact_path: model
flavors:
  python_function:
    env:
      conda: conda.yaml
    loader_module: mlflow.sklearn
    python_version: 3.11.4
  sklearn:
    code: null
    pickled_model: model.pkl
    serialization_format: cloudpickle
    sklearn_version: 1.3.0
mlflow_version: 3.6.0
model_uuid: 5b2f0c3e1c0e4d1f9d3c2a1b0e9f8d7c
utc_time_created: '2025-11-20 10:00:00.000000'
`;

// Creates a run with params, a metric history and tags; returns the run.
export async function logRun(server, experimentId, { name, params = {}, tags = {}, metrics = {}, steps = 50, startTime }) {
  const { run } = await server.api('POST', 'runs/create', {
    experiment_id: experimentId,
    run_name: name,
    start_time: startTime ?? Date.now(),
    tags: Object.entries({ 'mlflow.user': 'e2e', ...tags }).map(([key, value]) => ({ key, value })),
  });
  const id = run.info.run_id;
  const now = Date.now();
  const batch = [];
  for (const [key, final] of Object.entries(metrics))
    for (let s = 0; s < steps; s++)
      batch.push({ key, value: final + (steps - 1 - s) * 0.01 + 0.002 * Math.sin(s), timestamp: now + s * 1000, step: s });
  for (let i = 0; i < batch.length || i === 0; i += 1000)
    await server.api('POST', 'runs/log-batch', {
      run_id: id,
      metrics: batch.slice(i, i + 1000),
      params: i === 0 ? Object.entries(params).map(([key, value]) => ({ key, value: String(value) })) : [],
    });
  await server.api('POST', 'runs/update', { run_id: id, status: 'FINISHED', end_time: now + steps * 1000 });
  return (await server.api('GET', 'runs/get', { run_id: id })).run;
}
