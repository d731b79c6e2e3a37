/**
 * XML figures, each beside FHIR.js 4.12 measured in the same run, on the Nictiz eOverdracht STU3 examples:
 * - `xml.read.eoverdracht_stu3.mb_per_s`: the gateway's reader (well-formedness check, tokenizer, walk over the
 *   element model, narrative check) against what the gateway did before: the same well-formedness check, then
 *   FHIR.js `xmlToJson` and `JSON.parse`;
 * - `xml.write.eoverdracht_stu3.mb_per_s`: the gateway's writer against FHIR.js `objToXml`, on the same resources.
 * Contenders alternate in short rounds and the median round counts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { XMLValidator } from 'fast-xml-parser';
import fhir from 'fhir';
import type { Resource } from '../../src/fhir/version.js';
import { definitionParser, parseXml, toXml } from '../../src/fhir/xml.js';
import type { Figure } from './index.js';
import { fixtureFolder } from '../../test/fixtures.js';
import { alternate, round } from './stats.js';

const FIXTURES = fixtureFolder();
const EXAMPLES = 'eoverdracht-stu3/examples';
const ROUNDS = 15;
const ROUND_MS = 300;

function examples(): string[] {
  const folders = [`${EXAMPLES}/patient-1.5`, `${EXAMPLES}/kwalificatie-1.1b`];
  const files = [...folders.flatMap((folder) => readdirSync(path.join(FIXTURES, folder)).map((file) => `${folder}/${file}`)), `${EXAMPLES}/eOverdracht-Task-eov-test-1_1b-REQUESTED.xml`];
  return files.filter((file) => file.endsWith('.xml')).map((file) => readFileSync(path.join(FIXTURES, file), 'utf8'));
}

/** Megabytes of XML handled per second during one round. */
function throughput(texts: string[], handle: (text: string, index: number) => void): number {
  const bytes = texts.reduce((sum, text) => sum + Buffer.byteLength(text), 0);
  const started = performance.now();
  let handled = 0;
  while (performance.now() - started < ROUND_MS) {
    texts.forEach(handle);
    handled += bytes;
  }
  return handled / 1e6 / ((performance.now() - started) / 1000);
}

/** FHIR.js's xmlToJson takes only a document whose one node is the root element, as the gateway once gave it. */
const rootElement = (text: string) => text.replace(/^\s*(?:(?:<\?[\s\S]*?\?>|<!--[\s\S]*?-->)\s*)*/, '').replace(/(?:\s*<!--(?:(?!-->)[\s\S])*-->)*\s*$/, '');

export async function run(): Promise<Figure[]> {
  const texts = examples();
  const fhirJs = new fhir.Fhir(definitionParser('stu3'));
  const resources = texts.map((text) => parseXml('stu3', text));
  const written = resources.map((resource) => toXml('stu3', resource));
  const fhirJsRead = (text: string) => {
    if (XMLValidator.validate(text) !== true) throw new Error('not well-formed');
    return JSON.parse(fhirJs.xmlToJson(rootElement(text))) as Resource;
  };
  // Warm both up once, so that neither round pays for compiling or first-use caches.
  texts.forEach(fhirJsRead);
  resources.forEach((resource) => fhirJs.objToXml(resource));

  const read = alternate(ROUNDS, () => throughput(texts, (text) => parseXml('stu3', text)), () => throughput(texts, fhirJsRead));
  const write = alternate(
    ROUNDS,
    () => throughput(written, (_, index) => toXml('stu3', resources[index])),
    () => throughput(written, (_, index) => fhirJs.objToXml(resources[index])),
  );
  const common = { baseline_name: 'FHIR.js 4.12 (fhir@4.12.0)', documents: texts.length, kilobytes: round(texts.reduce((sum, text) => sum + text.length, 0) / 1e3, 1) };
  return [
    { name: 'xml.read.eoverdracht_stu3.mb_per_s', value: round(read.ours, 2), unit: 'MB/s', baseline: round(read.theirs, 2), ratio: round(read.ratio, 2), ...common },
    { name: 'xml.write.eoverdracht_stu3.mb_per_s', value: round(write.ours, 2), unit: 'MB/s', baseline: round(write.theirs, 2), ratio: round(write.ratio, 2), ...common },
  ];
}
