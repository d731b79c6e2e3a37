import { readFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';
import { parseXml, toXml } from './src/fhir/xml.js';
console.log(toXml('r4', { resourceType: 'Patient', name: [{ text: 'a\nb\t"c" & <d>' }] } as any));
const files = execSync('find /work/shared/fixtures/nl-core-r4 /work/shared/fixtures/fhir-test-cases /work/shared/fixtures/eoverdracht-stu3/examples /work/shared/fixtures/capacity -name "*.json" -o -name "*.xml" | grep -v outcomes | grep -v cases.json | grep -v report').toString().trim().split('\n');
let same = 0; const diff: string[] = [];
for (const f of files) {
  const text = readFileSync(f, 'utf8');
  const version = /stu3|eoverdracht/i.test(f) ? 'stu3' : 'r4';
  let json: any;
  try { json = f.endsWith('.xml') ? parseXml(version as any, text) : JSON.parse(text); } catch { continue; }
  if (!json?.resourceType) continue;
  let back: any;
  try { back = parseXml(version as any, toXml(version as any, json)); } catch (e: any) { diff.push(`${f}: reread fails ${(e.outcome?.issue ?? []).slice(0,2).map((i: any) => i.details.text + ' @' + i.expression).join(' | ') || e.message}`); continue; }
  if (isDeepStrictEqual(JSON.parse(JSON.stringify(json)), JSON.parse(JSON.stringify(back)))) same++;
  else {
    // first differing path
    const walk = (a: any, b: any, p: string): string | undefined => { if (isDeepStrictEqual(a, b)) return; if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return `${p}: ${JSON.stringify(a)?.slice(0,80)} vs ${JSON.stringify(b)?.slice(0,80)}`; for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) { const r = walk(a[k], b[k], `${p}.${k}`); if (r) return r; } };
    diff.push(`${f}: ${walk(json, back, '')}`);
  }
}
console.log(same, diff.length); console.log(diff.join('\n'));
