// Module hooks that hand TypeScript to the next loader as JavaScript. Node 24 runs .ts by
// stripping types itself, but only after the loader hooks, and Jazzer.js's hook instruments
// only modules whose format is "module"; registered before it, this hook strips the types
// first (positions are kept: types become whitespace) so our code is instrumented too.
import { stripTypeScriptTypes } from 'node:module';

export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  if (result.format !== 'module-typescript') return result;
  const source = typeof result.source === 'string' ? result.source : Buffer.from(result.source).toString('utf8');
  return { ...result, format: 'module', source: stripTypeScriptTypes(source, { mode: 'strip' }) };
}
