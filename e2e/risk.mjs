// The console's Risk cases in a real browser (Debian's chromium via
// playwright-core): a risk officer signs in, follows "Risk cases", opens the
// held payment's case from the queue, reads its score, reasons and
// screening match, chooses Release, writes the note and decides; the case
// page then says the payment was released.
//
// Input (environment): BASE, CASE_ID, STAFF_EMAIL, STAFF_PASSWORD, STAFF_TOTP
// (base32), ARTIFACTS, CHROMIUM.
// Output: one JSON object on stdout describing each step's result.
import { mkdirSync } from 'node:fs'
import { env, launchChromium, run, shot, staffSignIn } from './lib.mjs'

const base = env.BASE

run(async step => {
  if (env.ARTIFACTS) mkdirSync(env.ARTIFACTS, { recursive: true })
  const browser = await launchChromium()
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const violations = []
    page.on('console', m => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()) })
    await staffSignIn(page, { issuer: base, email: env.STAFF_EMAIL, password: env.STAFF_PASSWORD, totpSecret: env.STAFF_TOTP,
      newPassword: 'a-new-long-staff-password-risk' })
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Risk cases' }).click()
    await page.waitForLoadState()
    const rows = await page.locator('#risk-cases tbody tr').count()
    step('queue', { url: page.url(), h1: (await page.locator('h1').innerText()).trim(), rows })
    await shot(page, 'risk-queue')
    await page.getByRole('link', { name: env.CASE_ID }).click()
    await page.waitForLoadState()
    step('case', {
      url: page.url(),
      score: (await page.locator('#case-score').innerText()).trim(),
      reasons: await page.locator('#case-reasons tbody td:first-child').allInnerTexts(),
      matches: await page.locator('#case-matches tbody tr').count(),
    })
    await shot(page, 'risk-case')
    await page.getByLabel('Release: send the payment').check()
    await page.getByLabel('Note (required; stays inside the bank)').fill('Customer confirmed the payee by phone (browser)')
    await page.getByRole('button', { name: 'Decide' }).click()
    await page.waitForLoadState()
    await shot(page, 'risk-case-released')
    step('decided', {
      url: page.url(),
      flash: (await page.locator('.flash').first().innerText()).trim(),
      status: (await page.locator('#case-status').innerText()).trim(),
      decision: (await page.locator('#case-decision').innerText()).trim(),
      violations,
    })
  } finally {
    await browser.close()
  }
})
