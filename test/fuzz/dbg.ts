// eslint-disable-next-line @typescript-eslint/no-require-imports
const t = require('./targets/sshAuth');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const h = require('./targets/sshHarness');
(async () => {
  const harness = await h.startHarness();
  harness.daemon.on('Error', (e: { errorCode: number; description: string }) => console.log('Error event', e.errorCode, e.description));
  harness.daemon.on('Log', (e: { message: string }) => console.log('log', e.message));
  try { await t.fuzz(Buffer.from('NQABAgAAAAEAAQ==', 'base64')); console.log('ok'); } catch (e) { console.log('ERR', (e as Error).message); }
  process.exit(0);
})();
