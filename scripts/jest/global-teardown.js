// Jest global teardown of the `integration` project: stops the containers global-setup.js started
// (testcontainers mode). Local-process infrastructure (scripts/infra.sh) is left running for the next
// run; `bash scripts/infra.sh down` stops it (CI does).
'use strict';

module.exports = async function globalTeardown() {
  const state = globalThis.__DMARC_INFRA__;
  if (!state || state.mode !== 'testcontainers') return;
  globalThis.__DMARC_INFRA__ = undefined;
  const results = await Promise.allSettled(state.containers.map((c) => c.stop()));
  const failed = results.filter((r) => r.status === 'rejected');
  if (failed.length) {
    process.stderr.write(`[integration infra] ${failed.length} container(s) failed to stop: ${failed[0].reason}\n`);
  }
};
