// A sandbox persona adds a passkey on the customer dashboard's Security page
// in Debian's chromium, with Chrome's virtual authenticator (CDP WebAuthn
// domain: CTAP2, internal transport, resident key, user verification) standing
// in for the device. The persona has no second factor yet, so it first
// confirms it's them with the password alone ("Confirm it's you"); then the
// page's passkeys.js fetches the creation options, calls
// navigator.credentials.create and posts the credential back. With the
// passkey added, changing factors needs the password and the passkey: the
// persona confirms with both ("Use a passkey": navigator.credentials.get)
// and removes the passkey.
//
// Env: ISSUER (http://localhost:PORT: WebAuthn needs a domain name, and
//   localhost counts as a secure context), USERNAME, PASSWORD, CHROMIUM,
//   ARTIFACTS (optional screenshots), BY_HAND=1 to hide the browser's JSON
//   helpers (parseCreationOptionsFromJSON, parseRequestOptionsFromJSON,
//   toJSON) so the script's own base64url coding runs.
// Output: one JSON object on stdout: {steps: [...], error?}.
import { mkdirSync } from 'node:fs'
import { env, launchChromium, run, shot } from './lib.mjs'

run(async step => {
  if (env.ARTIFACTS) mkdirSync(env.ARTIFACTS, { recursive: true })
  const browser = await launchChromium()
  try {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } })
    if (env.BY_HAND === '1') {
      await page.addInitScript(() => {
        delete PublicKeyCredential.parseCreationOptionsFromJSON
        delete PublicKeyCredential.parseRequestOptionsFromJSON
        delete PublicKeyCredential.prototype.toJSON
      })
    }
    const errors = []
    page.on('pageerror', e => errors.push(String(e.message || e)))
    page.on('response', r => { if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) errors.push(`${r.status()} ${r.url()}`) })
    const cdp = await page.context().newCDPSession(page)
    await cdp.send('WebAuthn.enable')
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', { options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
      isUserVerified: true, automaticPresenceSimulation: true } })

    await page.goto(new URL('/sandbox/customer/security', env.ISSUER).href)
    await page.getByLabel('Username').fill(env.USERNAME)
    await page.getByLabel('Password').fill(env.PASSWORD)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Apps you have given access' }).waitFor({ timeout: 15000 })
    await page.getByRole('link', { name: 'Security' }).click()
    await page.getByRole('heading', { name: 'Passkeys', level: 2 }).waitFor({ timeout: 15000 })
    step('security_page', { text: await page.locator('main').innerText() })
    await shot(page, 'security')

    // No second factor yet: the password alone confirms it's the persona.
    await page.getByLabel('Your password').fill(env.PASSWORD)
    await page.getByRole('button', { name: "Confirm it's you" }).click()
    await page.getByText('Thank you. For the next 5 minutes you can change your second factors.').waitFor({ timeout: 15000 })
    await page.getByLabel('Name for this passkey').waitFor({ state: 'visible', timeout: 15000 })
    step('password_step_up', { url: page.url() })

    await page.getByLabel('Name for this passkey').fill('Test laptop')
    await page.getByRole('button', { name: 'Add a passkey' }).click()
    try {
      await page.getByText('Your passkey was added.').waitFor({ timeout: 15000 })
    } catch (err) {
      throw new Error('no passkey added; page says: ' + (await page.locator('main').innerText()).slice(0, 800) + '; errors: ' + errors.join(' | '))
    }
    await shot(page, 'security-passkey-added')
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId })
    step('added', {
      url: page.url(),
      text: await page.locator('main').innerText(),
      listed: await page.locator('section[aria-labelledby="passkeys-h"] h3').evaluateAll(hs => hs.map(h => h.id)),
      credentials: credentials.map(c => ({ id: c.credentialId, resident: c.isResidentCredential, rpId: c.rpId })),
      errors,
      byHand: await page.evaluate(() => typeof PublicKeyCredential.parseCreationOptionsFromJSON !== 'function' &&
        typeof PublicKeyCredential.parseRequestOptionsFromJSON !== 'function' &&
        typeof PublicKeyCredential.prototype.toJSON !== 'function'),
    })

    // Now the passkey is a second factor: the password alone is not enough,
    // the password and the passkey are.
    const confirm = {
      password: await page.getByLabel('Your password').isVisible(),
      code: await page.getByLabel('Authenticator code').count(),
      passwordOnly: await page.getByRole('button', { name: "Confirm it's you" }).count(),
    }
    await page.getByLabel('Your password').fill(env.PASSWORD)
    await page.getByRole('button', { name: 'Use a passkey' }).click()
    try {
      await page.getByText('Thank you. For the next 5 minutes you can change your second factors.').waitFor({ timeout: 15000 })
    } catch (err) {
      throw new Error('no passkey step-up; page says: ' + (await page.locator('main').innerText()).slice(0, 800) + '; errors: ' + errors.join(' | '))
    }
    const after = await cdp.send('WebAuthn.getCredentials', { authenticatorId })
    step('passkey_step_up', { url: page.url(), confirm, signCount: after.credentials.map(c => c.signCount) })
    await shot(page, 'security-stepped-up')

    await page.getByText('Remove Test laptop').click()
    await page.getByRole('button', { name: 'Remove this passkey' }).click()
    await page.getByText('The passkey was removed.').waitFor({ timeout: 15000 })
    step('removed', {
      url: page.url(),
      text: await page.locator('main').innerText(),
      listed: await page.locator('section[aria-labelledby="passkeys-h"] h3').count(),
      errors,
    })
  } finally {
    await browser.close()
  }
})
