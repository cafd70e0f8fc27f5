#!/usr/bin/env node
// Adds up the vitest JSON reports of `npm test`'s stages (scripts/test.sh) into one closing line,
// `tests: N passed, N failed, N skipped`, the plain shape any CI reads for a count. Without it the
// last runner-like line of the run is schemathesis's pytest-style banner, which carries no count.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
let passed = 0, failed = 0, skipped = 0;
const stages = [];
for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  let report;
  try {
    report = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  } catch {
    continue; // a stage that died before its reporter wrote: its failure is already on screen
  }
  const s = { stage: file.replace(/^\d+-|\.json$/g, ''), passed: report.numPassedTests, failed: report.numFailedTests, skipped: report.numPendingTests + report.numTodoTests };
  passed += s.passed; failed += s.failed; skipped += s.skipped;
  stages.push(s);
}
console.log('');
for (const s of stages) console.log(`  ${s.stage}: ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
