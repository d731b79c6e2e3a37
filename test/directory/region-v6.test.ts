import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Gateway } from '../../src/main.js';
import { ehrToken, fhirCall } from '../harness/calls.js';
import { newSite, startSites, type RunningSites } from '../harness/gateways.js';
import { McsdDirectories } from '../harness/mcsd-directories.js';
import { party, type Party } from '../harness/parties.js';
import { offerTo } from '../transfer/support.js';
import { expectOnlyV6Tokens, uziCredentials, withX509 } from '../transfer/v6-sites.js';
import { publishInRoot, transferBetween } from './support.js';

/**
 * A region found through its directory, on Nuts v6: no `trusted[]`, only the root directory's URL, and each
 * organisation holds an X509Credential under a UZI CA both gateways trust. Each gateway's directory publishes its
 * organisation's `Nuts-OAuth` Endpoint as that organisation's v6 issuer (`{url}/oauth2/{id}`), so the notification and
 * the pull are asked for with vp_token-bearer (DPoP-bound), though both gateways still accept the RFC003 grant too.
 */
let hospital: Party;
let vvt: Party;
let root: McsdDirectories;
let sites: RunningSites;
let sender: Gateway;
let receiver: Gateway;

beforeAll(async () => {
  [hospital, vvt] = await Promise.all([party('hospital', 'Ziekenhuis', '11111111'), party('vvt', 'VVT Een', '22222222')]);
  const h = await newSite([{ party: hospital, roles: ['sender'] }], 'region-v6-');
  const v = await newSite([{ party: vvt, roles: ['receiver'] }], 'region-v6-');
  root = await new McsdDirectories().start();
  publishInRoot(root, hospital, `${h.url}/mcsd/${hospital.id}`);
  publishInRoot(root, vvt, `${v.url}/mcsd/${vvt.id}`);
  const { caFile, x509 } = await uziCredentials([
    [h, hospital],
    [v, vvt],
  ]);
  // Development mode: the requester's did:web lies on loopback, which production refuses to resolve.
  sites = await startSites([h, v], (raw) => ({
    ...raw,
    mode: 'development',
    organizations: withX509(raw, x509),
    trusted: [],
    nuts: { trustedCaFiles: [caFile] },
    directory: { roots: [root.base('region')], schedule: '0 0 1 1 *' },
  }));
  [sender, receiver] = sites.gateways;
  for (const [gateway, p] of [
    [sender, hospital],
    [receiver, vvt],
  ] as const) {
    expect((await fhirCall(gateway.url, await ehrToken(gateway.url, p), 'POST', '/fhir/$directory-update')).status).toBe(200);
  }
}, 90_000);

afterAll(async () => {
  await sites?.close();
  await root?.close();
});

describe('a region found through its directory, each organisation with an X509Credential', () => {
  it('notifies and pulls with tokens asked for by vp_token-bearer, DPoP-bound, at the authorization server the directory names', async () => {
    const task = await offerTo(sender.url, await ehrToken(sender.url, hospital), vvt.ura);
    await transferBetween({ gateway: sender, party: hospital }, { gateway: receiver, party: vvt }).copyAtProvider(task.id!, 'requested');

    await expectOnlyV6Tokens([
      [receiver, vvt, hospital],
      [sender, hospital, vvt],
    ]);
  }, 60_000);
});
