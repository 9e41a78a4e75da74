/**
 * A client process (run with `node --input-type=module -e CONCURRENT_CLIENT N SEG,SEG…` in a lab's
 * client) opening N flows at once over a path to fc00:2::2 port 9000; each sends 20 KB, expects it
 * echoed (an echo server behind, functions that cancel out on the way) and compares sha256. Prints
 * {ok, failed}.
 */
export const CONCURRENT_CLIENT = `
const { connect } = await import(${JSON.stringify(new URL('../../src/client/connect.js', import.meta.url).href)});
const { createHash, randomBytes } = await import('node:crypto');
const n = Number(process.argv[1]); const segments = process.argv[2].split(',');
let ok = 0; const failed = [];
await Promise.all(Array.from({ length: n }, async (_, i) => {
  try {
    const s = await connect({ host: 'fc00:2::2', port: 9000, segments });
    const data = randomBytes(20000); const got = [];
    await new Promise((resolve, reject) => {
      s.on('data', (d) => got.push(d)); s.on('error', reject); s.on('close', resolve);
      s.end(data);
    });
    const a = createHash('sha256').update(data).digest('hex');
    const b = createHash('sha256').update(Buffer.concat(got)).digest('hex');
    if (a === b) ok++; else failed.push(i + ': bytes differ');
  } catch (e) { failed.push(i + ': ' + (e.code || e.message)); }
}));
process.stdout.write(JSON.stringify({ ok, failed }));
`;
