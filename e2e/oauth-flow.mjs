// An independent FAPI 2.0 client (oauth4webapi, a certified relying-party
// library) driving Bankbridge end to end, with a real browser (Debian's
// chromium through playwright-core) for the customer's login and consent.
//
// Input (environment):
//   ISSUER             the authorization server's issuer URL
//   CLIENT_ID          the partner app's client_id
//   CLIENT_JWK         the app's private signing key as a JWK (JSON, with kid and alg)
//   REDIRECT_URI       a redirect URI registered for the app (intercepted, never served)
//   USERNAME, PASSWORD a sandbox customer's login
//   SCOPE              default "openid accounts"
//   AUTHORIZATION_DETAILS  optional RFC 9396 JSON array for PAR
//   DECISION           "authorise" (default) or "deny"
//   RESOURCE_CALLS     optional JSON array of [method, path] to call with the token
//   ARTIFACTS          optional directory for screenshots
//   CHROMIUM           the browser binary (default /usr/bin/chromium)
// Output: one JSON object on stdout describing each step's result.
import * as oauth from 'oauth4webapi'
import { chromium } from 'playwright-core'
import { webcrypto as crypto } from 'node:crypto'
import { mkdirSync } from 'node:fs'

const env = process.env
const issuer = new URL(env.ISSUER)
const insecure = { [oauth.allowInsecureRequests]: issuer.protocol === 'http:' }
const out = { steps: [] }
const step = (name, data = {}) => out.steps.push({ name, ...data })

async function importPrivateJwk(jwk) {
  const alg = jwk.alg || (jwk.kty === 'EC' ? 'ES256' : 'PS256')
  const params = alg === 'ES256' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'RSA-PSS', hash: 'SHA-256' }
  const key = await crypto.subtle.importKey('jwk', jwk, params, false, ['sign'])
  return { key, kid: jwk.kid }
}

async function thumbprint(publicKey) {
  const jwk = await crypto.subtle.exportKey('jwk', publicKey)
  const members = jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { e: jwk.e, kty: jwk.kty, n: jwk.n }
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify(members)))
  return Buffer.from(digest).toString('base64url')
}

// retryNonce repeats a request once when the server asks for a DPoP nonce
// (RFC 9449 §8): the DPoP handle has then cached the nonce.
async function retryNonce(fn) {
  try {
    return await fn()
  } catch (err) {
    if (oauth.isDPoPNonceError(err)) return await fn()
    throw err
  }
}

async function main() {
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...insecure }))
  step('discovery', { par_required: as.require_pushed_authorization_requests, iss_param: as.authorization_response_iss_parameter_supported })

  const client = { client_id: env.CLIENT_ID }
  const clientAuth = oauth.PrivateKeyJwt(await importPrivateJwk(JSON.parse(env.CLIENT_JWK)))
  const dpopKeys = await oauth.generateKeyPair('ES256')
  const dpop = oauth.DPoP(client, dpopKeys)
  const jkt = await thumbprint(dpopKeys.publicKey)

  const codeVerifier = oauth.generateRandomCodeVerifier()
  const state = oauth.generateRandomState()
  const nonce = oauth.generateRandomNonce()
  const params = new URLSearchParams({
    response_type: 'code',
    redirect_uri: env.REDIRECT_URI,
    scope: env.SCOPE || 'openid accounts',
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  })
  if (env.AUTHORIZATION_DETAILS) params.set('authorization_details', env.AUTHORIZATION_DETAILS)

  const par = await retryNonce(async () =>
    oauth.processPushedAuthorizationResponse(as, client,
      await oauth.pushedAuthorizationRequest(as, client, clientAuth, params, { DPoP: dpop, ...insecure })))
  step('par', { request_uri_prefix: par.request_uri.slice(0, 24), expires_in: par.expires_in })

  const authURL = new URL(as.authorization_endpoint)
  authURL.searchParams.set('client_id', client.client_id)
  authURL.searchParams.set('request_uri', par.request_uri)

  const callbackURL = await browserLoginAndConsent(authURL.href)
  step('callback', { has_iss: new URL(callbackURL).searchParams.has('iss') })

  let callbackParams
  try {
    callbackParams = oauth.validateAuthResponse(as, client, new URL(callbackURL), state)
  } catch (err) {
    if (err instanceof oauth.AuthorizationResponseError) {
      step('authorization_error', { error: err.error, error_description: err.error_description })
      return
    }
    throw err
  }

  const tokens = await retryNonce(async () =>
    oauth.processAuthorizationCodeResponse(as, client,
      await oauth.authorizationCodeGrantRequest(as, client, clientAuth, callbackParams, env.REDIRECT_URI, codeVerifier, { DPoP: dpop, ...insecure }),
      { expectedNonce: nonce, requireIdToken: (env.SCOPE || 'openid').includes('openid') }))
  const idClaims = oauth.getValidatedIdTokenClaims(tokens)
  step('token', {
    token_type: tokens.token_type,
    has_refresh_token: !!tokens.refresh_token,
    id_token_sub: idClaims?.sub,
    id_token_aud: idClaims?.aud,
    authorization_details: tokens.authorization_details,
    scope: tokens.scope,
  })

  const intro = await oauth.processIntrospectionResponse(as, client,
    await oauth.introspectionRequest(as, client, clientAuth, tokens.access_token, insecure))
  step('introspection', { active: intro.active, cnf_jkt_matches: intro.cnf?.jkt === jkt, client_id: intro.client_id, scope: intro.scope, token_type: intro.token_type })

  for (const [method, path] of JSON.parse(env.RESOURCE_CALLS || '[]')) {
    const resp = await retryNonce(async () => {
      const r = await oauth.protectedResourceRequest(tokens.access_token, method, new URL(path, issuer), new Headers({ accept: 'application/json' }), null, { DPoP: dpop, ...insecure })
      return r
    })
    const body = await resp.text()
    step('resource', { method, path, status: resp.status, body: body.length > 4000 ? body.slice(0, 4000) : body })
  }

  const refreshed = await retryNonce(async () =>
    oauth.processRefreshTokenResponse(as, client,
      await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token, { DPoP: dpop, ...insecure })))
  step('refresh', { token_type: refreshed.token_type, new_access_token: refreshed.access_token !== tokens.access_token, rotated_refresh: !!refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token })

  await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, clientAuth, refreshed.access_token, insecure))
  const after = await oauth.processIntrospectionResponse(as, client,
    await oauth.introspectionRequest(as, client, clientAuth, refreshed.access_token, insecure))
  step('revocation', { active_after: after.active })
}

async function browserLoginAndConsent(url) {
  const artifacts = env.ARTIFACTS
  if (artifacts) mkdirSync(artifacts, { recursive: true })
  const browser = await chromium.launch({
    executablePath: env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  try {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } })
    let callback
    await page.route(u => u.href.startsWith(env.REDIRECT_URI), async route => {
      callback = route.request().url()
      await route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>partner callback</title><h1>Back at the partner</h1>' })
    })
    await page.goto(url)
    await page.getByLabel('Username').fill(env.USERNAME)
    await page.getByLabel('Password').fill(env.PASSWORD)
    if (artifacts) await page.screenshot({ path: `${artifacts}/customer-login.png`, fullPage: true })
    await page.locator('form:has(input[name="password"]) button[type="submit"], form:has(input[type="password"]) button').first().click()
    await page.getByRole('button', { name: 'Authorise' }).waitFor({ timeout: 15000 })
    const consentText = await page.locator('main').innerText()
    step('consent_page', { text: consentText.slice(0, 3000) })
    // Choose accounts when the page offers a choice: every checkbox, or the first radio.
    for (const box of await page.locator('input[type="checkbox"]:not([disabled])').all()) await box.check()
    const radios = page.locator('input[type="radio"]:not([disabled])')
    if (await radios.count() > 0 && !(await page.locator('input[type="radio"]:checked').count())) await radios.first().check()
    if (artifacts) await page.screenshot({ path: `${artifacts}/customer-consent.png`, fullPage: true })
    const button = (env.DECISION || 'authorise') === 'deny' ? 'Deny' : 'Authorise'
    await page.getByRole('button', { name: button }).click()
    for (let i = 0; i < 100 && !callback; i++) await page.waitForTimeout(100)
    if (!callback) throw new Error('no redirect to the partner after ' + button + '; page says: ' + (await page.locator('body').innerText()).slice(0, 500))
    return callback
  } finally {
    await browser.close()
  }
}

main().then(
  () => { process.stdout.write(JSON.stringify(out) + '\n') },
  err => {
    out.error = { name: err?.name, code: err?.code, message: String(err?.message || err), cause: err?.cause && JSON.stringify(err.cause) }
    process.stdout.write(JSON.stringify(out) + '\n')
    process.exit(1)
  })
