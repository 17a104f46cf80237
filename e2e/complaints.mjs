// A complaint in a real browser (Debian's chromium via playwright-core): the
// sandbox customer opens the dashboard's Payments page, follows "Report a
// problem" on a payment made through the demo partner and reports it as
// unauthorised; the partner's member answers in the portal (Complaints,
// once, agreeing to a refund); a risk officer finds the case under
// Complaints with its deadline and the partner's answer, and rejects it
// with reasons; the customer's Payments page then shows the outcome.
//
// Input (environment): BASE, PAYMENT_ID, CUSTOMER_USERNAME,
// CUSTOMER_PASSWORD, PORTAL_EMAIL, PORTAL_PASSWORD, STAFF_EMAIL,
// STAFF_PASSWORD, STAFF_TOTP (base32), ARTIFACTS, CHROMIUM.
// Output: one JSON object on stdout describing each step's result.
import { mkdirSync } from 'node:fs'
import { env, launchChromium, portalSignIn, run, shot, staffPage, text } from './lib.mjs'

const base = env.BASE
const REASONS = 'You confirmed this payment in the app with your authenticator code.'

run(async step => {
  if (env.ARTIFACTS) mkdirSync(env.ARTIFACTS, { recursive: true })
  const browser = await launchChromium()
  try {
    // The customer reports the payment.
    const cctx = await browser.newContext({ viewport: { width: 390, height: 844 } })
    const c = await cctx.newPage()
    await c.goto(`${base}/sandbox/customer/payments`)
    await c.getByLabel('Username').fill(env.CUSTOMER_USERNAME)
    await c.getByLabel('Password').fill(env.CUSTOMER_PASSWORD)
    await c.getByRole('button', { name: 'Sign in' }).click()
    await c.waitForLoadState()
    await c.getByRole('navigation', { name: 'Your bank' }).getByRole('link', { name: 'Payments' }).click()
    await c.waitForLoadState()
    const row = c.locator(`#payment-${env.PAYMENT_ID}`)
    step('payments', { row: await row.innerText() })
    await shot(c, 'customer-payments')
    await row.getByRole('link', { name: /Report a problem/ }).click()
    await c.waitForLoadState()
    // Refused: no description.
    await c.getByLabel('I did not authorise this payment').check()
    await c.locator('#description').evaluate(el => el.removeAttribute('required'))
    await c.getByRole('button', { name: 'Send complaint' }).click()
    await c.waitForLoadState()
    const refused = await text(c, '.error')
    await c.getByLabel('I did not authorise this payment').check()
    await c.fill('#description', 'I never made this payment and do not know this app.')
    await c.getByRole('button', { name: 'Send complaint' }).click()
    await c.waitForLoadState()
    step('reported', { refused, flash: await text(c, '.flash'), badge: await text(c, `#complaint-${env.PAYMENT_ID}`) })
    await shot(c, 'customer-reported')

    // The partner answers in the portal.
    const p = await portalSignIn(browser, base, { email: env.PORTAL_EMAIL, password: env.PORTAL_PASSWORD })
    await p.getByRole('link', { name: 'Complaints' }).first().click()
    await p.waitForLoadState()
    const listed = await p.locator('#complaints tbody tr').evaluateAll(trs => trs.map(tr => [...tr.children].map(td => td.textContent.trim())))
    await p.locator('#complaints tbody tr a').first().click()
    await p.waitForLoadState()
    const description = await text(p, '#complaint-description')
    await p.fill('#answer', 'Our logs show the payment was confirmed in our app; we agree to refund if the bank finds otherwise.')
    await p.getByLabel('We agree to refund the customer').check()
    await p.getByRole('button', { name: 'Send answer' }).click()
    await p.waitForLoadState()
    step('answered', { listed, description, flash: await text(p, '.flash'), answer: await text(p, '#partner-answer'),
      forms: await p.locator('#answer-form').count() })
    await shot(p, 'partner-answered')

    // Staff reject it with reasons.
    const s = await staffPage(browser, base, { email: env.STAFF_EMAIL, password: env.STAFF_PASSWORD, secret: env.STAFF_TOTP, label: 'complaints' })
    await s.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Complaints' }).click()
    await s.waitForLoadState()
    await s.selectOption('#status', 'open')
    await s.getByRole('button', { name: 'Show' }).click()
    await s.waitForLoadState()
    const cases = await s.locator('#complaints tbody tr').evaluateAll(trs => trs.map(tr => [...tr.children].map(td => td.textContent.trim())))
    await s.locator('#complaints tbody tr a').first().click()
    await s.waitForLoadState()
    const before = { deadline: await text(s, '#complaint-deadline'), answer: await text(s, '#partner-answer'),
      agrees: await text(s, '#partner-agrees'), customer: await text(s, '#complaint-customer'),
      refundAction: await s.locator('#refund-form').getAttribute('action') }
    await s.getByRole('button', { name: 'Reject complaint' }).click()
    await s.waitForLoadState()
    const noReasons = await text(s, '.error')
    await s.fill('#reasons', REASONS)
    await s.getByRole('button', { name: 'Reject complaint' }).click()
    await s.waitForLoadState()
    step('rejected', { cases, before, noReasons, flash: await text(s, '.flash'), status: await text(s, '#complaint-status'),
      outcome: await text(s, '#complaint-outcome'), timeline: await s.locator('#complaint-timeline li').count() })
    await shot(s, 'staff-rejected')

    // The customer sees the outcome.
    await c.goto(`${base}/sandbox/customer/payments`)
    step('customer_after', { row: await c.locator(`#payment-${env.PAYMENT_ID}`).innerText() })
  } finally {
    await browser.close()
  }
})
