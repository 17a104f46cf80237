// openid-client v6 (a certified relying-party library) driving Bankbridge
// with its defaults: PAR with PKCE S256 and *no state* (openid-client sends
// none unless asked), private_key_jwt, DPoP; the customer's login and consent
// in chromium; code exchange with the library validating the authorization
// response (iss, absent state) and the id_token. Then oauth4webapi, as a
// resource server, asks for a signed introspection response (RFC 9701) and
// validates it and its signature against the bank's JWKS.
//
// Input (environment): ISSUER, CLIENT_ID, CLIENT_JWK (private JWK with kid),
// REDIRECT_URI (intercepted, never served), USERNAME, PASSWORD, SCOPE
// (default "openid"), DECISION ("authorise" | "deny"), JARM ("1": ask for a
// JWT-secured authorization response), JAR ("1": push a signed request
// object), ACR_VALUES and CLAIMS (pushed as acr_values and claims when set),
// REFRESH ("1": refresh the tokens and read the refreshed id_token),
// ARTIFACTS, CHROMIUM.
// Output: one JSON object on stdout describing each step's result.
import * as client from 'openid-client'
import * as oauth from 'oauth4webapi'
import { webcrypto as crypto } from 'node:crypto'
import { Client, browserConsent, env, run } from './lib.mjs'

run(async step => {
  const issuer = new URL(env.ISSUER)
  const jwk = JSON.parse(env.CLIENT_JWK)
  const alg = jwk.alg || (jwk.kty === 'EC' ? 'ES256' : 'PS256')
  const params = alg === 'ES256' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'RSA-PSS', hash: 'SHA-256' }
  const key = await crypto.subtle.importKey('jwk', jwk, params, false, ['sign'])
  const config = await client.discovery(issuer, env.CLIENT_ID, undefined, client.PrivateKeyJwt({ key, kid: jwk.kid }),
    issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : undefined)
  step('discovery', { issuer: config.serverMetadata().issuer })
  // JARM=1: response_mode=jwt, the library verifying the signed response.
  if (env.JARM === '1') client.useJwtResponseMode(config)
  const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'))

  const codeVerifier = client.randomPKCECodeVerifier()
  const parameters = {
    redirect_uri: env.REDIRECT_URI, scope: env.SCOPE || 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256',
  }
  if (env.ACR_VALUES) parameters.acr_values = env.ACR_VALUES
  if (env.CLAIMS) parameters.claims = env.CLAIMS
  let pushed = parameters
  if (env.JAR === '1') {
    // A signed request object (RFC 9101) pushed through PAR.
    pushed = (await client.buildAuthorizationUrlWithJAR(config, parameters, { key, kid: jwk.kid })).searchParams
  }
  const url = await client.buildAuthorizationUrlWithPAR(config, pushed, { DPoP })
  step('par', { request_uri: url.searchParams.has('request_uri'), sent_state: 'state' in parameters,
    pushed: [...new URLSearchParams(pushed).keys()].sort().join(' ') })

  const { callback } = await browserConsent({ url: url.href, redirectUri: env.REDIRECT_URI, username: env.USERNAME,
    password: env.PASSWORD, decision: env.DECISION || 'authorise', artifacts: env.ARTIFACTS, label: 'openid-client' })
  const cb = new URL(callback)
  step('callback', { has_iss: cb.searchParams.has('iss'), has_state: cb.searchParams.has('state'), has_code: cb.searchParams.has('code'),
    has_response: cb.searchParams.has('response'), params: [...cb.searchParams.keys()].sort().join(' ') })

  let tokens
  try {
    tokens = await client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: codeVerifier, idTokenExpected: true }, undefined, { DPoP })
  } catch (err) {
    if (err instanceof client.AuthorizationResponseError) {
      step('authorization_error', { error: err.error, error_description: err.error_description })
      return
    }
    throw err
  }
  const claims = tokens.claims()
  step('token', { token_type: tokens.token_type, has_refresh_token: !!tokens.refresh_token, id_token_aud: claims?.aud, id_token_iss: claims?.iss,
    id_token_acr: claims?.acr, id_token_amr: Array.isArray(claims?.amr) ? claims.amr.join(' ') : claims?.amr })
  if (env.REFRESH === '1') {
    // The refreshed id_token (OpenID Connect Core §12.2), validated by the
    // library, says the same about the customer's authentication.
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP })
    const rc = refreshed.claims()
    step('refresh', { has_id_token: !!refreshed.id_token, same_sub: rc?.sub === claims?.sub, same_auth_time: rc?.auth_time === claims?.auth_time,
      id_token_acr: rc?.acr, id_token_amr: Array.isArray(rc?.amr) ? rc.amr.join(' ') : rc?.amr })
  }

  const rs = await Client.create({ issuer: env.ISSUER, clientId: env.CLIENT_ID, privateJwk: env.CLIENT_JWK })
  step('introspection_discovery', { algs: rs.as.introspection_signing_alg_values_supported })
  const resp = await oauth.introspectionRequest(rs.as, rs.client, rs.auth, tokens.access_token, { requestJwtResponse: true, ...rs.insecure })
  const contentType = resp.headers.get('content-type')
  const intro = await oauth.processIntrospectionResponse(rs.as, rs.client, resp)
  await oauth.validateApplicationLevelSignature(rs.as, resp, rs.insecure)
  step('signed_introspection', { content_type: contentType, active: intro.active, client_id: intro.client_id, token_type: intro.token_type })
})
