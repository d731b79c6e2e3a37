import { randomInt, randomUUID } from 'node:crypto';

/**
 * Touchstone's placeholders, predefined variables scripts use without declaring them (Touchstone user guide,
 * "Placeholders"): `${C6}`, `${D9}`, `${CD14}` (letters, digits, or both, 1 to 20 long: one value per run, the
 * same at every use); `${CURRENTDATE}` and `${CURRENTDATETIME}`, optionally offset (`${CURRENTDATE, d, -1}`:
 * portion y, M, d, H, m or s and a signed amount, repeatable); `${UUID}` and `${UUID-NODASH}` (new at each use);
 * `${DATE, T, y, -10}` (Touchstone's date function: the date in variable `T`, or today when there is none, offset alike;
 * Nictiz's test data are dated relative to `T`).
 */
const UNIQUE = /^(C|D|CD)([1-9]|1\d|20)$/;
const OFFSETS = '((?:\\s*,\\s*[yYMdHms]\\s*,\\s*[+-]?\\d+)*)';
const CURRENT = new RegExp(`^CURRENTDATE(TIME)?${OFFSETS}$`);
const DATE = new RegExp(`^DATE\\s*,\\s*([A-Za-z][\\w-]*)${OFFSETS}$`);
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';

const SHIFT: Record<string, (date: Date, amount: number) => void> = {
  y: (date, amount) => date.setUTCFullYear(date.getUTCFullYear() + amount),
  Y: (date, amount) => date.setUTCFullYear(date.getUTCFullYear() + amount),
  M: (date, amount) => date.setUTCMonth(date.getUTCMonth() + amount),
  d: (date, amount) => date.setUTCDate(date.getUTCDate() + amount),
  H: (date, amount) => date.setUTCHours(date.getUTCHours() + amount),
  m: (date, amount) => date.setUTCMinutes(date.getUTCMinutes() + amount),
  s: (date, amount) => date.setUTCSeconds(date.getUTCSeconds() + amount),
};

function randomText(alphabet: string, length: number): string {
  return Array.from({ length }, () => alphabet[randomInt(alphabet.length)]).join('');
}

function shiftedDate(from: Date, withTime: boolean, offsets: string): string {
  const date = new Date(from);
  const parts = offsets.split(',').map((part) => part.trim()).filter(Boolean);
  for (let i = 0; i + 1 < parts.length; i += 2) SHIFT[parts[i]!]!(date, Number(parts[i + 1]));
  const iso = date.toISOString();
  return withTime ? `${iso.slice(0, 19)}Z` : iso.slice(0, 10);
}

/** `DATE, <variable>, offsets…`: the variable to read the base date from (else today) and the date made of it. */
export function dateFunction(name: string, valueOf: (variable: string) => string | undefined): string | undefined {
  const match = DATE.exec(name);
  if (!match) return undefined;
  const base = valueOf(match[1]!);
  const from = base && !Number.isNaN(Date.parse(base)) ? new Date(base) : new Date();
  return shiftedDate(from, base !== undefined && base.length > 10, match[2] ?? '');
}

export class Placeholders {
  private readonly unique = new Map<string, string>();

  value(name: string): string | undefined {
    const unique = UNIQUE.exec(name);
    if (unique) {
      const alphabet = unique[1] === 'C' ? LETTERS : unique[1] === 'D' ? DIGITS : LETTERS + DIGITS;
      if (!this.unique.has(name)) this.unique.set(name, randomText(alphabet, Number(unique[2])));
      return this.unique.get(name);
    }
    const current = CURRENT.exec(name);
    if (current) return shiftedDate(new Date(), current[1] !== undefined, current[2] ?? '');
    if (name === 'UUID') return randomUUID();
    if (name === 'UUID-NODASH') return randomUUID().replace(/-/g, '');
    return undefined;
  }
}
