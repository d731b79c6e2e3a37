import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { newSite, siteConfig, startProcess, stopProcess, type Site } from '../../test/harness/gateways.js';
import { party, trustedOrganization, type Party } from '../../test/harness/parties.js';
import { EOVERDRACHT } from '../../test/transfer/support.js';

/**
 * The demo's region on loopback: four gateway processes (`node src/main.ts`, each with its own configuration, keys,
 * SQLite database and free port, in a temporary folder): a hospital, two VVT providers and the region's coordination
 * point, trusting each other as DESIGN §2 describes.
 */
export interface Region {
  hospital: Gateway;
  providers: [Gateway, Gateway];
  coordinationPoint: Gateway;
  /** Stops every gateway process and removes the temporary folders (also after a failure). */
  stop(): Promise<void>;
  /** The last lines each gateway logged (warnings and errors), for a failure report. */
  logTails(lines: number): string[];
}

export interface Gateway {
  party: Party;
  role: string;
  url: string;
  dataDir: string;
  /** Seconds until it answered /readyz. */
  startedIn: number;
}

export interface RegionOptions {
  onStarted?: (gateway: Gateway) => void;
  /** The `desk` configuration of the coordination point (its sign-in), given where it listens. */
  desk?: (url: string) => Record<string, unknown>;
}

export async function startRegion(options: RegionOptions = {}): Promise<Region> {
  if (!existsSync(EOVERDRACHT)) {
    throw new Error(`the demo transfers the Nictiz eOverdracht example patient 1.5 and needs the fixtures at ${EOVERDRACHT} (run it from the repository root)`);
  }
  const [hospital, maas, rotte, zcc] = await Promise.all([
    party('ziekenhuis-zuid', 'Ziekenhuis Zuid', '11111111'),
    party('zorggroep-maas', 'Zorggroep Maas', '22222222'),
    party('huize-rotte', 'Huize Rotte', '33333333'),
    party('zcc-rijnmond', 'ZCC Rijnmond', '44444444'),
  ]);
  const sites = {
    hospital: await newSite([{ party: hospital, roles: ['sender'] }], 'demo-hospital-'),
    maas: await newSite([{ party: maas, roles: ['receiver'] }], 'demo-vvt-'),
    rotte: await newSite([{ party: rotte, roles: ['receiver'] }], 'demo-vvt-'),
    zcc: await newSite([{ party: zcc, roles: ['coordination-point'] }], 'demo-zcc-'),
  };
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map(stopProcess));
    for (const site of Object.values(sites)) rmSync(site.dataDir, { recursive: true, force: true });
  };

  const coordinationPoint = await trustedOrganization(zcc, { oauth: `${sites.zcc.url}/oauth2/token`, fhir: `${sites.zcc.url}/fhir` });
  const providerConfig = async (site: Site) => {
    const config = await siteConfig(site, [sites.hospital]);
    return { ...config, trusted: [...(config.trusted as unknown[]), coordinationPoint], coordinationPoint: { organization: zcc.id }, capacity: { publishDebounceMs: 50 } };
  };
  const configs: [Site, Record<string, unknown>, string][] = [
    [sites.zcc, { ...(await siteConfig(sites.zcc, [sites.maas, sites.rotte, sites.hospital])), ...(options.desk ? { desk: options.desk(sites.zcc.url) } : {}) }, 'coordination point'],
    [sites.hospital, await siteConfig(sites.hospital, [sites.maas, sites.rotte]), 'hospital (sender)'],
    [sites.maas, await providerConfig(sites.maas), 'VVT provider (receiver)'],
    [sites.rotte, await providerConfig(sites.rotte), 'VVT provider (receiver)'],
  ];
  const started = Date.now();
  try {
    const gateways = await Promise.all(
      configs.map(async ([site, config, role]) => {
        writeFileSync(path.join(site.dataDir, 'config.json'), JSON.stringify(config));
        children.push(await startProcess(site));
        const gateway: Gateway = { party: site.hosts[0].party, role, url: site.url, dataDir: site.dataDir, startedIn: (Date.now() - started) / 1000 };
        options.onStarted?.(gateway);
        return gateway;
      }),
    );
    const [cp, h, m, r] = gateways;
    const logTails = (lines: number) =>
      gateways.flatMap((gateway) => {
        const log = path.join(gateway.dataDir, 'gateway.log');
        const tail = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).slice(-lines) : [];
        return tail.length > 0 ? [`${gateway.party.name}:`, ...tail.map((line) => `  ${line.slice(0, 400)}`)] : [];
      });
    return { hospital: h, providers: [m, r], coordinationPoint: cp, stop, logTails };
  } catch (error) {
    await stop();
    throw error;
  }
}
