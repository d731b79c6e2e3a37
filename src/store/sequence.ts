let last = 0;

/**
 * The order of writes within one millisecond (versions of the same `last_updated`): microseconds since the epoch,
 * made strictly increasing in this process, so history lists them in the order they were written without a shared
 * counter to update on every write. Between processes sharing a database, the order within a millisecond is only
 * as good as their clocks.
 */
export function nextWriteSeq(): number {
  last = Math.max(Date.now() * 1000, last + 1);
  return last;
}
