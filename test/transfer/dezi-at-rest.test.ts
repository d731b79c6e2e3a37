import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { importJWK, SignJWT } from 'jose';
import type { Kysely } from 'kysely';
import { publicJwk } from '../../src/auth/jwk.js';
import { generatePrivateJwk } from '../../src/auth/keyFiles.js';
import type { Gateway } from '../../src/main.js';
import type { Store } from '../../src/store/repository.js';
import { orderingKey, OUTBOX_KINDS } from '../../src/transfer/context.js';
import { localId } from '../../src/transfer/receiver.js';
import { auditTrail, ehrToken, ehrTokenNaming, fhirCall } from '../harness/calls.js';
import { eventually } from '../harness/eventually.js';
import type { Site } from '../harness/gateways.js';
import { party, type Party } from '../harness/parties.js';
import { documentOf, nictizExamples, NURSING_HANDOFF, offerTo, readStoreOf, taskWithStatus, transaction } from './support.js';
import { startV6Sites, type V6Sites } from './v6-sites.js';

/**
 * The Dezi id_token a receiving EHR hands over is kept sealed (issue #15): the receiver's tables hold no id_token
 * text, its pull presents the Dezi credential all the same (the sender accepts no other person credential here, so
 * the handoff arriving proves it), and a kept value that was changed is refused for that pull: the pull is
 * dead-lettered with the reason, the transfer waits, and the EHR naming the person again carries it on.
 */
let hospital: Party;
let vvt: Party;
let sender: Gateway;
let receiver: Gateway;
let sites: V6Sites;
const examples = nictizExamples();
const DEZI_ISSUER = 'https://auth.dezi.test';
let deziKey: Record<string, unknown>;

/** Both sites trust the test Dezi key set; the sender's user definition asks for a DeziUserCredential only. */
function withDezi(raw: Record<string, unknown>, site: Site): Record<string, unknown> {
  const dezi = { issuers: [DEZI_ISSUER], jwks: { keys: [{ ...publicJwk(deziKey), kid: 'dezi-1', alg: 'ES256' }] } };
  const sends = (raw.organizations as { id: string }[]).some((organization) => organization.id === hospital.id);
  return { ...raw, nuts: { ...(raw.nuts as Record<string, unknown>), dezi, ...(sends ? { policyFile: deziOnlyPolicy(site) } : {}) } };
}

function deziOnlyPolicy(site: Site): string {
  const policy = JSON.parse(readFileSync(new URL('../../conformance/nuts-policy.json', import.meta.url), 'utf8'));
  const user = policy['eOverdracht-sender'].user;
  user.input_descriptors = user.input_descriptors.filter((descriptor: { id: string }) => descriptor.id === 'id_dezi_user');
  const file = path.join(site.dataDir, 'nuts-policy-dezi-only.json');
  writeFileSync(file, JSON.stringify(policy));
  return file;
}

async function deziIdToken(): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: DEZI_ISSUER, nbf: now, exp: now + 3600, abonnee_nummer: vvt.ura, dezi_nummer: '900000123', voorletters: 'J.', voorvoegsel: 'van der', achternaam: 'Broek', rol_code: '01.041' })
    .setProtectedHeader({ alg: 'ES256', kid: 'dezi-1' })
    .sign(await importJWK(deziKey, 'ES256'));
}

/** The receiver's database as it is, table by table (opened beside the gateway). */
const receiverTables = <T>(read: (db: Kysely<any>) => Promise<T>) =>
  readStoreOf(receiver.config, (store: Store) => read((store as unknown as { context: { db(): Kysely<any> } }).context.db()));

const keptPerson = (task: string) =>
  receiverTables((db) => db.selectFrom('transfer_records').select('person').where('tenant', '=', vvt.id).where('task', '=', task).executeTakeFirstOrThrow());

beforeAll(async () => {
  [hospital, vvt] = await Promise.all([party('hospital', 'Ziekenhuis', '11111111'), party('vvt', 'VVT Een', '22222222')]);
  deziKey = (await generatePrivateJwk()) as Record<string, unknown>;
  sites = await startV6Sites(hospital, vvt, 'dezi-at-rest-', withDezi);
  [sender, receiver] = sites.gateways;
}, 90_000);
afterAll(() => sites?.close());

describe('the Dezi id_token a receiving EHR hands over', () => {
  it('is kept sealed, refused for a pull when changed, and presented to the sender when it opens', async () => {
    const hospitalEhr = await ehrToken(sender.url, hospital);
    const task = await offerTo(sender.url, hospitalEhr, vvt.ura);
    const local = localId(hospital.id, `Task/${task.id}`);

    // The nurse accepts with a token naming her by her Dezi id_token: the answer carries it to the sender.
    const idToken = await deziIdToken();
    const deziEhr = await ehrTokenNaming(receiver.url, vvt, { dezi_id_token: idToken });
    const requested = await taskWithStatus(receiver.url, deziEhr, local, 'requested');
    expect((await fhirCall(receiver.url, deziEhr, 'PUT', `/fhir/stu3/Task/${local}`, { ...requested, status: 'accepted' })).status).toBe(200);
    await taskWithStatus(sender.url, hospitalEhr, task.id!, 'accepted');

    // At rest: the transfer record and the access token records hold the sealed value, no part of the id_token.
    const { person } = await keptPerson(local);
    expect(JSON.parse(person).dezi).toEqual({ exp: expect.any(Number), sealed: expect.any(String) });
    const tokenClaims = await receiverTables((db) => db.selectFrom('access_tokens').select('claims').execute());
    for (const text of [person, ...tokenClaims.map((row) => row.claims as string)]) {
      for (const part of idToken.split('.')) expect(text).not.toContain(part);
    }

    // A changed value does not open: the pull the handoff's notification queues is dead-lettered, saying why.
    const changed = JSON.parse(person);
    const bytes = Buffer.from(changed.dezi.sealed, 'base64url');
    bytes[bytes.length - 1]! ^= 1;
    changed.dezi.sealed = bytes.toString('base64url');
    await receiverTables((db) => db.updateTable('transfer_records').set({ person: JSON.stringify(changed) }).where('tenant', '=', vvt.id).where('task', '=', local).execute());
    const handedOver = await fhirCall(sender.url, hospitalEhr, 'POST', `/fhir/stu3/Task/${task.id}/$handoff`, {
      resourceType: 'Parameters',
      parameter: [{ name: 'nursingHandoff', resource: transaction(documentOf(examples, NURSING_HANDOFF)) }],
    });
    expect(handedOver.status).toBe(200);
    const refused = await eventually('the pull dead-lettered', async () => {
      const dead = await readStoreOf(receiver.config, (store) => store.outbox.list(vvt.id, { status: 'dead', kind: OUTBOX_KINDS.pull }));
      return dead.find((message) => message.orderingKey === orderingKey(local));
    });
    expect(refused.lastError).toMatch(/Dezi id_token kept for person '900000123' of 'vvt' does not open/);
    expect(refused.lastError).not.toContain(idToken.split('.')[2]);
    const waiting = await fhirCall(receiver.url, deziEhr, 'GET', `/fhir/stu3/Task/${local}`);
    expect([waiting.status, waiting.body.status]).toEqual([200, 'accepted']);

    // Named again ($pull with a fresh token), the nurse's Dezi credential opens the handoff at the sender.
    const again = await ehrTokenNaming(receiver.url, vvt, { dezi_id_token: await deziIdToken() });
    expect((await fhirCall(receiver.url, again, 'POST', `/fhir/stu3/Task/${local}/$pull`)).status).toBe(200);
    await taskWithStatus(receiver.url, again, local, 'in-progress');
    const handoff = localId(hospital.id, NURSING_HANDOFF);
    await eventually('the handoff at the receiver', async () => ((await fhirCall(receiver.url, again, 'GET', `/fhir/stu3/Composition/${handoff}`)).status === 200 ? true : undefined));
    expect(await handoffReaders()).toContainEqual({ who: '900000123', name: 'J. van der Broek' });
    // Needed for the handoff only: once it is here, the record keeps the person without it.
    expect(JSON.parse((await keptPerson(local)).person)).toEqual({ identifier: '900000123', name: 'J. van der Broek', role: '01.041' });
  });
});

/** Who read the nursing handoff at the hospital, as its AuditEvents name the person beside the organisation. */
async function handoffReaders(): Promise<{ who?: string; name?: string }[]> {
  const events = (await auditTrail(sender.url, hospital, `&entity=${NURSING_HANDOFF}`)).filter((event) => event.outcome === '0');
  return events.flatMap((event) => event.agent.slice(1).map((agent) => ({ who: agent.who?.identifier?.value, name: agent.who?.display })));
}
