// A sandbox persona adds a passkey on the dashboard's Security page, then
// authorises a partner's payment with it: an independent FAPI 2.0 client
// (oauth4webapi) creates a domestic payment consent (client credentials),
// pushes the authorization request (PAR, private_key_jwt + DPoP), and the
// customer, in Debian's chromium with Chrome's virtual authenticator (CDP
// WebAuthn domain: CTAP2, internal transport, resident key, user
// verification), logs in, presses "Use a passkey" on the SCA page (the
// page's sca-passkey.js asks for options bound to the payment and calls
// navigator.credentials.get), approves the consent, and the client redeems
// the code: the id_token is validated by oauth4webapi and its acr and amr
// are reported.
//
// Env: ISSUER (http://localhost:PORT), CLIENT_ID, CLIENT_JWK, REDIRECT_URI
//   (intercepted, never served), USERNAME, PASSWORD, CODE (a current code of
//   the persona's authenticator app, if it has one: the dashboard's step-up
//   before adding a factor), AMOUNT (e.g. "45.00",
//   GBP), CHROMIUM, ARTIFACTS (optional screenshots), BY_HAND=1 to hide the
//   browser's WebAuthn JSON helpers (parse…OptionsFromJSON, toJSON) so the
//   pages' own base64url coding runs.
// Output: one JSON object on stdout: {steps: [...], error?}.
import * as oauth from 'oauth4webapi'
import { randomUUID } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { Client, env, launchChromium, run, shot } from './lib.mjs'

const creditor = { SchemeName: 'UK.OBIE.SortCodeAccountNumber', Identification: '20000012345678', Name: 'Passkey Shop Ltd' }

run(async step => {
  if (env.ARTIFACTS) mkdirSync(env.ARTIFACTS, { recursive: true })
  const redirectUri = env.REDIRECT_URI

  // The partner: a payment consent, then the pushed authorization request.
  const c = await Client.create({ issuer: env.ISSUER, clientId: env.CLIENT_ID, privateJwk: env.CLIENT_JWK })
  const cc = await c.clientCredentials('payments')
  const initiation = {
    InstructionIdentification: 'passkey-1', EndToEndIdentification: 'passkey-e2e-1',
    InstructedAmount: { Amount: env.AMOUNT || '45.00', Currency: 'GBP' }, CreditorAccount: creditor,
    RemittanceInformation: { Reference: 'Passkey' },
  }
  const consent = await c.call(cc.access_token, 'POST', '/open-banking/v3.1/pisp/domestic-payment-consents',
    { Data: { Initiation: initiation }, Risk: { PaymentContextCode: 'PartyToParty' } }, { 'x-idempotency-key': randomUUID() })
  if (consent.status !== 201) throw new Error('payment consent: ' + consent.status + ' ' + JSON.stringify(consent.json))
  const consentId = consent.json.Data.ConsentId
  step('payment_consent', { consent_id: consentId })

  const codeVerifier = oauth.generateRandomCodeVerifier()
  const state = oauth.generateRandomState()
  const nonce = oauth.generateRandomNonce()
  const params = new URLSearchParams({ response_type: 'code', redirect_uri: redirectUri, scope: 'openid payments',
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256', state, nonce,
    authorization_details: JSON.stringify([{ type: 'payment_initiation', consent_id: consentId }]) })
  const par = await c.retryNonce(async () => oauth.processPushedAuthorizationResponse(c.as, c.client,
    await oauth.pushedAuthorizationRequest(c.as, c.client, c.auth, params, { DPoP: c.dpop, ...c.insecure })))
  const authURL = new URL(c.as.authorization_endpoint)
  authURL.searchParams.set('client_id', c.client.client_id)
  authURL.searchParams.set('request_uri', par.request_uri)

  const browser = await launchChromium()
  let callback
  try {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } })
    if (env.BY_HAND === '1') {
      await page.addInitScript(() => {
        if (!window.PublicKeyCredential) return // the partner's page (not a secure context here)
        delete PublicKeyCredential.parseCreationOptionsFromJSON
        delete PublicKeyCredential.parseRequestOptionsFromJSON
        delete PublicKeyCredential.prototype.toJSON
      })
    }
    const errors = []
    page.on('pageerror', e => errors.push(String(e.message || e)))
    page.on('console', m => { if (m.type() === 'error') errors.push('console: ' + m.text()) })
    page.on('response', r => { if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) errors.push(`${r.status()} ${r.url()}`) })
    await page.route(u => u.href.startsWith(redirectUri), async route => {
      callback = route.request().url()
      await route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>partner</title><h1>Back at the partner</h1>' })
    })
    const cdp = await page.context().newCDPSession(page)
    await cdp.send('WebAuthn.enable')
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', { options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
      isUserVerified: true, automaticPresenceSimulation: true } })

    // Enrol a passkey on the dashboard.
    await page.goto(new URL('/sandbox/customer/security', env.ISSUER).href)
    await page.getByLabel('Username').fill(env.USERNAME)
    await page.getByLabel('Password').fill(env.PASSWORD)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Apps you have given access' }).waitFor({ timeout: 15000 })
    await page.getByRole('link', { name: 'Security' }).click()
    // Confirm it's the persona: the password, and a current code of the
    // authenticator app when the persona has one (CODE).
    await page.getByRole('heading', { name: "Confirm it's you", level: 2 }).waitFor({ timeout: 15000 })
    await page.getByLabel('Your password').fill(env.PASSWORD)
    if (env.CODE) await page.getByLabel('Authenticator code').fill(env.CODE)
    await page.getByRole('button', { name: "Confirm it's you" }).click()
    await page.getByText('Thank you. For the next 5 minutes you can change your second factors.').waitFor({ timeout: 15000 })
    await page.getByLabel('Name for this passkey').waitFor({ state: 'visible', timeout: 15000 })
    await page.getByLabel('Name for this passkey').fill('Test laptop')
    await page.getByRole('button', { name: 'Add a passkey' }).click()
    try {
      await page.getByText('Your passkey was added.').waitFor({ timeout: 15000 })
    } catch (err) {
      throw new Error('no passkey added; page says: ' + (await page.locator('main').innerText()).slice(0, 800) + '; errors: ' + errors.join(' | '))
    }
    const enrolled = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials
    step('enrolled', { credentials: enrolled.map(x => ({ id: x.credentialId, rpId: x.rpId, signCount: x.signCount })) })

    // The authorization: login, the SCA page, the passkey, the consent.
    await page.goto(authURL.href)
    await page.getByLabel('Username').fill(env.USERNAME)
    await page.getByLabel('Password').fill(env.PASSWORD)
    await page.locator('form:has(input[type="password"]) button[type="submit"]').first().click()
    await page.getByRole('heading', { name: 'Confirm it is you' }).waitFor({ timeout: 15000 })
    const usePasskey = page.getByRole('button', { name: 'Use a passkey' })
    await usePasskey.waitFor({ state: 'visible', timeout: 15000 })
    step('sca_page', {
      text: await page.locator('main').innerText(),
      has_code_field: await page.getByLabel('Authenticator code').count() > 0,
      byHand: await page.evaluate(() => typeof PublicKeyCredential.parseRequestOptionsFromJSON !== 'function' &&
        typeof PublicKeyCredential.prototype.toJSON !== 'function'),
    })
    await shot(page, `sca-page-${env.USERNAME}`)
    await usePasskey.click()
    try {
      await page.getByRole('button', { name: 'Authorise' }).waitFor({ timeout: 15000 })
    } catch (err) {
      throw new Error('no consent page after the passkey; page says: ' + (await page.locator('main').innerText()).slice(0, 800) + '; errors: ' + errors.join(' | '))
    }
    const consentText = await page.locator('main').innerText()
    await shot(page, `consent-page-${env.USERNAME}`)
    const radios = page.locator('input[type="radio"]:not([disabled])')
    if (await radios.count() > 0 && !(await page.locator('input[type="radio"]:checked').count())) await radios.first().check()
    await page.getByRole('button', { name: 'Authorise' }).click()
    for (let i = 0; i < 150 && !callback; i++) await page.waitForTimeout(100)
    if (!callback) throw new Error('no redirect to the partner; page says: ' + (await page.locator('body').innerText()).slice(0, 500))
    const used = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials
    step('consented', { text: consentText.slice(0, 3000), errors,
      sign_count_before: enrolled[0]?.signCount, sign_count_after: used[0]?.signCount })
  } finally {
    await browser.close()
  }

  const cb = oauth.validateAuthResponse(c.as, c.client, new URL(callback), state)
  const tokens = await c.retryNonce(async () => oauth.processAuthorizationCodeResponse(c.as, c.client,
    await oauth.authorizationCodeGrantRequest(c.as, c.client, c.auth, cb, redirectUri, codeVerifier, { DPoP: c.dpop, ...c.insecure }),
    { expectedNonce: nonce, requireIdToken: true }))
  const claims = oauth.getValidatedIdTokenClaims(tokens)
  step('token', { token_type: tokens.token_type, acr: claims.acr, amr: claims.amr, sub: claims.sub,
    authorization_details: tokens.authorization_details })
})
