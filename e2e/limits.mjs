// The console's Limits page in a real browser (Debian's chromium via
// playwright-core): a risk officer (the maker) follows the "Limits" link,
// proposes a daily limit for a partner in the form (amount in the
// currency's major unit) and is not offered to approve it; a second risk
// officer (the checker) approves it from the pending list and sees it in
// force. The Go test then pays on another node.
//
// Input (environment): BASE, MAKER_EMAIL, MAKER_PASSWORD, MAKER_TOTP,
// CHECKER_EMAIL, CHECKER_PASSWORD, CHECKER_TOTP (base32), ENVIRONMENT,
// CURRENCY, PARTNER_ID, AMOUNT, ARTIFACTS, CHROMIUM.
// Output: one JSON object on stdout describing each step's result.
import { mkdirSync } from 'node:fs'
import { env, launchChromium, run, shot, staffPage, text } from './lib.mjs'

const base = env.BASE

run(async step => {
  if (env.ARTIFACTS) mkdirSync(env.ARTIFACTS, { recursive: true })
  const browser = await launchChromium()
  try {
    const maker = await staffPage(browser, base, { email: env.MAKER_EMAIL, password: env.MAKER_PASSWORD, secret: env.MAKER_TOTP, label: 'maker' })
    await maker.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Limits' }).click()
    await maker.waitForLoadState()
    step('maker_limits', { url: new URL(maker.url()).pathname, h1: await text(maker, 'h1') })
    await maker.getByLabel('Environment').selectOption(env.ENVIRONMENT)
    await maker.getByLabel('Currency (ISO 4217)').fill(env.CURRENCY)
    await maker.getByLabel('Applies to').selectOption('partner')
    await maker.getByLabel('Partner, app (client id) or customer id (empty for the platform)').fill(env.PARTNER_ID)
    await maker.getByLabel('Kind').selectOption('per_day')
    await maker.getByLabel(/^Limit in the currency's major unit/).fill(env.AMOUNT)
    await maker.locator('#propose-rule').getByLabel('Reason').fill('partner under review')
    await shot(maker, 'maker-propose-form')
    await maker.getByRole('button', { name: 'Propose rule' }).click()
    await maker.waitForURL(/done=proposed/)
    await shot(maker, 'maker-proposed')
    const pending = maker.locator('[id^="proposal-lpr_"]')
    step('proposed', {
      flash: await text(maker, '.flash'),
      pending: (await pending.first().locator('h3').innerText()).trim(),
      makerApproveButtons: await maker.getByRole('button', { name: /^Approve proposal/ }).count(),
      makerNote: (await pending.first().innerText()).includes('You proposed this change, so another risk officer or an admin must approve it.'),
    })

    const checker = await staffPage(browser, base, { email: env.CHECKER_EMAIL, password: env.CHECKER_PASSWORD, secret: env.CHECKER_TOTP, label: 'checker' })
    await checker.goto(base + '/console/limits')
    const id = (await checker.locator('[id^="proposal-lpr_"]').first().getAttribute('id')).slice('proposal-'.length)
    await shot(checker, 'checker-pending')
    await checker.getByRole('button', { name: 'Approve proposal ' + id }).click()
    await checker.waitForURL(/done=approved/)
    await shot(checker, 'checker-approved')
    step('approved', {
      proposal: id,
      flash: await text(checker, '.flash'),
      rule: await text(checker, '#limit-rules tbody tr'),
      pendingLeft: await checker.locator('[id^="proposal-lpr_"]').count(),
    })
  } finally {
    await browser.close()
  }
})
