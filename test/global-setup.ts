/**
 * Names this jest run's PostgreSQL databases before any worker starts (the workers inherit the variable): each worker
 * gets `<database>_<run>_w<worker>`, see test/postgres-run.ts. Jest loads this file outside its module mapping, so it
 * imports nothing of ours.
 */
export default function globalSetup(): void {
  const server = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
  process.env.GATEWAY_TEST_DATABASE_PREFIX = `${server.pathname.slice(1) || 'test'}_${process.pid}_w`;
}
