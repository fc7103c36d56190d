// End-to-end check of InfoBank's OAuth 2.0 / OpenID Connect server with a third-party client
// library (openid-client, not our code), against a real Kestrel server. run.sh starts the server,
// registers the clients and a resident through the `infobank` CLI and passes them in here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run through tests/oidc-client/run.sh)`);
  return value;
};

const issuer = new URL(env('INFOBANK_URL'));
const redirectUri = env('INFOBANK_REDIRECT_URI');
// Plain HTTP is allowed only because the server under test listens on loopback.
const insecure = { execute: [client.allowInsecureRequests] };

const business = () => client.discovery(issuer, env('INFOBANK_BUSINESS_ID'), env('INFOBANK_BUSINESS_SECRET'), undefined, insecure);
const peopleApp = () => client.discovery(issuer, env('INFOBANK_APP_ID'), undefined, client.None(), insecure);

test('discovery document describes the server', async () => {
  const config = await business();
  const metadata = config.serverMetadata();
  assert.equal(metadata.issuer, issuer.href);
  assert.equal(metadata.token_endpoint, new URL('connect/token', issuer).href);
  assert.equal(metadata.authorization_endpoint, new URL('connect/authorize', issuer).href);
  assert.deepEqual(metadata.code_challenge_methods_supported, ['S256']);
  assert.ok(metadata.grant_types_supported.includes('client_credentials'));
  assert.ok(metadata.grant_types_supported.includes('refresh_token'));
  const jwks = await (await fetch(metadata.jwks_uri)).json();
  assert.ok(jwks.keys.length >= 1 && jwks.keys.every((k) => k.kid && !k.d));
});

test('client credentials: a business gets a business-scoped token', async () => {
  const config = await business();
  const tokens = await client.clientCredentialsGrant(config, { scope: 'business' });
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  // OAuth lets the server omit `scope` when it granted exactly what was asked.
  assert.ok(tokens.scope === undefined || tokens.scope === 'business', `scope ${tokens.scope}`);
  assert.ok(tokens.expires_in > 0 && tokens.expires_in <= 600);
  assert.equal(tokens.refresh_token, undefined);

  const introspection = await client.tokenIntrospection(config, tokens.access_token);
  assert.equal(introspection.active, true);
  assert.equal(introspection.client_id, env('INFOBANK_BUSINESS_ID'));

  // The token works as a business token and nothing more.
  const admin = await fetch(new URL('api/v1/admin/accounts', issuer), { headers: { authorization: `Bearer ${tokens.access_token}` } });
  assert.equal(admin.status, 403);
});

test('client credentials: a wrong secret is refused with invalid_client', async () => {
  const config = await client.discovery(issuer, env('INFOBANK_BUSINESS_ID'), 'not-the-secret', undefined, insecure);
  // A 401 whose WWW-Authenticate challenge carries the error (RFC 6749 section 5.2).
  await assert.rejects(client.clientCredentialsGrant(config, { scope: 'business' }), (e) =>
    e.error === 'invalid_client' || e.cause?.some?.((c) => c.parameters?.error === 'invalid_client'));
});

test('authorization code + PKCE, then refresh with rotation and reuse detection', async () => {
  const config = await peopleApp();
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid offline_access resident',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });

  const callback = await signInThroughTheBrowserFlow(authorizationUrl, env('INFOBANK_USERNAME'), env('INFOBANK_PASSWORD'));
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
  assert.ok(tokens.refresh_token);
  assert.equal(tokens.claims().sub, env('INFOBANK_ACCOUNT_ID'));

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.ok(refreshed.access_token);
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
  assert.equal(refreshed.claims().sub, env('INFOBANK_ACCOUNT_ID'));

  // Replaying the used refresh token is refused (and revokes the chain).
  await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token), (e) => e.error === 'invalid_grant');
  await assert.rejects(client.refreshTokenGrant(config, refreshed.refresh_token), (e) => e.error === 'invalid_grant');
});

test('revoked refresh token cannot be used', async () => {
  const config = await peopleApp();
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid offline_access resident',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  const callback = await signInThroughTheBrowserFlow(url, env('INFOBANK_USERNAME'), env('INFOBANK_PASSWORD'));
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
  await client.tokenRevocation(config, tokens.refresh_token);
  await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token), (e) => e.error === 'invalid_grant');
});

// A minimal browser: follows the server's redirects by hand, keeps cookies, and posts the sign-in
// form with its anti-forgery token. Returns the redirect to the client's callback (not fetched).
async function signInThroughTheBrowserFlow(authorizationUrl, username, password) {
  const cookies = new Map();
  const send = async (url, init = {}) => {
    const headers = { ...(init.headers ?? {}), cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair.indexOf('=');
      cookies.set(pair.slice(0, at).trim(), pair.slice(at + 1));
    }
    return response;
  };

  const toSignIn = await send(authorizationUrl);
  assert.equal(toSignIn.status, 302);
  const signInUrl = new URL(toSignIn.headers.get('location'), authorizationUrl);
  assert.equal(signInUrl.pathname, '/signin');

  const page = await send(signInUrl);
  assert.equal(page.status, 200);
  const html = await page.text();
  const hidden = (name) => {
    const tag = html.match(new RegExp(`<input[^>]*name="${name}"[^>]*>`))?.[0];
    return tag?.match(/value="([^"]*)"/)?.[1]?.replaceAll('&amp;', '&').replaceAll('&#x2B;', '+').replaceAll('&#x2F;', '/').replaceAll('&#x3D;', '=').replaceAll('&#x3F;', '?');
  };
  const form = new URLSearchParams({
    Username: username,
    Password: password,
    ReturnUrl: hidden('ReturnUrl') ?? '',
    __RequestVerificationToken: hidden('__RequestVerificationToken'),
  });
  const back = await send(signInUrl, { method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(back.status, 302, 'the sign-in form should redirect back to the authorization endpoint');

  const toCallback = await send(new URL(back.headers.get('location'), signInUrl));
  assert.equal(toCallback.status, 302);
  const callback = new URL(toCallback.headers.get('location'));
  assert.equal(`${callback.origin}${callback.pathname}`, redirectUri);
  return callback;
}
