// Strong customer authentication end to end, driven by an independent FAPI
// 2.0 client (oauth4webapi) with the customer in Debian's chromium:
//   1. ivan.nofactor (no second factor) is asked for a 45.00 GBP payment: the
//      bank tells him how to set up a second factor, and the partner gets
//      access_denied with the reason;
//   2. hana.totp confirms a 45.00 GBP payment with her authenticator app (a
//      code computed here, RFC 6238): the id_token says acr sca, amr pwd otp mfa;
//   3. hana.totp on a second payment: a wrong code and the code already used
//      are refused with the page's messages;
//   4. ivan.nofactor pays 12.34 GBP under the low-value exemption: no second
//      factor asked, acr ca.
// Environment: ISSUER, CLIENT_ID, CLIENT_JWK, REDIRECT_URI, PASSWORD (the
// personas'), HANA_TOTP_SECRET (base32), ARTIFACTS, CHROMIUM.
import * as oauth from 'oauth4webapi'
import { mkdirSync } from 'node:fs'
import { Client, env, launchChromium, run, shot, totp } from './lib.mjs'

const PISP = '/open-banking/v3.1/pisp'

run(async step => {
  if (env.ARTIFACTS) mkdirSync(env.ARTIFACTS, { recursive: true })
  const c = await Client.create({ issuer: env.ISSUER, clientId: env.CLIENT_ID, privateJwk: env.CLIENT_JWK })
  const cc = await c.clientCredentials('payments')
  const browser = await launchChromium()

  // consent creates a domestic payment consent of amount GBP to Corner Cafe.
  const consent = async amount => {
    const initiation = {
      InstructionIdentification: `sca-${amount}`, EndToEndIdentification: `sca-${amount}`,
      InstructedAmount: { Amount: amount, Currency: 'GBP' },
      CreditorAccount: { SchemeName: 'UK.OBIE.SortCodeAccountNumber', Identification: '20000055555555', Name: 'Corner Cafe Ltd' },
    }
    const r = await c.call(cc.access_token, 'POST', `${PISP}/domestic-payment-consents`,
      { Data: { Initiation: initiation }, Risk: { PaymentContextCode: 'PartyToParty' } }, { 'x-idempotency-key': crypto.randomUUID() })
    if (r.status !== 201) throw new Error(`payment consent: ${r.status} ${JSON.stringify(r.json)}`)
    return r.json.Data.ConsentId
  }

  // begin pushes the authorization request for consentId and opens it in a
  // new page, logged in as username; it returns what finish needs.
  const begin = async (consentId, username) => {
    const codeVerifier = oauth.generateRandomCodeVerifier()
    const state = oauth.generateRandomState()
    const nonce = oauth.generateRandomNonce()
    const params = new URLSearchParams({ response_type: 'code', redirect_uri: env.REDIRECT_URI, scope: 'openid payments',
      code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256', state, nonce,
      authorization_details: JSON.stringify([{ type: 'payment_initiation', consent_id: consentId }]) })
    const par = await c.retryNonce(async () => oauth.processPushedAuthorizationResponse(c.as, c.client,
      await oauth.pushedAuthorizationRequest(c.as, c.client, c.auth, params, { DPoP: c.dpop, ...c.insecure })))
    const url = new URL(c.as.authorization_endpoint)
    url.searchParams.set('client_id', c.client.client_id)
    url.searchParams.set('request_uri', par.request_uri)
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } })
    const flow = { page, codeVerifier, state, nonce, callback: null }
    await page.route(u => u.href.startsWith(env.REDIRECT_URI), async route => {
      flow.callback = route.request().url()
      await route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>partner</title><h1>Back at the partner</h1>' })
    })
    await page.goto(url.href)
    await page.getByLabel('Username').fill(username)
    await page.getByLabel('Password').fill(env.PASSWORD)
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.getByRole('heading', { level: 1 }).waitFor({ timeout: 15000 })
    return flow
  }

  // finish waits for the redirect to the partner and redeems the code (or
  // returns the authorization error).
  const finish = async flow => {
    for (let i = 0; i < 100 && !flow.callback; i++) await flow.page.waitForTimeout(100)
    if (!flow.callback) throw new Error('no redirect to the partner; page says: ' + (await flow.page.locator('body').innerText()).slice(0, 500))
    let cb
    try {
      cb = oauth.validateAuthResponse(c.as, c.client, new URL(flow.callback), flow.state)
    } catch (err) {
      if (err instanceof oauth.AuthorizationResponseError) return { error: err.error, error_description: err.cause?.get?.('error_description') ?? new URL(flow.callback).searchParams.get('error_description') }
      throw err
    }
    const tokens = await c.retryNonce(async () => oauth.processAuthorizationCodeResponse(c.as, c.client,
      await oauth.authorizationCodeGrantRequest(c.as, c.client, c.auth, cb, env.REDIRECT_URI, flow.codeVerifier, { DPoP: c.dpop, ...c.insecure }),
      { expectedNonce: flow.nonce, requireIdToken: true }))
    const claims = oauth.getValidatedIdTokenClaims(tokens)
    return { acr: claims.acr, amr: claims.amr }
  }

  const approve = async page => {
    await page.getByRole('button', { name: 'Authorise' }).waitFor({ timeout: 15000 })
    const radios = page.locator('input[type="radio"]:not([disabled])')
    if (await radios.count() > 0 && !(await page.locator('input[type="radio"]:checked').count())) await radios.first().check()
    await page.getByRole('button', { name: 'Authorise' }).click()
  }
  const heading = async page => (await page.getByRole('heading', { level: 1 }).innerText()).trim()
  const alert = async page => (await page.getByRole('alert').first().innerText()).trim()

  try {
    // 1. No second factor, a payment above the low-value limit.
    const big1 = await consent('45.00')
    let f = await begin(big1, 'ivan.nofactor')
    const nofactorText = await f.page.locator('main').innerText()
    await shot(f.page, 'sca-no-second-factor')
    step('no_factor_page', { heading: await heading(f.page), mentions_amount: nofactorText.includes('45.00 GBP'),
      mentions_enrol: nofactorText.includes('Set up an authenticator app') && nofactorText.includes('Add a passkey') })
    await f.page.getByRole('button', { name: /^Back to / }).click()
    step('no_factor_result', { consent_id: big1, ...(await finish(f)) })

    // 2. hana confirms with her authenticator app.
    const big2 = await consent('45.00')
    f = await begin(big2, 'hana.totp')
    const scaText = await f.page.locator('main').innerText()
    await shot(f.page, 'sca-totp')
    step('sca_page', { heading: await heading(f.page), mentions_amount: scaText.includes('45.00 GBP'), mentions_payee: scaText.includes('Corner Cafe Ltd') })
    const code = totp(env.HANA_TOTP_SECRET, Date.now())
    await f.page.getByLabel('Authenticator code').fill(code)
    await f.page.getByRole('button', { name: 'Confirm', exact: true }).click()
    await approve(f.page)
    step('totp_result', { consent_id: big2, ...(await finish(f)) })

    // 3. A wrong code, then the code already used.
    const big3 = await consent('46.00')
    f = await begin(big3, 'hana.totp')
    const wrong = code === '000000' ? '111111' : '000000'
    await f.page.getByLabel('Authenticator code').fill(wrong)
    await f.page.getByRole('button', { name: 'Confirm', exact: true }).click()
    await f.page.getByRole('alert').first().waitFor({ timeout: 15000 })
    const wrongMsg = await alert(f.page)
    await f.page.getByLabel('Authenticator code').fill(code)
    await f.page.getByRole('button', { name: 'Confirm', exact: true }).click()
    await f.page.waitForFunction(prev => {
      const a = document.querySelector('[role="alert"]')
      return a && a.innerText.trim() !== prev
    }, wrongMsg, { timeout: 15000 })
    step('refusals', { wrong: wrongMsg, reused: await alert(f.page), still_sca: await heading(f.page) })
    await f.page.close()

    // 4. A low-value payment without a second factor.
    const small = await consent('12.34')
    f = await begin(small, 'ivan.nofactor')
    step('low_value_page', { heading: await heading(f.page) })
    await approve(f.page)
    step('low_value_result', { consent_id: small, ...(await finish(f)) })
  } finally {
    await browser.close()
  }
})
