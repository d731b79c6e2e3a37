import { readFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { parseXml } from './src/fhir/xml.js';
const files = execSync('find /work/shared/fixtures -name "*.xml"').toString().trim().split('\n');
let ok = 0; const bad: string[] = [];
for (const f of files) {
  const text = readFileSync(f, 'utf8');
  const version = /stu3|eoverdracht|nictiz-testscripts|_stu3|\/stu3\//i.test(f) ? 'stu3' : 'r4';
  try { parseXml(version as any, text); ok++; } catch (e: any) { bad.push(`${f.replace('/work/shared/fixtures/','')} [${version}]: ${(e.outcome?.issue ?? []).slice(0,2).map((i: any) => i.details.text + ' @' + i.expression).join(' | ') || e.message}`); }
}
console.log(ok, bad.length); console.log(bad.join('\n'));
