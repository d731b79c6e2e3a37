import { describe, expect, it } from '@jest/globals';
import { wantsReadableLogs } from '../src/logging/logger.js';

/** Readable lines where a person watches a terminal in development; JSON for collectors everywhere else. */
describe('log format', () => {
  it('is JSON in production', () => {
    expect(wantsReadableLogs('production', {})).toBe(false);
  });

  it('follows LOG_FORMAT whatever the mode', () => {
    expect(wantsReadableLogs('production', { LOG_FORMAT: 'pretty' })).toBe(true);
    expect(wantsReadableLogs('development', { LOG_FORMAT: 'json' })).toBe(false);
  });
});
