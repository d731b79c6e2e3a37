import { describe, expect, it } from '@jest/globals';
import { newResourceId } from '../../src/store/ids.js';

describe('newResourceId', () => {
  it('makes UUIDs version 7: the creation time first, then random bits', () => {
    const id = newResourceId(Date.UTC(2026, 2, 1));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(Date.UTC(2026, 2, 1));
    expect(newResourceId(Date.UTC(2026, 2, 1))).not.toBe(id);
  });

  it('sorts ids by the time they were made', () => {
    const times = [0, 1, 255, 256, 65_535, Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 1) + 1, 2 ** 48 - 1];
    const ids = times.map((time) => newResourceId(time));
    expect([...ids].sort()).toEqual(ids);
  });
});
