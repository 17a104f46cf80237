// The partner journey end to end, driven like a person would: Debian's
// chromium through playwright-core for the portal and console pages, and an
// independent FAPI 2.0 client (oauth4webapi) for the partner app's traffic.
//
// MODE=traffic (certification traffic for an existing sandbox app):
//   ISSUER, CLIENT_ID, CLIENT_JWK, REDIRECT_URI, USERNAME, PASSWORD, CHROMIUM
//   → client_credentials token; account-access consent; PAR + DPoP code flow
//     with the customer's login and consent in the browser; GET accounts;
//     payment consent; second code flow; POST domestic-payments with an
//     x-idempotency-key; a webhook endpoint that receives and verifies a
//     test event (the server needs --webhooks-allow-loopback).
// MODE=audit-selftest: the page checks run on a page made to fail each once.
// MODE=journey (default): ISSUER, CHROMIUM, ARTIFACTS, USERNAME, PASSWORD,
//   STAFF_EMAIL, STAFF_PASSWORD (one-time), STAFF_TOTP_SECRET (base32),
//   REDIRECT_URI → developer sign-up, email verification through the dev
//   outbox, sandbox app with a JWKS made here, code flow + account read,
//   request log page, production application; staff sign-in with TOTP,
//   forced password change, review, scorecard, approval, suspension; the
//   suspended partner's next calls. Every main page is checked on a 390 px
//   viewport with a basic accessibility check and screenshotted.
// Output: one JSON object on stdout: {steps: [...], error?}.
import * as oauth from 'oauth4webapi'
import { webcrypto as crypto, randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { WebhookReceiver, launchChromium, totp } from './lib.mjs'

const env = process.env
const issuer = new URL(env.ISSUER)
const insecure = { [oauth.allowInsecureRequests]: issuer.protocol === 'http:' }
const out = { steps: [] }
const step = (name, data = {}) => out.steps.push({ name, ...data })
const redirectURI = env.REDIRECT_URI || 'https://wallet.example/callback'
const creditor = { SchemeName: 'UK.OBIE.SortCodeAccountNumber', Identification: '20000012345678', Name: 'Journey Shop Ltd' }

// ---------- the independent client ----------

async function importPrivateJwk(jwk) {
  const key = await crypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])
  return { key, kid: jwk.kid }
}

async function retryNonce(fn) {
  try {
    return await fn()
  } catch (err) {
    if (oauth.isDPoPNonceError(err)) return await fn()
    throw err
  }
}

// partnerApp is the partner's app as an oauth4webapi client.
async function partnerApp(clientId, privateJwk) {
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...insecure }))
  const client = { client_id: clientId }
  const clientAuth = oauth.PrivateKeyJwt(await importPrivateJwk(privateJwk))
  const dpop = oauth.DPoP(client, await oauth.generateKeyPair('ES256'))
  const app = { as, client, clientAuth, dpop }

  app.clientCredentials = async scope => retryNonce(async () =>
    oauth.processClientCredentialsResponse(as, client,
      await oauth.clientCredentialsGrantRequest(as, client, clientAuth, new URLSearchParams({ scope }), { DPoP: dpop, ...insecure })))

  // call makes a DPoP-bound resource request; POSTs carry a fresh idempotency key.
  app.call = async (token, method, path, body) => {
    const headers = new Headers({ accept: 'application/json' })
    let payload = null
    if (body !== undefined) {
      headers.set('content-type', 'application/json')
      payload = JSON.stringify(body)
    }
    if (method === 'POST') headers.set('x-idempotency-key', 'idem-' + randomBytes(12).toString('hex'))
    const resp = await retryNonce(async () =>
      oauth.protectedResourceRequest(token, method, new URL(path, issuer), headers, payload, { DPoP: dpop, ...insecure }))
    const text = await resp.text()
    let json
    try { json = JSON.parse(text) } catch { json = undefined }
    return { status: resp.status, json, text, interaction_id: resp.headers.get('x-fapi-interaction-id'), idempotency_key: headers.get('x-idempotency-key'), www_authenticate: resp.headers.get('www-authenticate') }
  }

  // codeFlow runs PAR (private_key_jwt + DPoP) → browser login and consent →
  // code exchange for a DPoP-bound token.
  app.codeFlow = async (browser, { scope, details }) => {
    const codeVerifier = oauth.generateRandomCodeVerifier()
    const state = oauth.generateRandomState()
    const nonce = oauth.generateRandomNonce()
    const params = new URLSearchParams({
      response_type: 'code', redirect_uri: redirectURI, scope,
      code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256', state, nonce,
    })
    if (details) params.set('authorization_details', JSON.stringify(details))
    const par = await retryNonce(async () =>
      oauth.processPushedAuthorizationResponse(as, client,
        await oauth.pushedAuthorizationRequest(as, client, clientAuth, params, { DPoP: dpop, ...insecure })))
    const authURL = new URL(as.authorization_endpoint)
    authURL.searchParams.set('client_id', client.client_id)
    authURL.searchParams.set('request_uri', par.request_uri)
    const callback = await customerConsents(browser, authURL.href)
    const cbParams = oauth.validateAuthResponse(as, client, new URL(callback), state)
    const tokens = await retryNonce(async () =>
      oauth.processAuthorizationCodeResponse(as, client,
        await oauth.authorizationCodeGrantRequest(as, client, clientAuth, cbParams, redirectURI, codeVerifier, { DPoP: dpop, ...insecure }),
        { expectedNonce: nonce, requireIdToken: scope.split(' ').includes('openid') }))
    return tokens
  }
  return app
}

// customerConsents logs the sandbox customer in and authorises, in its own
// browser context; returns the callback URL the partner receives.
async function customerConsents(browser, url) {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } })
  try {
    const page = await ctx.newPage()
    let callback
    await page.route(u => u.href.startsWith(redirectURI), async route => {
      callback = route.request().url()
      await route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>partner</title><h1>Back at the partner</h1>' })
    })
    await page.goto(url)
    await page.getByLabel('Username').fill(env.USERNAME || 'alice')
    await page.getByLabel('Password').fill(env.PASSWORD || 'sandbox-password-1')
    await page.locator('form:has(input[type="password"]) button[type="submit"]').first().click()
    await page.getByRole('button', { name: 'Authorise' }).waitFor({ timeout: 15000 })
    for (const box of await page.locator('input[type="checkbox"]:not([disabled])').all()) await box.check()
    const radios = page.locator('input[type="radio"]:not([disabled])')
    if (await radios.count() > 0 && !(await page.locator('input[type="radio"]:checked').count())) await radios.first().check()
    await page.getByRole('button', { name: 'Authorise' }).click()
    for (let i = 0; i < 150 && !callback; i++) await page.waitForTimeout(100)
    if (!callback) throw new Error('no redirect to the partner; page says: ' + (await page.locator('body').innerText()).slice(0, 500))
    return callback
  } finally {
    await ctx.close()
  }
}

// accountRead: account-access consent → code flow → GET accounts.
async function accountRead(app, browser) {
  const cc = await app.clientCredentials('accounts payments')
  const consent = await app.call(cc.access_token, 'POST', '/open-banking/v3.1/aisp/account-access-consents',
    { Data: { Permissions: ['ReadAccountsDetail', 'ReadBalances'] }, Risk: {} })
  if (consent.status !== 201) throw new Error('account consent: ' + consent.status + ' ' + consent.text)
  const consentId = consent.json.Data.ConsentId
  const tokens = await app.codeFlow(browser, { scope: 'openid accounts', details: [{ type: 'account_access', consent_id: consentId }] })
  const accounts = await app.call(tokens.access_token, 'GET', '/open-banking/v3.1/aisp/accounts')
  step('account_read', { consent_id: consentId, token_type: tokens.token_type, status: accounts.status,
    accounts: accounts.json?.Data?.Account?.length ?? 0, interaction_id: accounts.interaction_id })
  return tokens
}

// payment: payment consent → code flow → POST domestic-payments.
async function payment(app, browser) {
  const cc = await app.clientCredentials('payments')
  const initiation = {
    InstructionIdentification: 'journey-1', EndToEndIdentification: 'journey-e2e-1',
    InstructedAmount: { Amount: '12.34', Currency: 'GBP' }, CreditorAccount: creditor,
    RemittanceInformation: { Reference: 'Certification' },
  }
  const risk = { PaymentContextCode: 'PartyToParty' }
  const consent = await app.call(cc.access_token, 'POST', '/open-banking/v3.1/pisp/domestic-payment-consents', { Data: { Initiation: initiation }, Risk: risk })
  if (consent.status !== 201) throw new Error('payment consent: ' + consent.status + ' ' + consent.text)
  const consentId = consent.json.Data.ConsentId
  const tokens = await app.codeFlow(browser, { scope: 'openid payments', details: [{ type: 'payment_initiation', consent_id: consentId }] })
  const paid = await app.call(tokens.access_token, 'POST', '/open-banking/v3.1/pisp/domestic-payments',
    { Data: { ConsentId: consentId, Initiation: initiation }, Risk: risk })
  step('payment', { consent_id: consentId, status: paid.status, payment_id: paid.json?.Data?.DomesticPaymentId,
    interaction_id: paid.interaction_id, idempotency_key: paid.idempotency_key, body: paid.status === 201 ? undefined : paid.text })
}


// verifiedWebhook: a webhook endpoint receiving (and verifying, with the
// standardwebhooks library) a test event; waits until the platform has
// recorded the 2xx attempt.
async function verifiedWebhook(app) {
  const cc = await app.clientCredentials('webhooks')
  const receiver = new WebhookReceiver()
  const url = await receiver.start()
  try {
    const ep = await app.call(cc.access_token, 'POST', '/webhook-endpoints', { url, description: 'certification receiver', event_types: ['payment.created'] })
    if (ep.status !== 201) throw new Error('webhook endpoint: ' + ep.status + ' ' + ep.text)
    receiver.secret = ep.json.secret
    const test = await app.call(cc.access_token, 'POST', `/webhook-endpoints/${ep.json.id}/test`)
    const arrived = await receiver.waitFor(['webhook.test'])
    let recorded = false
    for (let i = 0; i < 100 && !recorded; i++) {
      const at = await app.call(cc.access_token, 'GET', `/webhook-endpoints/${ep.json.id}/attempts`)
      recorded = (at.json?.data || []).some(a => a.event_type === 'webhook.test' && a.status_code >= 200 && a.status_code < 300)
      if (!recorded) await new Promise(r => setTimeout(r, 100))
    }
    const d = receiver.deliveries.find(x => x.type === 'webhook.test')
    step('webhook', { endpoint_id: ep.json.id, test_status: test.status, event_id: test.json?.event_id, arrived, verified: !!d?.verified, recorded })
  } finally {
    receiver.stop()
  }
}

async function traffic() {
  const app = await partnerApp(env.CLIENT_ID, JSON.parse(env.CLIENT_JWK))
  const browser = await launchChromium()
  try {
    await accountRead(app, browser)
    await payment(app, browser)
    await verifiedWebhook(app)
  } finally {
    await browser.close()
  }
}

// ---------- page checks ----------

// audit runs the basic accessibility and small-screen checks in the page and
// returns the problems, each naming the offending element.
async function audit(page) {
  return page.evaluate(() => {
    const problems = []
    const describe = el => {
      let s = el.tagName.toLowerCase()
      if (el.id) s += '#' + el.id
      if (el.getAttribute('name')) s += `[name="${el.getAttribute('name')}"]`
      const text = (el.innerText || el.value || '').trim().slice(0, 40)
      return text ? `${s} "${text}"` : s
    }
    const visible = el => {
      const st = getComputedStyle(el)
      const r = el.getBoundingClientRect()
      return st.display !== 'none' && st.visibility !== 'hidden' && (r.width > 0 || r.height > 0)
    }
    const h1s = document.querySelectorAll('h1')
    if (h1s.length !== 1) problems.push(`expected exactly one h1, found ${h1s.length}`)
    for (const el of document.querySelectorAll('input, select, textarea')) {
      if (el.type === 'hidden') continue
      const named = (el.labels && el.labels.length > 0) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
      if (!named) problems.push('input without a label: ' + describe(el))
    }
    for (const img of document.querySelectorAll('img')) {
      if (!img.hasAttribute('alt')) problems.push('image without alt: ' + describe(img))
    }
    for (const b of document.querySelectorAll('button, [role="button"], input[type="submit"], input[type="button"]')) {
      const name = (b.innerText || b.value || '').trim() || b.getAttribute('aria-label') || b.getAttribute('title') ||
        (b.getAttribute('aria-labelledby') && document.getElementById(b.getAttribute('aria-labelledby'))?.innerText)
      if (!name) problems.push('button without a name: ' + describe(b))
    }
    // Contrast (WCAG 2 relative luminance) of every visible element that
    // holds text itself, against the first opaque background behind it.
    const parse = c => {
      const m = c.match(/rgba?\(([^)]+)\)/)
      if (!m) return null
      const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number)
      return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 }
    }
    const lum = ({ r, g, b }) => {
      const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4 }
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b)
    }
    const background = el => {
      for (let e = el; e; e = e.parentElement) {
        const c = parse(getComputedStyle(e).backgroundColor)
        if (c && c.a >= 0.99) return c
      }
      return { r: 255, g: 255, b: 255, a: 1 }
    }
    for (const el of document.body.querySelectorAll('*')) {
      if (['SCRIPT', 'STYLE', 'NOSCRIPT'].includes(el.tagName)) continue
      const ownText = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())
      if (!ownText || !visible(el)) continue
      const fg = parse(getComputedStyle(el).color)
      if (!fg) continue
      const bg = background(el)
      const blend = { r: fg.r * fg.a + bg.r * (1 - fg.a), g: fg.g * fg.a + bg.g * (1 - fg.a), b: fg.b * fg.a + bg.b * (1 - fg.a) }
      const [l1, l2] = [lum(blend), lum(bg)].sort((a, b) => b - a)
      const ratio = (l1 + 0.05) / (l2 + 0.05)
      if (ratio < 4.5) problems.push(`contrast ${ratio.toFixed(2)}:1 < 4.5:1 for ${describe(el)} (${getComputedStyle(el).color} on rgb(${bg.r}, ${bg.g}, ${bg.b}))`)
    }
    const overflow = document.documentElement.scrollWidth - window.innerWidth
    if (overflow > 1) problems.push(`page is ${overflow}px wider than the 390px viewport`)
    return problems
  })
}

const checked = []

// visit checks the current page and saves its screenshot as name.png.
async function visit(page, name) {
  await page.waitForLoadState('load')
  const problems = await audit(page)
  checked.push({ page: name, url: new URL(page.url()).pathname })
  if (env.ARTIFACTS) await page.screenshot({ path: `${env.ARTIFACTS}/${name}.png`, fullPage: true })
  if (problems.length) throw new Error(`page ${name} (${page.url()}) fails the checks:\n- ${problems.join('\n- ')}`)
}

async function expectText(page, selector, want) {
  const got = (await page.locator(selector).first().innerText()).trim()
  if (got !== want) throw new Error(`${page.url()}: ${selector} is ${JSON.stringify(got)}, want ${JSON.stringify(want)}`)
}

// ---------- the journey ----------

async function journey() {
  if (env.ARTIFACTS) mkdirSync(env.ARTIFACTS, { recursive: true })
  const browser = await launchChromium()
  try {
    const dev = await (await browser.newContext({ viewport: { width: 390, height: 844 }, baseURL: issuer.href })).newPage()
    const email = `dev-${randomBytes(4).toString('hex')}@journey.example`
    const password = 'journey-password-' + randomBytes(4).toString('hex')

    // Sign up, verify through the dev outbox, sign in.
    await dev.goto('/portal/sign-up')
    await visit(dev, 'portal-sign-up')
    await dev.getByLabel('Work email').fill(email)
    await dev.getByLabel('Password').fill(password)
    await dev.getByLabel('Organisation name').fill('Journey Wallet Ltd')
    await dev.getByRole('button', { name: 'Sign up' }).click()
    await dev.getByRole('heading', { level: 1, name: 'Check your email' }).waitFor()
    await visit(dev, 'portal-check-email')
    await dev.goto('/portal/dev/outbox?to=' + encodeURIComponent(email))
    await visit(dev, 'portal-outbox')
    await dev.getByRole('link', { name: 'Open link' }).first().click()
    await visit(dev, 'portal-verify-email')
    await dev.getByRole('button', { name: 'Verify email' }).click()
    await dev.waitForURL(/\/portal\/sign-in/)
    await visit(dev, 'portal-sign-in')
    await dev.getByLabel('Email').fill(email)
    await dev.getByLabel('Password').fill(password)
    await dev.getByRole('button', { name: 'Sign in' }).click()
    await dev.waitForURL(/\/portal\/orgs\/ptn_[^/]+$/)
    const orgURL = new URL(dev.url()).pathname
    const partnerId = orgURL.split('/').pop()
    await expectText(dev, '#partner-status', 'Sandbox')
    await visit(dev, 'portal-dashboard')
    step('signed_up', { email, partner_id: partnerId, status: (await dev.locator('#partner-status').innerText()).trim() })

    // A sandbox app with a key made here (WebCrypto), public JWKS pasted.
    const kp = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])
    const kid = 'journey-' + randomBytes(3).toString('hex')
    const priv = { ...(await crypto.subtle.exportKey('jwk', kp.privateKey)), kid, alg: 'ES256', use: 'sig' }
    const pub = { ...(await crypto.subtle.exportKey('jwk', kp.publicKey)), kid, alg: 'ES256', use: 'sig' }
    delete pub.key_ops; delete pub.ext
    await dev.goto(orgURL + '/apps/new')
    await visit(dev, 'portal-app-new')
    await dev.getByLabel('App name').fill('Journey wallet')
    await dev.getByLabel('Redirect URIs, one per line').fill(redirectURI)
    for (const s of ['openid', 'accounts', 'payments']) await dev.locator('#scope-' + s).check()
    await dev.getByLabel('Public JWK Set (JSON)').fill(JSON.stringify({ keys: [pub] }))
    await dev.getByRole('button', { name: 'Create app' }).click()
    await dev.locator('#client-id').waitFor()
    const clientId = (await dev.locator('#client-id').innerText()).trim()
    const appURL = new URL(dev.url()).pathname
    await visit(dev, 'portal-app')
    step('app_created', { client_id: clientId })

    // The app's first traffic: a customer consents, the app reads accounts.
    const app = await partnerApp(clientId, priv)
    let tokens = await accountRead(app, browser)

    // The calls show in the portal's request log.
    await dev.goto(appURL + '/requests')
    await visit(dev, 'portal-request-log')
    const logText = await dev.locator('table').innerText()
    step('request_log', {
      has_accounts_get: logText.includes('GET /open-banking/v3.1/aisp/accounts'),
      has_consent_post: logText.includes('POST /open-banking/v3.1/aisp/account-access-consents'),
    })

    // Reset sandbox data: the app's consent is revoked, so its token stops
    // working; a new consent brings the app back.
    await dev.goto(orgURL + '/sandbox-customers')
    await visit(dev, 'portal-sandbox-customers')
    await dev.getByLabel(/I understand/).check()
    await dev.getByRole('button', { name: 'Reset sandbox data' }).click()
    await dev.waitForLoadState('load')
    await visit(dev, 'portal-sandbox-reset')
    const resetFlash = (await dev.locator('.flash').innerText()).trim()
    let tokenAfterReset
    try {
      const r = await app.call(tokens.access_token, 'GET', '/open-banking/v3.1/aisp/accounts')
      tokenAfterReset = { refused: false, status: r.status }
    } catch (err) {
      if (!(err instanceof oauth.WWWAuthenticateChallengeError)) throw err
      tokenAfterReset = { refused: true, status: err.response?.status, error: err.cause?.[0]?.parameters?.error }
    }
    step('sandbox_reset', { flash: resetFlash, token_after_reset: tokenAfterReset })
    tokens = await accountRead(app, browser)

    // Certification is launched here once the contract is active.
    await dev.goto(orgURL + '/certification')
    await visit(dev, 'portal-certification')
    step('certification_page', { text: (await dev.locator('#cert-run-h + p + p').innerText()).trim() })

    // Apply for production access.
    await dev.goto(orgURL + '/application')
    await dev.getByLabel('Legal name').fill('Journey Wallet Limited')
    await dev.getByLabel('Company number').fill('12345678')
    await dev.getByLabel('Country (two letters, e.g. GB)').fill('GB')
    await dev.getByLabel('Licence number (e.g. your FCA firm reference)').fill('FRN123456')
    await dev.getByLabel('Website (https)').fill('https://wallet.example')
    await dev.getByLabel('What you will use the APIs for (at least 20 characters)').fill('Account aggregation and bill payments for small businesses.')
    await dev.getByLabel('API calls per month').fill('50000')
    await dev.getByLabel('Payments per month').fill('1000')
    await dev.getByLabel('Payment value per month').fill('25000.00')
    await dev.getByLabel('Currency (e.g. GBP)').fill('GBP')
    await dev.getByLabel('Contact name').fill('Dana Developer')
    await dev.getByLabel('Contact email').fill(email)
    await visit(dev, 'portal-application')
    await dev.getByRole('button', { name: 'Submit application' }).click()
    await dev.waitForURL(/done=applied/)
    step('applied', { status: (await dev.locator('#partner-status').innerText()).trim() })

    // Staff: one-time password + TOTP, forced password change.
    const staff = await (await browser.newContext({ viewport: { width: 390, height: 844 }, baseURL: issuer.href })).newPage()
    await staff.goto('/console/sign-in')
    await visit(staff, 'console-sign-in')
    await staff.getByLabel('Email').fill(env.STAFF_EMAIL)
    await staff.getByLabel('Password').fill(env.STAFF_PASSWORD)
    await staff.getByLabel('Authenticator code').fill(totp(env.STAFF_TOTP_SECRET))
    await staff.getByRole('button', { name: 'Sign in' }).click()
    await staff.waitForURL(/\/console\/password/)
    await visit(staff, 'console-password')
    const newPassword = 'staff-own-password-' + randomBytes(4).toString('hex')
    await staff.getByLabel('Current password').fill(env.STAFF_PASSWORD)
    await staff.getByLabel('New password', { exact: true }).fill(newPassword)
    await staff.getByLabel('New password again').fill(newPassword)
    await staff.getByRole('button', { name: 'Change password' }).click()
    await staff.waitForURL(/\/console\/partners/)
    await visit(staff, 'console-partners')
    step('staff_signed_in', { url: new URL(staff.url()).pathname })

    // Review, scorecard, approve.
    await staff.goto('/console/partners/' + partnerId)
    await staff.getByRole('button', { name: 'Start review' }).click()
    await staff.waitForURL(/done=review/)
    for (const f of ['industry_standing', 'business_capability', 'resource_integration', 'willingness_to_cooperate']) {
      await staff.locator('#' + f).selectOption('4')
    }
    await staff.getByLabel('Licence verified').check()
    await staff.getByLabel('AML screening result').selectOption('clear')
    await staff.getByLabel('Compliance notes').fill('FCA register checked; sanctions screening clear.')
    await staff.getByRole('button', { name: 'Save scorecard' }).click()
    await staff.waitForURL(/done=due-diligence/)
    await staff.getByLabel('Reasons (the partner sees them; required to reject)').fill('Meets our partner criteria.')
    await staff.getByRole('button', { name: 'Approve', exact: true }).click()
    await staff.waitForURL(/done=approved/)
    await visit(staff, 'console-partner-detail')
    step('approved', { status: (await staff.locator('#partner-status').innerText()).trim(),
      scorecard: (await staff.locator('#dd-h + p').innerText()).trim() })

    // Suspend.
    await staff.getByLabel('Reason for suspending (the partner sees it)').fill('Unusual traffic under investigation.')
    await staff.getByRole('button', { name: 'Suspend', exact: true }).click()
    await staff.waitForURL(/done=suspended/)
    await visit(staff, 'console-partner-suspended')
    step('suspended', { status: (await staff.locator('#partner-status').innerText()).trim() })
    await staff.goto('/console/audit')
    await visit(staff, 'console-audit')
    const auditText = await staff.locator('main').innerText()
    step('audit', { mentions_suspension: /suspend/i.test(auditText), mentions_approval: /approv/i.test(auditText) })

    // The partner sees the suspension; its next calls are refused.
    await dev.goto(orgURL)
    await visit(dev, 'portal-dashboard-suspended')
    step('partner_view', { status: (await dev.locator('#partner-status').innerText()).trim() })
    try {
      await app.clientCredentials('accounts')
      step('refused_token', { refused: false })
    } catch (err) {
      step('refused_token', { refused: true, error: err.error, error_description: err.error_description, status: err.status })
    }
    try {
      const after = await app.call(tokens.access_token, 'GET', '/open-banking/v3.1/aisp/accounts')
      step('refused_call', { refused: false, status: after.status, body: after.json ?? after.text })
    } catch (err) {
      if (!(err instanceof oauth.WWWAuthenticateChallengeError)) throw err
      const c = err.cause?.[0]
      step('refused_call', { refused: true, status: err.response?.status, scheme: c?.scheme,
        error: c?.parameters?.error, error_description: c?.parameters?.error_description })
    }
    step('checked_pages', { pages: checked })
  } finally {
    await browser.close()
  }
}

// auditSelfTest proves the page checks find what they look for, on a page
// built to fail each of them once.
async function auditSelfTest() {
  const browser = await launchChromium()
  try {
    const page = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage()
    await page.setContent(`<!doctype html><html lang="en"><body style="background:#fff;color:#111">
      <h1>One</h1><h1>Two</h1>
      <input id="nolabel" name="nolabel"><label for="ok">Fine</label><input id="ok" name="ok">
      <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" id="noalt">
      <button id="noname"></button><button aria-label="Named"></button>
      <p id="faint" style="color:#aaa">Faint text</p>
      <div id="wide" style="width:600px">wide</div></body></html>`)
    step('audit_selftest', { problems: await audit(page) })
  } finally {
    await browser.close()
  }
}

const modes = { journey, traffic, 'audit-selftest': auditSelfTest }
const run = modes[env.MODE || 'journey']
run().then(
  () => { process.stdout.write(JSON.stringify(out) + '\n') },
  err => {
    out.error = { name: err?.name, code: err?.code, message: String(err?.message || err), cause: err?.cause && JSON.stringify(err.cause) }
    process.stdout.write(JSON.stringify(out) + '\n')
    process.exit(1)
  })
