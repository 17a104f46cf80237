// An independent FAPI 2.0 client (oauth4webapi, a certified relying-party
// library) driving Bankbridge's authorization server end to end, with a real
// browser (Debian's chromium through playwright-core) for the customer's login
// and consent: discovery → PAR (private_key_jwt + DPoP) → login + consent →
// code exchange (DPoP-bound token, id_token validated by the library) →
// introspection (cnf.jkt) → optional resource calls → refresh → revocation.
//
// Input (environment): ISSUER, CLIENT_ID, CLIENT_JWK (private JWK with kid),
// REDIRECT_URI (intercepted, never served), USERNAME, PASSWORD, SCOPE (default
// "openid accounts"), AUTHORIZATION_DETAILS (optional JSON array),
// DECISION ("authorise" | "deny"), RESOURCE_CALLS (optional JSON array of
// [method, path]), ARTIFACTS (screenshot directory), CHROMIUM.
// Output: one JSON object on stdout describing each step's result.
import * as oauth from 'oauth4webapi'
import { webcrypto as crypto } from 'node:crypto'
import { Client, env, run } from './lib.mjs'

async function thumbprint(publicKey) {
  const jwk = await crypto.subtle.exportKey('jwk', publicKey)
  const members = jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { e: jwk.e, kty: jwk.kty, n: jwk.n }
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify(members)))
  return Buffer.from(digest).toString('base64url')
}

run(async step => {
  const c = await Client.create({ issuer: env.ISSUER, clientId: env.CLIENT_ID, privateJwk: env.CLIENT_JWK })
  step('discovery', { par_required: c.as.require_pushed_authorization_requests, iss_param: c.as.authorization_response_iss_parameter_supported })
  const scope = env.SCOPE || 'openid accounts'
  const tokens = await c.authorize({
    scope, redirectUri: env.REDIRECT_URI, username: env.USERNAME, password: env.PASSWORD,
    decision: env.DECISION || 'authorise', artifacts: env.ARTIFACTS,
    authorizationDetails: env.AUTHORIZATION_DETAILS ? JSON.parse(env.AUTHORIZATION_DETAILS) : undefined,
    onCallback: url => step('callback', { has_iss: new URL(url).searchParams.has('iss') }),
  })
  step('consent_page', { text: tokens.consentText.slice(0, 3000) })
  if (tokens.error) {
    step('authorization_error', { error: tokens.error })
    return
  }
  const idClaims = oauth.getValidatedIdTokenClaims(tokens)
  step('token', {
    token_type: tokens.token_type, has_refresh_token: !!tokens.refresh_token,
    id_token_sub: idClaims?.sub, id_token_aud: idClaims?.aud,
    authorization_details: tokens.authorization_details, scope: tokens.scope,
  })

  const jkt = await thumbprint(c.dpopKeys.publicKey)
  const intro = await oauth.processIntrospectionResponse(c.as, c.client,
    await oauth.introspectionRequest(c.as, c.client, c.auth, tokens.access_token, c.insecure))
  step('introspection', { active: intro.active, cnf_jkt_matches: intro.cnf?.jkt === jkt, client_id: intro.client_id, scope: intro.scope, token_type: intro.token_type })

  for (const [method, path] of JSON.parse(env.RESOURCE_CALLS || '[]')) {
    const r = await c.call(tokens.access_token, method, path)
    step('resource', { method, path, status: r.status, body: JSON.stringify(r.json).slice(0, 4000) })
  }

  const refreshed = await c.retryNonce(async () => oauth.processRefreshTokenResponse(c.as, c.client,
    await oauth.refreshTokenGrantRequest(c.as, c.client, c.auth, tokens.refresh_token, { DPoP: c.dpop, ...c.insecure })))
  step('refresh', { token_type: refreshed.token_type, new_access_token: refreshed.access_token !== tokens.access_token, rotated_refresh: !!refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token })

  await oauth.processRevocationResponse(await oauth.revocationRequest(c.as, c.client, c.auth, refreshed.access_token, c.insecure))
  const after = await oauth.processIntrospectionResponse(c.as, c.client,
    await oauth.introspectionRequest(c.as, c.client, c.auth, refreshed.access_token, c.insecure))
  step('revocation', { active_after: after.active })
})
