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
  assert.equal(metadata.userinfo_endpoint, new URL('connect/userinfo', issuer).href);
  assert.equal(metadata.end_session_endpoint, new URL('connect/endsession', issuer).href);
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

  const callback = await signInThroughTheBrowserFlow(authorizationUrl);
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
  const callback = await signInThroughTheBrowserFlow(url);
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
  await client.tokenRevocation(config, tokens.refresh_token);
  await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token), (e) => e.error === 'invalid_grant');
});

test('userinfo: the subject, and the profile only with the profile scope', async () => {
  const config = await peopleApp();
  const browser = newBrowser();
  for (const [scope, withProfile] of [['openid resident', false], ['openid profile resident', true]]) {
    const { tokens } = await browser.codeFlow(config, { scope });
    const info = await client.fetchUserInfo(config, tokens.access_token, env('INFOBANK_ACCOUNT_ID'));
    assert.equal(info.sub, env('INFOBANK_ACCOUNT_ID'));
    assert.equal(info.preferred_username === env('INFOBANK_USERNAME'), withProfile);
    assert.equal(info.name !== undefined, withProfile);
  }
});

test('prompt=login and max_age ask for the password again, and auth_time says when it was typed', async () => {
  const config = await peopleApp();
  const browser = newBrowser();
  const first = await browser.codeFlow(config);
  assert.equal(first.signedIn, true);
  const firstAuthTime = first.tokens.claims().auth_time;
  assert.ok(Number.isInteger(firstAuthTime));

  // Signed in: straight back to the app, same auth_time.
  const silent = await browser.codeFlow(config);
  assert.equal(silent.signedIn, false);
  assert.equal(silent.tokens.claims().auth_time, firstAuthTime);

  await new Promise((resolve) => setTimeout(resolve, 1100));
  const again = await browser.codeFlow(config, { prompt: 'login' });
  assert.equal(again.signedIn, true);
  assert.ok(again.tokens.claims().auth_time > firstAuthTime);

  // openid-client checks auth_time against max_age itself.
  const fresh = await browser.codeFlow(config, { max_age: '0' });
  assert.equal(fresh.signedIn, true);
});

test('RP-initiated logout ends the session and an unregistered return URI is refused', async () => {
  const config = await peopleApp();
  const browser = newBrowser();
  const { tokens } = await browser.codeFlow(config);

  const unregistered = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token, post_logout_redirect_uri: 'https://evil.example/' });
  const refused = await browser.send(unregistered);
  assert.equal(refused.status, 400);
  assert.equal((await browser.codeFlow(config)).signedIn, false, 'a refused logout must not sign out');

  const logout = await browser.send(client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token }));
  assert.equal(logout.status, 302);
  const page = await browser.send(new URL(logout.headers.get('location'), issuer));
  assert.match(await page.text(), /You are signed out/);
  assert.equal((await browser.codeFlow(config)).signedIn, true, 'after logout the password is needed again');
  // Logout revokes nothing: the app's refresh token is still its own.
  assert.ok((await client.refreshTokenGrant(config, tokens.refresh_token)).access_token);
});

// A minimal browser: keeps cookies across requests and follows the server's redirects by hand.
function newBrowser() {
  const cookies = new Map();
  const send = async (url, init = {}) => {
    const headers = { ...(init.headers ?? {}), cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1);
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) cookies.delete(name);
      else cookies.set(name, value);
    }
    return response;
  };

  // Authorization code + PKCE through this browser; signs in on the way if the server asks.
  const codeFlow = async (config, parameters = {}) => {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid offline_access resident',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      ...parameters,
    });
    let next = await send(url);
    assert.equal(next.status, 302);
    let location = new URL(next.headers.get('location'), url);
    const signedIn = location.pathname === '/signin';
    if (signedIn) location = await signIn(location);
    assert.equal(`${location.origin}${location.pathname}`, redirectUri);
    const maxAge = parameters.max_age === undefined ? undefined : Number(parameters.max_age);
    const tokens = await client.authorizationCodeGrant(config, location, { pkceCodeVerifier: verifier, expectedState: state, maxAge });
    return { tokens, signedIn };
  };

  // Posts the sign-in form with its anti-forgery token; returns the redirect to the client's callback (not fetched).
  const signIn = async (signInUrl) => {
    const page = await send(signInUrl);
    assert.equal(page.status, 200);
    const html = await page.text();
    const hidden = (name) => {
      const tag = html.match(new RegExp(`<input[^>]*name="${name}"[^>]*>`))?.[0];
      return tag?.match(/value="([^"]*)"/)?.[1]?.replaceAll('&amp;', '&').replaceAll('&#x2B;', '+').replaceAll('&#x2F;', '/').replaceAll('&#x3D;', '=').replaceAll('&#x3F;', '?');
    };
    const form = new URLSearchParams({
      Username: env('INFOBANK_USERNAME'),
      Password: env('INFOBANK_PASSWORD'),
      ReturnUrl: hidden('ReturnUrl') ?? '',
      __RequestVerificationToken: hidden('__RequestVerificationToken'),
    });
    const back = await send(signInUrl, { method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(back.status, 302, 'the sign-in form should redirect back to the authorization endpoint');
    const toCallback = await send(new URL(back.headers.get('location'), signInUrl));
    assert.equal(toCallback.status, 302);
    return new URL(toCallback.headers.get('location'));
  };

  return { send, codeFlow, signIn };
}

// The whole browser part of the code flow for a fresh browser; returns the redirect to the client's callback.
async function signInThroughTheBrowserFlow(authorizationUrl) {
  const browser = newBrowser();
  const toSignIn = await browser.send(authorizationUrl);
  assert.equal(toSignIn.status, 302);
  const signInUrl = new URL(toSignIn.headers.get('location'), authorizationUrl);
  assert.equal(signInUrl.pathname, '/signin');
  return browser.signIn(signInUrl);
}
