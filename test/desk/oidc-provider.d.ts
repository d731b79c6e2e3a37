// oidc-provider ships no types; the test uses its constructor, `listen` and the configuration documented upstream.
declare module 'oidc-provider';
