// A disputed payment refunded, in a real browser (Debian's chromium via
// playwright-core): the sandbox customer reports a payment made through a
// partner as a wrong amount from the dashboard's Payments page; the
// partner's owner answers in the portal, agreeing to a refund; a partner
// manager opens the case in the console and raises the refund from it; a
// risk officer (a second person: maker-checker) approves it under
// Corrections; the customer's Accounts page then shows the refund on the
// statement and the new balance, and the Payments page the outcome.
//
// Input (environment): BASE, PAYMENT_ID, CUSTOMER_USERNAME,
// CUSTOMER_PASSWORD, PORTAL_EMAIL, PORTAL_PASSWORD, MAKER_EMAIL,
// MAKER_PASSWORD, MAKER_TOTP, CHECKER_EMAIL, CHECKER_PASSWORD,
// CHECKER_TOTP (base32), ARTIFACTS, CHROMIUM.
// Output: one JSON object on stdout describing each step's result.
import { mkdirSync } from 'node:fs'
import { env, launchChromium, portalSignIn, run, shot, staffPage, text } from './lib.mjs'

const base = env.BASE

run(async step => {
  if (env.ARTIFACTS) mkdirSync(env.ARTIFACTS, { recursive: true })
  const browser = await launchChromium()
  try {
    // The customer's statement before, then the report.
    const cctx = await browser.newContext({ viewport: { width: 390, height: 844 } })
    const c = await cctx.newPage()
    await c.goto(`${base}/sandbox/customer/accounts`)
    await c.getByLabel('Username').fill(env.CUSTOMER_USERNAME)
    await c.getByLabel('Password').fill(env.CUSTOMER_PASSWORD)
    await c.getByRole('button', { name: 'Sign in' }).click()
    await c.waitForLoadState()
    await c.goto(`${base}/sandbox/customer/accounts`)
    const balancesBefore = await c.locator('.balance').allInnerTexts()
    await c.getByRole('navigation', { name: 'Your bank' }).getByRole('link', { name: 'Payments' }).click()
    await c.waitForLoadState()
    const row = c.locator(`#payment-${env.PAYMENT_ID}`)
    const listed = await row.innerText()
    await row.getByRole('link', { name: /Report a problem/ }).click()
    await c.waitForLoadState()
    await c.locator('input[name="category"][value="wrong_amount"]').check()
    await c.fill('#description', 'The shop charged me for two orders; I placed one.')
    await c.getByRole('button', { name: 'Send complaint' }).click()
    await c.waitForLoadState()
    step('reported', { balancesBefore, listed, flash: await text(c, '.flash'), badge: await text(c, `#complaint-${env.PAYMENT_ID}`) })
    await shot(c, 'refund-customer-reported')

    // The partner answers in the portal and agrees to a refund.
    const p = await portalSignIn(browser, base, { email: env.PORTAL_EMAIL, password: env.PORTAL_PASSWORD })
    await p.getByRole('link', { name: 'Complaints' }).first().click()
    await p.waitForLoadState()
    await p.locator('#complaints tbody tr a').first().click()
    await p.waitForLoadState()
    await p.fill('#answer', 'We charged the order twice by mistake; please refund the customer.')
    await p.getByLabel('We agree to refund the customer').check()
    await p.getByRole('button', { name: 'Send answer' }).click()
    await p.waitForLoadState()
    step('answered', { flash: await text(p, '.flash'), answer: await text(p, '#partner-answer') })

    // A partner manager raises the refund from the case (the maker).
    const m = await staffPage(browser, base, { email: env.MAKER_EMAIL, password: env.MAKER_PASSWORD, secret: env.MAKER_TOTP, label: 'maker' })
    await m.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Complaints' }).click()
    await m.waitForLoadState()
    await m.locator('#complaints tbody tr a').first().click()
    await m.waitForLoadState()
    const caseURL = m.url()
    const agrees = await text(m, '#partner-agrees')
    await m.fill('#amount', '4.00')
    await m.getByRole('button', { name: 'Refund' }).click()
    await m.waitForLoadState()
    const raised = { flash: await text(m, '.flash'), status: await text(m, '#correction-status'), amount: await text(m, '#correction-amount'),
      reason: await text(m, '#correction-reason'), mine: await text(m, '#correction-mine'), url: m.url() }
    await m.goto(caseURL)
    raised.caseStatus = await text(m, '#complaint-status')
    step('raised', { agrees, ...raised })
    await shot(m, 'refund-raised')

    // A risk officer approves it (the checker).
    const o = await staffPage(browser, base, { email: env.CHECKER_EMAIL, password: env.CHECKER_PASSWORD, secret: env.CHECKER_TOTP, label: 'checker' })
    await o.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Corrections' }).click()
    await o.waitForLoadState()
    await o.locator('#corrections-pending tbody tr a').first().click()
    await o.waitForLoadState()
    await o.locator('input[name="decision"][value="approve"]').check()
    await o.fill('#note', 'The partner confirms the double charge.')
    await o.getByRole('button', { name: 'Decide' }).click()
    await o.waitForLoadState()
    step('approved', { flash: await text(o, '.flash'), status: await text(o, '#correction-status'), decision: await text(o, '#correction-decision') })
    await shot(o, 'refund-approved')
    await o.goto(caseURL)
    step('resolved', { status: await text(o, '#complaint-status'), outcome: await text(o, '#complaint-outcome') })

    // The customer sees the refund on the statement and the outcome.
    await c.goto(`${base}/sandbox/customer/accounts`)
    const entries = await c.locator('table.statement tbody tr').evaluateAll(trs => trs.map(tr => [...tr.children].map(td => td.textContent.trim())))
    step('statement', { balancesAfter: await c.locator('.balance').allInnerTexts(), entries })
    await shot(c, 'refund-customer-statement')
    await c.goto(`${base}/sandbox/customer/payments`)
    step('customer_after', { row: await c.locator(`#payment-${env.PAYMENT_ID}`).innerText() })
  } finally {
    await browser.close()
  }
})
