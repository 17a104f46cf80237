// Shared pieces of the end-to-end clients: an oauth4webapi FAPI 2.0 client
// (private_key_jwt + DPoP), the browser login/consent step, and a Standard
// Webhooks receiver verified with the `standardwebhooks` package.
import * as oauth from 'oauth4webapi'
import { chromium } from 'playwright-core'
import { webcrypto as crypto, createHmac } from 'node:crypto'
import { createServer } from 'node:http'
import { mkdirSync } from 'node:fs'
import { Webhook } from 'standardwebhooks'

export const env = process.env

// totp is the RFC 6238 code (HMAC-SHA1, 30 s steps, 6 digits) of a base32
// secret (RFC 4648, padding optional) at time at (ms).
export function totp(secret, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = 0, value = 0
  const key = []
  for (const ch of secret.replace(/=+$/, '').toUpperCase()) {
    value = (value << 5) | alphabet.indexOf(ch)
    bits += 5
    if (bits >= 8) { key.push((value >>> (bits - 8)) & 0xff); bits -= 8 }
  }
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)))
  const mac = createHmac('sha1', Buffer.from(key)).update(counter).digest()
  const off = mac[mac.length - 1] & 0xf
  return String((mac.readUInt32BE(off) & 0x7fffffff) % 1000000).padStart(6, '0')
}

// staffPage opens a new browser context and signs a staff member in to the
// console at base (password and the TOTP code of secret; see staffSignIn);
// a new account's forced password change is made with a password derived
// from label. Returns the page, on the console.
export async function staffPage(browser, base, { email, password, secret, label }) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  return staffSignIn(await ctx.newPage(), { issuer: base, email, password, totpSecret: secret,
    newPassword: 'a-new-long-staff-password-' + label })
}

// portalSignIn opens a new browser context (downloads accepted) and signs a
// portal user in at base. Returns the page.
export async function portalSignIn(browser, base, { email, password }) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true })
  const page = await ctx.newPage()
  await page.goto(base + '/portal/sign-in')
  await page.fill('#email', email)
  await page.fill('#password', password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForLoadState()
  return page
}

// Client is a partner app driving Bankbridge with oauth4webapi.
export class Client {
  static async create({ issuer, clientId, privateJwk, extractableDPoPKey = false }) {
    const c = new Client()
    c.issuer = new URL(issuer)
    c.insecure = { [oauth.allowInsecureRequests]: c.issuer.protocol === 'http:' }
    c.as = await oauth.processDiscoveryResponse(c.issuer, await oauth.discoveryRequest(c.issuer, { algorithm: 'oidc', ...c.insecure }))
    c.client = { client_id: clientId }
    const jwk = JSON.parse(privateJwk)
    const alg = jwk.alg || (jwk.kty === 'EC' ? 'ES256' : 'PS256')
    const params = alg === 'ES256' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'RSA-PSS', hash: 'SHA-256' }
    c.auth = oauth.PrivateKeyJwt({ key: await crypto.subtle.importKey('jwk', jwk, params, false, ['sign']), kid: jwk.kid })
    c.dpopKeys = await oauth.generateKeyPair('ES256', { extractable: extractableDPoPKey })
    c.dpop = oauth.DPoP(c.client, c.dpopKeys)
    return c
  }

  // retryNonce repeats once when the server asks for a DPoP nonce (RFC 9449 §8).
  async retryNonce(fn) {
    try { return await fn() } catch (err) { if (oauth.isDPoPNonceError(err)) return await fn(); throw err }
  }

  async clientCredentials(scope) {
    return this.retryNonce(async () => oauth.processClientCredentialsResponse(this.as, this.client,
      await oauth.clientCredentialsGrantRequest(this.as, this.client, this.auth, { scope }, { DPoP: this.dpop, ...this.insecure })))
  }

  // authorize runs PAR → browser (login + consent) → code exchange and
  // returns the token response (or { error } when the customer denied).
  async authorize({ scope, authorizationDetails, redirectUri, username, password, decision = 'authorise', artifacts, label, onCallback }) {
    const codeVerifier = oauth.generateRandomCodeVerifier()
    const state = oauth.generateRandomState()
    const nonce = oauth.generateRandomNonce()
    const openid = scope.split(' ').includes('openid')
    const params = new URLSearchParams({ response_type: 'code', redirect_uri: redirectUri, scope,
      code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256', state })
    if (openid) params.set('nonce', nonce)
    if (authorizationDetails) params.set('authorization_details', JSON.stringify(authorizationDetails))
    const par = await this.retryNonce(async () => oauth.processPushedAuthorizationResponse(this.as, this.client,
      await oauth.pushedAuthorizationRequest(this.as, this.client, this.auth, params, { DPoP: this.dpop, ...this.insecure })))
    const url = new URL(this.as.authorization_endpoint)
    url.searchParams.set('client_id', this.client.client_id)
    url.searchParams.set('request_uri', par.request_uri)
    const { callback, consentText } = await browserConsent({ url: url.href, redirectUri, username, password, decision, artifacts, label })
    onCallback?.(callback)
    let cb
    try {
      cb = oauth.validateAuthResponse(this.as, this.client, new URL(callback), state)
    } catch (err) {
      if (err instanceof oauth.AuthorizationResponseError) return { error: err.error, consentText }
      throw err
    }
    const tokens = await this.retryNonce(async () => oauth.processAuthorizationCodeResponse(this.as, this.client,
      await oauth.authorizationCodeGrantRequest(this.as, this.client, this.auth, cb, redirectUri, codeVerifier, { DPoP: this.dpop, ...this.insecure }),
      openid ? { expectedNonce: nonce, requireIdToken: true } : {}))
    // Keep the library's own object: getValidatedIdTokenClaims looks it up.
    tokens.consentText = consentText
    return tokens
  }

  // call makes a DPoP-bound resource request and returns { status, headers, json }.
  async call(token, method, path, body, headers = {}) {
    const h = new Headers({ accept: 'application/json', ...headers })
    let payload = null
    if (body !== undefined) {
      h.set('content-type', 'application/json')
      payload = JSON.stringify(body)
    }
    let resp
    try {
      resp = await this.retryNonce(async () =>
        oauth.protectedResourceRequest(token, method, new URL(path, this.issuer), h, payload, { DPoP: this.dpop, ...this.insecure }))
    } catch (err) {
      // oauth4webapi turns a WWW-Authenticate challenge (401/403) into an error.
      if (err instanceof oauth.WWWAuthenticateChallengeError) {
        return { status: err.response.status, headers: Object.fromEntries(err.response.headers), challenge: err.cause?.[0]?.parameters || {}, json: null }
      }
      throw err
    }
    const text = await resp.text()
    let json
    try { json = JSON.parse(text) } catch { json = text }
    return { status: resp.status, headers: Object.fromEntries(resp.headers), json }
  }
}

// shot saves a full-page screenshot of page as $ARTIFACTS/name.png when
// ARTIFACTS is set.
export async function shot(page, name) {
  if (env.ARTIFACTS) await page.screenshot({ path: `${env.ARTIFACTS}/${name}.png`, fullPage: true })
}

// text is the trimmed inner text of the first element sel matches on page
// ('' when none does).
export async function text(page, sel) {
  return (await page.locator(sel).count()) ? (await page.locator(sel).first().innerText()).trim() : ''
}

// launchChromium starts Debian's chromium ($CHROMIUM, else /usr/bin/chromium)
// headless, without background traffic.
export function launchChromium() {
  return chromium.launch({
    executablePath: env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
}

// staffSignIn signs a staff member in to the console on page (email,
// password, the current code of the base32 TOTP secret) and, when the
// console asks for a first password change, sets newPassword.
export async function staffSignIn(page, { issuer, email, password, totpSecret, newPassword }) {
  await page.goto(issuer + '/console/sign-in')
  await page.fill('#email', email)
  await page.fill('#password', password)
  await page.fill('#code', totp(totpSecret))
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForLoadState()
  if (page.url().includes('/console/password')) {
    await page.fill('#current_password', password)
    await page.fill('#new_password', newPassword)
    await page.fill('#confirm_password', newPassword)
    await page.getByRole('button', { name: 'Change password' }).click()
    await page.waitForLoadState()
  }
  return page
}

// browserConsent logs the customer in and answers the consent page in Debian's
// chromium, returning the URL the browser was sent back to.
export async function browserConsent({ url, redirectUri, username, password, decision = 'authorise', artifacts, label = 'customer' }) {
  if (artifacts) mkdirSync(artifacts, { recursive: true })
  const browser = await launchChromium()
  try {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } })
    let callback
    await page.route(u => u.href.startsWith(redirectUri), async route => {
      callback = route.request().url()
      await route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>partner</title><h1>Back at the partner</h1>' })
    })
    await page.goto(url)
    await page.getByLabel('Username').fill(username)
    await page.getByLabel('Password').fill(password)
    if (artifacts) await page.screenshot({ path: `${artifacts}/${label}-login.png`, fullPage: true })
    await page.locator('form:has(input[type="password"]) button').first().click()
    await page.getByRole('button', { name: 'Authorise' }).waitFor({ timeout: 15000 })
    const consentText = await page.locator('main').innerText()
    for (const box of await page.locator('input[type="checkbox"]:not([disabled])').all()) await box.check()
    const radios = page.locator('input[type="radio"]:not([disabled])')
    if (await radios.count() > 0 && !(await page.locator('input[type="radio"]:checked').count())) await radios.first().check()
    if (artifacts) await page.screenshot({ path: `${artifacts}/${label}-consent.png`, fullPage: true })
    await page.getByRole('button', { name: decision === 'deny' ? 'Deny' : 'Authorise' }).click()
    for (let i = 0; i < 100 && !callback; i++) await page.waitForTimeout(100)
    if (!callback) throw new Error('no redirect to the partner; page says: ' + (await page.locator('body').innerText()).slice(0, 500))
    return { callback, consentText }
  } finally {
    await browser.close()
  }
}

// dashboardWithdraw signs the customer in to the bank's consent dashboard in
// chromium and withdraws the first active consent given to appName; it
// returns the dashboard's text before and after. Sandbox personas use the
// sandbox dashboard (/sandbox/customer, the default); production customers
// pass dashboard: '/customer'.
export async function dashboardWithdraw({ issuer, username, password, appName, artifacts, dashboard = '/sandbox/customer' }) {
  const browser = await launchChromium()
  try {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } })
    await page.goto(new URL(`${dashboard}/consents`, issuer).href)
    await page.getByLabel('Username').fill(username)
    await page.getByLabel('Password').fill(password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Apps you have given access' }).waitFor({ timeout: 15000 })
    const before = await page.locator('main').innerText()
    if (artifacts) await page.screenshot({ path: `${artifacts}/customer-dashboard.png`, fullPage: true })
    await page.getByRole('button', { name: `Withdraw consent for ${appName}` }).first().click()
    await page.getByText('Consent withdrawn.').waitFor({ timeout: 15000 })
    const after = await page.locator('main').innerText()
    if (artifacts) await page.screenshot({ path: `${artifacts}/customer-dashboard-withdrawn.png`, fullPage: true })
    return { before, after }
  } finally {
    await browser.close()
  }
}

// WebhookReceiver is a local HTTPS-less receiver (the server runs with
// --webhooks-allow-loopback) that verifies each delivery with the
// standardwebhooks package and records the result.
export class WebhookReceiver {
  constructor() { this.deliveries = []; this.secret = null }
  async start() {
    this.server = createServer((req, res) => {
      let body = ''
      req.on('data', c => { body += c })
      req.on('end', () => {
        const headers = { 'webhook-id': req.headers['webhook-id'], 'webhook-timestamp': req.headers['webhook-timestamp'], 'webhook-signature': req.headers['webhook-signature'] }
        let verified = false, error
        try { new Webhook(this.secret).verify(body, headers); verified = true } catch (e) { error = String(e.message || e) }
        let parsed
        try { parsed = JSON.parse(body) } catch { parsed = null }
        this.deliveries.push({ id: headers['webhook-id'], type: parsed?.type, data: parsed?.data, verified, error })
        res.writeHead(204).end()
      })
    })
    await new Promise(r => this.server.listen(0, '127.0.0.1', r))
    return `http://127.0.0.1:${this.server.address().port}/hooks`
  }
  async waitFor(types, timeoutMs = 15000) {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const seen = new Set(this.deliveries.map(d => d.type))
      if (types.every(t => seen.has(t))) return true
      await new Promise(r => setTimeout(r, 100))
    }
    return false
  }
  stop() { this.server?.close() }
}

// run prints the collected steps as one JSON object (and exits non-zero on error).
export function run(main) {
  const out = { steps: [] }
  const step = (name, data = {}) => out.steps.push({ name, ...data })
  main(step).then(
    () => { process.stdout.write(JSON.stringify(out) + '\n'); process.exit(0) },
    err => {
      out.error = { name: err?.name, code: err?.code, message: String(err?.message || err), cause: err?.cause && JSON.stringify(err.cause) }
      process.stdout.write(JSON.stringify(out) + '\n')
      process.exit(1)
    })
}
