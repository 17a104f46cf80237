// Billing end to end in a real browser (Debian's chromium via playwright-core):
// staff member A (finance) drafts a contract for the demo partner, submits
// it, attaches the signed agreement (and is refused approving it herself: maker-checker), staff member B
// (admin) approves it, runs the settlement of PERIOD from the console and
// gives the demo app an accounts override (2/s, burst 3, 100 calls a month), and
// the partner signs in to the portal, sees the override on its usage page and
// downloads the statement CSV.
//
// Input (environment): BASE, PARTNER_ID, PERIOD, TERM_START, TERM_END,
// STAFF_A_EMAIL, STAFF_A_PASSWORD, STAFF_A_TOTP, STAFF_B_EMAIL, STAFF_B_PASSWORD,
// STAFF_B_TOTP (base32 secrets), DEMO_APP_ID, PORTAL_EMAIL, PORTAL_PASSWORD, ARTIFACTS, CHROMIUM.
// Output: one JSON object on stdout describing each step's result.
import { mkdirSync } from 'node:fs'
import { env, launchChromium, portalSignIn, run, shot, staffPage, text } from './lib.mjs'

const base = env.BASE
// A (tiny) signed agreement: the platform checks the PDF magic bytes.
const SIGNED_PDF = '%PDF-1.4\n% signed by the bank and the partner\n%%EOF\n'

run(async step => {
  if (env.ARTIFACTS) mkdirSync(env.ARTIFACTS, { recursive: true })
  const browser = await launchChromium()
  try {
    // A drafts and submits
    const a = await staffPage(browser, base, { email: env.STAFF_A_EMAIL, password: env.STAFF_A_PASSWORD, secret: env.STAFF_A_TOTP, label: 'a' })
    step('staff_a_signed_in', { url: a.url() })
    await a.goto(base + '/console/contracts/new')
    await a.selectOption('#partner_id', env.PARTNER_ID)
    await a.fill('#start', env.TERM_START)
    await a.fill('#end', env.TERM_END)
    await a.fill('#currency', 'EUR')
    await a.fill('#monthly_minimum', '50000')
    await shot(a, 'a-draft-form')
    await a.getByRole('button', { name: 'Save draft' }).click()
    await a.waitForLoadState()
    const contractURL = a.url().split('?')[0]
    step('drafted', { url: contractURL, flash: await text(a, '.flash'), error: await text(a, '.error'), status: await text(a, '#contract-status') })
    await a.click('#submit-contract')
    await a.waitForLoadState()
    step('submitted', { flash: await text(a, '.flash'), status: await text(a, '#contract-status') })
    // the signed agreement: every version needs its own before approval
    await a.setInputFiles('#agreement-file', { name: 'signed-agreement.pdf', mimeType: 'application/pdf', buffer: Buffer.from(SIGNED_PDF) })
    await a.click('#attach-agreement')
    await a.waitForLoadState()
    step('agreement', { flash: await text(a, '.flash'), error: await text(a, '.error'), hash: await text(a, '#agreements code.hash') })
    await a.click('#approve-contract')
    await a.waitForLoadState()
    step('self_approval', { error: await text(a, '.error'), status: await text(a, '#contract-status') })
    await shot(a, 'a-self-approval-refused')

    // B approves and settles
    const b = await staffPage(browser, base, { email: env.STAFF_B_EMAIL, password: env.STAFF_B_PASSWORD, secret: env.STAFF_B_TOTP, label: 'b' })
    await b.goto(contractURL)
    await b.click('#approve-contract')
    await b.waitForLoadState()
    step('approved', { flash: await text(b, '.flash'), error: await text(b, '.error'), status: await text(b, '#contract-status') })
    await shot(b, 'b-approved')
    await b.goto(base + '/console/billing')
    await b.fill('#period', env.PERIOD)
    await b.click('#run-settlement')
    await b.waitForLoadState()
    step('settled', { flash: await text(b, '.flash'), error: await text(b, '.error'), statements: await b.locator('#statements tbody tr').count() })
    await shot(b, 'b-settled')
    await b.goto(base + '/console/plans')
    await b.selectOption('#as-partner', env.PARTNER_ID)
    await b.fill('#as-app', env.DEMO_APP_ID)
    await b.fill('#o_rate_accounts', '2')
    await b.fill('#o_burst_accounts', '3')
    await b.fill('#o_volume_accounts', '100')
    await b.getByRole('button', { name: 'Save assignment' }).click()
    await b.waitForLoadState()
    step('plan_assigned', { flash: await text(b, '.flash'), error: await text(b, '.error') })
    await shot(b, 'b-plans')

    // the partner downloads the statement
    const p = await portalSignIn(browser, base, { email: env.PORTAL_EMAIL, password: env.PORTAL_PASSWORD })
    await p.goto(`${base}/portal/orgs/${env.PARTNER_ID}/billing`)
    await shot(p, 'partner-billing')
    step('portal_agreement', { hash: await text(p, '#agreements code.hash') })
    step('usage', { accounts: await text(p, `table.usage[data-app="${env.DEMO_APP_ID}"] tbody tr:first-child`) })
    const rows = await p.locator('#statements tbody tr').count()
    const [download] = await Promise.all([p.waitForEvent('download'), p.locator('a.csv-link').first().click()])
    const chunks = []
    for await (const c of await download.createReadStream()) chunks.push(c)
    step('csv', { rows, filename: download.suggestedFilename(), body: Buffer.concat(chunks).toString('utf8') })
    await p.locator('#statements tbody tr a').first().click()
    await p.waitForLoadState()
    await shot(p, 'partner-statement-printable')
    // Printed, the statement stands alone: no site chrome, no buttons.
    await p.emulateMedia({ media: 'print' })
    const pdf = await p.pdf({ format: 'A4' })
    step('printable', {
      title: await text(p, '#stm-title'), net: await text(p, '#statement-net'),
      printHidden: { topbar: !(await p.locator('header.topbar').isVisible()), actions: !(await p.locator('#download-csv').isVisible()) },
      printTableVisible: await p.locator('#statement-net').isVisible(),
      pdfBytes: pdf.length, pdfHeader: pdf.subarray(0, 5).toString('latin1'),
    })
    await p.emulateMedia({ media: 'screen' })
  } finally {
    await browser.close()
  }
})
