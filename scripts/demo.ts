/**
 * `npm run demo`: the whole story of DESIGN §2 across four gateway processes on loopback (a hospital, two VVT
 * providers, the region's coordination point), each with its own configuration, keys and SQLite database in a
 * temporary folder and a free port. Prints progress, then a summary: who had room, who was offered the transfer, who
 * accepted, the counts before and after, what reached the coordination point, and the proof that none of the
 * providers' internal data (tariffs, contracts, client stops, budget ceilings) left them. Exits 0 when every step
 * and check succeeded, 1 with the reason otherwise; the gateway processes are stopped and the folders removed either
 * way. Run from the repository root (it needs the Nictiz examples in ../shared/fixtures).
 */
import { auditEgress, coordinationPointHoldings, countsOf, type EgressAudit } from './demo/egress-audit.js';
import { startIdentityProvider } from '../test/harness/identity-provider.js';
import { startRegion, type Region } from './demo/sites.js';
import { freePort } from '../test/harness/gateways.js';
import { CARE_TYPE, POSTCODE, runStory, type Candidate, type StoryResult } from './demo/story.js';

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s`;
const progress = (line: string) => console.log(`[${elapsed()}] ${line}`);

function candidateLine(candidate: Candidate): string {
  const count = candidate.available === undefined ? 'unknown' : `${candidate.available} of ${candidate.total ?? '?'} free`;
  const distance = candidate.distance === undefined ? '' : `, postcode distance ${candidate.distance}`;
  return `${candidate.name} (URA ${candidate.ura}): ${count}${distance}`;
}

function summary(region: Region, story: StoryResult, audits: EgressAudit[], held: Awaited<ReturnType<typeof coordinationPointHoldings>>): string[] {
  const countOf = (list: Candidate[], ura: string) => list.find((c) => c.ura === ura)?.available ?? 'unknown';
  const lines = [
    '',
    '══════════════════════════════ Summary ══════════════════════════════',
    'Gateway processes:',
    ...[region.hospital, ...region.providers, region.coordinationPoint].map((g) => `  ${g.party.name.padEnd(16)} ${g.role.padEnd(24)} ${g.url}`),
    '',
    `Who had room for ${CARE_TYPE} near ${POSTCODE} (the coordination point's $match-capacity, best first):`,
    ...story.before.map((candidate, index) => `  ${index + 1}. ${candidateLine(candidate)}`),
    '',
    `Offered the transfer (one eOverdracht Task each, care type ${CARE_TYPE}):`,
    ...story.offered.map((entry) => `  - ${entry.provider.party.name}: Task/${entry.task}, now ${entry.finalStatus}`),
    `Accepted: ${story.accepted.party.name}; rejected: ${story.rejected.party.name}`,
    `Documents: advance notice ${story.advanceNoticeResources} resources (pulled by both candidates); nursing handoff ${story.handoffResources} resources, ${story.handoffPulled} pulled by ${story.accepted.party.name}`,
    '',
    `${CARE_TYPE} places free on the board:      before   after accept   at the end`,
    ...region.providers.map(
      (p) =>
        `  ${p.party.name.padEnd(32)} ${String(countOf(story.before, p.party.ura)).padStart(6)} ${String(countOf(story.afterAccept, p.party.ura)).padStart(14)} ${String(countOf(story.after, p.party.ura)).padStart(12)}`,
    ),
    '',
    'What reached the coordination point:',
    ...audits.flatMap((audit) => [
      `  ${audit.provider.party.name}: ${audit.records.length} availability payload(s) sent, each recorded with destination and SHA-256 (${audit.records.filter((r) => r.hashMatches).length} hashes check out)`,
      ...(audit.records.length > 0 ? [`    the last one: ${countsOf(audit.records[audit.records.length - 1].payload)}`] : []),
    ]),
    `  the elements of a payload: ${audits[0]?.elements.join('; ') ?? 'none'}`,
    `  stored at ${region.coordinationPoint.party.name}: ${held.reports} provider reports, ${held.versions} versions in their history`,
    '',
    'The competition line (internal values and field names the providers’ EHRs posted, searched in every payload that left):',
    ...audits.map((audit) => {
      const internal = story.inputs.get(audit.provider)!.internal;
      return `  ${audit.provider.party.name}: ${internal.length} internal values × ${audit.records.length} payloads → ${audit.leaks.length} found${audit.leaks.length > 0 ? `: ${audit.leaks.map((l) => l.value).join(', ')}` : ''}`;
    }),
    `  at the coordination point (stored reports and their history): ${held.leaks.length} found`,
  ];
  return lines;
}

/** The checks the summary's claims rest on; any failure makes the demo fail. */
function failures(story: StoryResult, audits: EgressAudit[], held: Awaited<ReturnType<typeof coordinationPointHoldings>>): string[] {
  const problems: string[] = [];
  const countOf = (list: Candidate[], ura: string) => list.find((c) => c.ura === ura)?.available;
  const accepted = story.accepted.party.ura;
  if (countOf(story.afterAccept, accepted) !== (countOf(story.before, accepted) ?? 0) - 1) problems.push('the accepted transfer did not take a place on the board');
  if (story.offered.find((o) => o.provider === story.accepted)?.finalStatus !== 'completed') problems.push('the accepted Task did not end completed');
  if (story.offered.find((o) => o.provider === story.rejected)?.finalStatus !== 'rejected') problems.push('the rejected Task did not end rejected');
  for (const audit of audits) {
    if (audit.records.length === 0) problems.push(`${audit.provider.party.name} recorded no outbound payload`);
    if (audit.records.some((record) => !record.hashMatches)) problems.push(`${audit.provider.party.name} has a payload record whose hash does not match`);
    if (audit.leaks.length > 0) problems.push(`${audit.provider.party.name} sent internal data: ${audit.leaks.map((l) => l.value).join(', ')}`);
  }
  if (held.leaks.length > 0) problems.push(`the coordination point holds internal data: ${held.leaks.join(', ')}`);
  return problems;
}

/** The coordination point's desk lets in this login (any password) of the demo identity provider. */
const DESK_COORDINATOR = 'coordinator';
const DESK_CLIENT = { clientId: 'regional-desk', clientSecret: 'demo-only-secret' };

/** `npm run demo -- --keep`: after the summary the region keeps running, with its desk, until Ctrl-C. */
const keep = process.argv.includes('--keep');

async function main(): Promise<number> {
  progress('Starting four gateway processes on loopback (each its own config, keys, SQLite, port) ...');
  const identityProviderPort = await freePort();
  const region = await startRegion({
    onStarted: (gateway) => progress(`  ${gateway.party.name} — ${gateway.role} — ${gateway.url} ready`),
    desk: () => ({
      oidc: { issuer: `http://127.0.0.1:${identityProviderPort}`, ...DESK_CLIENT },
      people: [{ subject: DESK_COORDINATOR, organizations: ['zcc-rijnmond'] }],
    }),
  });
  const identityProvider = await startIdentityProvider({
    port: identityProviderPort,
    client: DESK_CLIENT,
    redirectUris: [`${region.coordinationPoint.url}/desk/callback`],
    nameOf: (subject) => (subject === DESK_COORDINATOR ? 'Coördinator ZCC Rijnmond' : subject),
  });
  const interrupted = () => void region.stop().finally(() => process.exit(130));
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const story = await runStory(region, progress).catch((error: unknown) => {
      console.log(['What the gateways logged last:', ...region.logTails(10)].join('\n'));
      throw error;
    });
    progress('Reading every outbound payload record at the providers ...');
    const audits = await Promise.all(region.providers.map((provider) => auditEgress(provider, story.inputs.get(provider)!.internal)));
    const held = await coordinationPointHoldings(region.coordinationPoint, [...story.inputs.values()].flatMap((input) => input.internal));
    for (const line of summary(region, story, audits, held)) console.log(line);
    const problems = failures(story, audits, held);
    console.log('');
    if (problems.length > 0) {
      console.log(`DEMO FAILED: ${problems.join('; ')}`);
      return 1;
    }
    console.log(`Demo succeeded in ${elapsed().trim()}.`);
    console.log('');
    console.log(`The regional desk of ${region.coordinationPoint.party.name}: ${region.coordinationPoint.url}/desk?region=rijnmond`);
    console.log(`  sign in as '${DESK_COORDINATOR}' with any password at the demo identity provider (${identityProvider.issuer})`);
    if (keep) {
      console.log('  the region keeps running (--keep); Ctrl-C stops it');
      await new Promise(() => undefined);
    } else {
      console.log('  (npm run demo -- --keep leaves the region running to look at it)');
    }
    return 0;
  } finally {
    identityProvider.close();
    await region.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`DEMO FAILED: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
