/**
 * `tsx scripts/packages/nictiz-eoverdracht.ts SOURCE_FOLDER`: builds profiles/packages/nictiz.fhir.nl.stu3.eoverdracht-1.0.0-rc.23.tgz
 * from the Nictiz-STU3-eOverdracht sources (Profiles/*.xml at 4f20e54, branch eOverdracht4.0), in the standard FHIR
 * package layout: package/package.json, package/.index.json and one JSON file per conformance resource.
 *
 * Nictiz publishes this package on the FHIR package registry only (not on npm), and its repository holds XML only,
 * so the StructureDefinitions are converted to JSON with the gateway's own STU3 XML reader. Kept here so the package
 * can be rebuilt and checked; the gateway only reads the .tgz.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseXml } from '../../src/fhir/xml.js';

const NAME = 'nictiz.fhir.nl.stu3.eoverdracht';
const VERSION = '1.0.0-rc.23';
const TARGET = path.resolve('profiles/packages', `${NAME}-${VERSION}.tgz`);

const manifest = {
  name: NAME,
  version: VERSION,
  title: 'Nictiz eOverdracht 4.0 (FHIR STU3)',
  description: 'eOverdracht 4.0 profiles by Nictiz: Task, AdvanceNotice, NursingHandoff and their sections and extensions',
  canonical: 'http://nictiz.nl/fhir',
  url: 'https://github.com/Nictiz/Nictiz-STU3-eOverdracht/tree/4f20e54f16387fbee734ae61a2323e67bd7156f9',
  author: 'Nictiz',
  license: 'CC0-1.0',
  fhirVersions: ['3.0.2'],
  dependencies: { 'hl7.fhir.r3.core': '3.0.2', 'nictiz.fhir.nl.stu3.zib2017': '2.1.0' },
};

type Json = Record<string, unknown>;

function build(source: string): void {
  const work = mkdtempSync(path.join(tmpdir(), 'fhir-package-'));
  try {
    const folder = path.join(work, 'package');
    mkdirSync(folder);
    const files: Json[] = [];
    for (const name of readdirSync(source).filter((file) => /^(eOverdracht-|capabilitystatement-).*\.xml$/.test(file)).sort()) {
      const resource = parseXml('stu3', readFileSync(path.join(source, name), 'utf8')) as Json;
      const filename = `${resource.resourceType}-${(resource.id as string | undefined) ?? path.basename(name, '.xml')}.json`;
      writeFileSync(path.join(folder, filename), `${JSON.stringify(resource, null, 2)}\n`);
      files.push({ filename, resourceType: resource.resourceType, id: resource.id, url: resource.url, version: resource.version, kind: resource.kind, type: resource.type });
    }
    writeFileSync(path.join(folder, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    writeFileSync(path.join(folder, '.index.json'), `${JSON.stringify({ 'index-version': 1, files }, null, 2)}\n`);
    execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=2024-02-27', '--use-compress-program=gzip -n', '-cf', TARGET, '-C', work, 'package']);
    console.log(`${TARGET}: ${files.length} resources`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const source = process.argv[2];
if (!source) {
  console.error('usage: tsx scripts/packages/nictiz-eoverdracht.ts SOURCE_FOLDER (the Profiles/ folder of Nictiz-STU3-eOverdracht)');
  process.exitCode = 2;
} else build(source);
