import type { Kysely, Migration } from 'kysely';

/**
 * Dezi id_tokens are kept sealed (encrypted, auth/credentials/sealedDezi.ts) from this version on. One kept before it
 * is in clear: it is dropped, from an inbound transfer's person and from an access token's person. The person stays;
 * the EHR hands the id_token over again with its next token, where it is wanted.
 */
export function deziInClear(): Migration {
  return {
    async up(db: Kysely<any>) {
      const transfers = await db.selectFrom('transfer_records').select(['tenant', 'task', 'person']).where('person', 'like', CLEAR_DEZI).execute();
      for (const { tenant, task, person } of transfers) {
        const kept = JSON.stringify(withoutClearDezi(JSON.parse(person as string) as Person));
        await db.updateTable('transfer_records').set({ person: kept }).where('tenant', '=', tenant).where('task', '=', task).execute();
      }
      const tokens = await db.selectFrom('access_tokens').select(['id', 'claims']).where('claims', 'like', CLEAR_DEZI).execute();
      for (const { id, claims } of tokens) {
        const { person, ...rest } = JSON.parse(claims as string) as { person?: Person };
        const kept = JSON.stringify({ ...rest, ...(person ? { person: withoutClearDezi(person) } : {}) });
        await db.updateTable('access_tokens').set({ claims: kept }).where('id', '=', id).execute();
      }
    },
  };
}

/** As JSON.stringify wrote a person whose `dezi` was the id_token itself (a sealed one is an object). */
const CLEAR_DEZI = '%"dezi":"%';

type Person = { dezi?: unknown };

function withoutClearDezi(person: Person): Person {
  const { dezi, ...rest } = person;
  return typeof dezi === 'string' ? rest : person;
}
