/**
 * mCSD directory sync (DESIGN §8: 10,000 organisations × 3 resources ≤ 30 s full; 100 changes ≤ 1 s incremental),
 * each beside the bare HTTP fetch of the same history pages in the same run.
 * A root directory names VENDORS administration directories (as EHR vendors host them), each speaking for its share of
 * ORGANIZATIONS organisations; every organisation publishes an Organization, a HealthcareService and an Endpoint.
 * The update client reads them into a query directory on SQLite (the embedded default).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DirectoryCounterparties } from '../../src/directory/counterparties.js';
import { DIRECTORY_RESOURCE_TYPES, PAYLOAD_TYPES, PAYLOAD_TYPE_SYSTEM, ROOT_RESOURCE_TYPES } from '../../src/directory/payload-types.js';
import { UpdateClient } from '../../src/directory/update-client.js';
import { openStore } from '../../src/store/index.js';
import { URA_SYSTEM } from '../../src/vocabulary/canonical.js';
import { McsdDirectories } from '../../test/harness/mcsd-directories.js';
import type { Figure } from './index.js';
import { round } from './stats.js';

const ORGANIZATIONS = Number(process.env.BENCH_DIRECTORY_ORGANIZATIONS ?? 10_000);
const VENDORS = 10;
const CHANGES = 100;
const PAGE_SIZE = 100;

const payload = (code: string) => [{ coding: [{ system: PAYLOAD_TYPE_SYSTEM, code }] }];
const ura = (i: number) => String(20_000_000 + i);

function publish(directories: McsdDirectories): void {
  for (let vendor = 0; vendor < VENDORS; vendor++) {
    directories.put('root', { resourceType: 'Endpoint', id: `dir-${vendor}`, status: 'active', payloadType: payload(PAYLOAD_TYPES.adminDirectory), address: directories.base(`vendor-${vendor}`) });
  }
  for (let i = 0; i < ORGANIZATIONS; i++) {
    const vendor = `vendor-${i % VENDORS}`;
    directories.put('root', { resourceType: 'Organization', id: `org-${i}`, identifier: [{ system: URA_SYSTEM, value: ura(i) }], endpoint: [{ reference: `Endpoint/dir-${i % VENDORS}` }] });
    directories.put(vendor, { resourceType: 'Endpoint', id: `notify-${i}`, status: 'active', payloadType: payload(PAYLOAD_TYPES.twiinNotification), address: `https://org-${i}.example/notification` });
    directories.put(vendor, { resourceType: 'Organization', id: `org-${i}`, identifier: [{ system: URA_SYSTEM, value: ura(i) }], name: `Zorgorganisatie ${i}`, endpoint: [{ reference: `Endpoint/notify-${i}` }] });
    directories.put(vendor, { resourceType: 'HealthcareService', id: `elv-${i}`, providedBy: { reference: `Organization/org-${i}` }, name: 'ELV hoog' });
  }
}

/** The baseline: every history page the client reads, fetched and parsed, nothing else. */
async function bareFetch(directories: McsdDirectories, since: Map<string, string | undefined>): Promise<number> {
  const started = performance.now();
  for (const [name, after] of since) {
    const types = name === 'root' ? ROOT_RESOURCE_TYPES : DIRECTORY_RESOURCE_TYPES;
    for (const type of types) {
      let url: string | undefined = `${directories.base(name)}/${type}/_history?_count=${PAGE_SIZE}${after ? `&_since=${after}` : ''}`;
      while (url) {
        const bundle = (await (await fetch(url, { headers: { accept: 'application/fhir+json' } })).json()) as { link: { relation: string; url: string }[] };
        url = bundle.link.find((link) => link.relation === 'next')?.url;
      }
    }
  }
  return performance.now() - started;
}

export async function run(): Promise<Figure[]> {
  const directories = await new McsdDirectories().start();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-directory-'));
  const store = await openStore({ dataDir });
  try {
    publish(directories);
    const client = new UpdateClient({ roots: [directories.base('root')], store, counterparties: new DirectoryCounterparties(), pageSize: PAGE_SIZE, concurrency: 4 });
    const names = ['root', ...Array.from({ length: VENDORS }, (_, vendor) => `vendor-${vendor}`)];
    const fullBaseline = await bareFetch(directories, new Map(names.map((name) => [name, undefined])));
    let started = performance.now();
    const full = await client.sync();
    const fullMs = performance.now() - started;
    if (full.some((directory) => directory.result !== 'ok' || directory.counts.warnings > 0)) throw new Error(`full sync not clean: ${JSON.stringify(full)}`);
    const stored = full.reduce((sum, directory) => sum + directory.counts.created, 0);

    const since = new Map(full.map((directory) => [directory.base.slice(directories.url.length + 1), directory.since]));
    for (let change = 0; change < CHANGES; change++) {
      const i = change * Math.floor(ORGANIZATIONS / CHANGES);
      directories.put(`vendor-${i % VENDORS}`, { resourceType: 'HealthcareService', id: `elv-${i}`, providedBy: { reference: `Organization/org-${i}` }, name: 'ELV laag' });
    }
    const incrementalBaseline = await bareFetch(directories, since);
    started = performance.now();
    const incremental = await client.sync();
    const incrementalMs = performance.now() - started;
    const updated = incremental.reduce((sum, directory) => sum + directory.counts.updated, 0);
    if (updated !== CHANGES) throw new Error(`incremental sync applied ${updated} changes, not ${CHANGES}`);
    return [
      { name: 'directory full sync', value: round(fullMs / 1000, 2), unit: 's', baseline: round(fullBaseline / 1000, 2), baselineName: 'bare HTTP fetch of the same pages', organizations: ORGANIZATIONS, resources: stored, target: '≤ 30 s' },
      { name: 'directory incremental sync', value: round(incrementalMs / 1000, 3), unit: 's', baseline: round(incrementalBaseline / 1000, 3), baselineName: 'bare HTTP fetch of the same pages', changes: CHANGES, target: '≤ 1 s' },
    ];
  } finally {
    await store.close();
    await directories.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
