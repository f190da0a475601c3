#!/usr/bin/env node
// Generates the web UI's API types from the OpenAPI document with openapi-typescript
// (`npm run gen:api`), or checks that the committed file is what it would generate
// (`npm run gen:api:check`, part of `npm run lint`).
//
//   node tools/openapi-gen/gen.mjs <openapi.json> <out.ts> [--check]
//
// openapi-typescript names each operation by its operationId in `operations`; an operationId
// used twice (which OpenAPI forbids, and crates/edalab/tests/edalab/up.rs refuses) would
// declare the same property twice, so the generator stops and names it.
import fs from 'node:fs';
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript';

const args = process.argv.slice(2);
const check = args.includes('--check');
const [input, output] = args.filter((a) => a !== '--check');
if (!input || !output) {
  console.error('usage: gen.mjs <openapi.json> <out.ts> [--check]');
  process.exit(2);
}

const doc = JSON.parse(fs.readFileSync(input, 'utf8'));
const operations = Object.values(doc.paths ?? {}).flatMap((item) =>
  Object.values(item ?? {}).filter((op) => op && typeof op === 'object' && typeof op.operationId === 'string'),
);
const uses = new Map();
for (const op of operations) uses.set(op.operationId, (uses.get(op.operationId) ?? 0) + 1);
const duplicated = [...uses].filter(([, n]) => n > 1).map(([id]) => id);
if (duplicated.length) {
  console.error(`${input}: operationIds used more than once: ${duplicated.join(', ')} (fix them on the Rust side)`);
  process.exit(1);
}

const generated = COMMENT_HEADER + astToString(await openapiTS(doc, { emptyObjectsUnknown: true, silent: true }));

if (check) {
  const committed = fs.existsSync(output) ? fs.readFileSync(output, 'utf8') : null;
  if (committed !== generated) {
    console.error(`${output} is not what ${input} generates: run \`npm run gen:api\` (and commit it).`);
    process.exit(1);
  }
  console.error(`${output} is up to date with ${input}.`);
} else {
  fs.writeFileSync(output, generated);
  console.error(`${input} → ${output}`);
}
