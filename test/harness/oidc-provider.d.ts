// oidc-provider ships no types; the demo uses its constructor and `listen`.
declare module 'oidc-provider';
