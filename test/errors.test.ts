import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { REFUSAL_REASON_SYSTEM, REFUSAL_REASONS } from '../src/vocabulary/canonical.js';
import { OAuthError } from '../src/auth/errors.js';
import { CredentialRevoked, TokenError } from '../src/auth/jws.js';
import { GatewayError } from '../src/errors.js';
import { BodyTooLarge } from '../src/http/bodies.js';
import { OperationOutcomeError } from '../src/fhir/outcome.js';
import { VersionConflict } from '../src/store/optimistic.js';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));
const REFUSAL_REASON_CODE_SYSTEM = new URL('../profiles/r4/auth/CodeSystem-refusal-reason.json', import.meta.url);
const CLASS = /class (\w+)(?:<[^>]*>)? extends (\w+) \{([\s\S]*?)\n\}/g;
const STATIC_CODE = /static override readonly code(?:: string)? = '([^']*)'/;

/** Every class in src that extends another, with the code it declares, read from the source text. */
function declaredClasses(): { name: string; base: string; code?: string }[] {
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts'));
  return files.flatMap((file) =>
    [...readFileSync(path.join(SRC, file), 'utf8').matchAll(CLASS)].map(([, name, base, body]) => ({ name: name!, base: base!, code: STATIC_CODE.exec(body!)?.[1] })),
  );
}

/** The error classes: those whose chain of bases reaches GatewayError or Error. */
function errorClasses() {
  const classes = declaredClasses();
  const byName = new Map(classes.map((declared) => [declared.name, declared]));
  const isError = (name: string): boolean => name === 'Error' || name === 'GatewayError' || (byName.has(name) && isError(byName.get(name)!.base));
  return classes.filter((declared) => declared.name !== 'GatewayError' && isError(declared.base));
}

/** Callers branch on an error's class or code, never its message (as jose's errors do). */
describe('error codes', () => {
  it('every error class in src extends GatewayError and declares a code of its own', () => {
    const classes = errorClasses();
    expect(classes.length).toBeGreaterThan(10);
    for (const declared of classes) {
      expect({ name: declared.name, base: declared.base }).not.toEqual({ name: declared.name, base: 'Error' });
      expect({ name: declared.name, code: declared.code }).toEqual({ name: declared.name, code: expect.stringMatching(/^ERR_[A-Z]+(_[A-Z]+)*$/) });
    }
    const codes = classes.map((declared) => declared.code);
    expect(codes).toEqual([...new Set(codes)]);
  });

  it.each([
    [new CredentialRevoked('authorization credential revoked'), CredentialRevoked, TokenError],
    [new VersionConflict('Task/1'), VersionConflict, OperationOutcomeError],
    [new OAuthError('invalid_grant', 'expired'), OAuthError, GatewayError],
    [new BodyTooLarge(1024), BodyTooLarge, GatewayError],
  ])('%s carries the code and name of its class', (error, type, base) => {
    expect(error).toBeInstanceOf(base);
    expect({ code: error.code, name: error.name }).toEqual({ code: type.code, name: type.name });
  });
});

/** Between gateways the code travels, from one CodeSystem; the English text beside it is for people. */
describe('refusal reasons', () => {
  it('are the concepts of CodeSystem refusal-reason, and only those', () => {
    const codeSystem = JSON.parse(readFileSync(REFUSAL_REASON_CODE_SYSTEM, 'utf8')) as { url: string; count: number; concept: { code: string }[] };
    expect(codeSystem.url).toBe(REFUSAL_REASON_SYSTEM);
    expect(codeSystem.concept.map((concept) => concept.code).sort()).toEqual(Object.values(REFUSAL_REASONS).sort());
    expect(codeSystem.count).toBe(codeSystem.concept.length);
  });

  it('travel in the token error body beside the RFC 6749 error', () => {
    expect(new OAuthError('invalid_grant', 'credential revoked or unknown', { reason: REFUSAL_REASONS.credentialRevoked }).body).toEqual({
      error: 'invalid_grant',
      error_description: 'credential revoked or unknown',
      vervolgzorg_refusal_reason: 'credential-revoked',
    });
    expect(new OAuthError('invalid_grant', 'expired').body).toEqual({ error: 'invalid_grant', error_description: 'expired' });
  });
});
