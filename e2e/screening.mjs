// The staff console's Screening page in a real browser (Debian's chromium via
// playwright-core): a risk officer signs in, follows the "Screening" link,
// reads the imported lists, screens a name written in Cyrillic and reads the
// explained match (list, reference, entry, matched name, the normalised forms
// compared, the score), then screens a name that matches nothing.
//
// Input (environment): ISSUER, STAFF_EMAIL, STAFF_PASSWORD, STAFF_TOTP
// (base32), QUERY, MISS, ARTIFACTS, CHROMIUM.
// Output: one JSON object on stdout describing each step's result.
import { mkdirSync } from 'node:fs'
import { env, launchChromium, run, shot, staffSignIn } from './lib.mjs'


// cells reads a table's body rows as { data-label: text } objects (row
// headers as written, not as styled).
const cells = (page, sel) => page.locator(`${sel} tbody tr`).evaluateAll(rows => rows.map(r =>
  Object.fromEntries([...r.querySelectorAll('th, td')].map(c => [c.getAttribute('data-label'),
    (c.tagName === 'TH' ? c.textContent : c.innerText).trim()]))))

run(async step => {
  if (env.ARTIFACTS) mkdirSync(env.ARTIFACTS, { recursive: true })
  const browser = await launchChromium()
  try {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage()
    const violations = []
    page.on('console', m => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()) })
    await staffSignIn(page, { issuer: env.ISSUER, email: env.STAFF_EMAIL, password: env.STAFF_PASSWORD, totpSecret: env.STAFF_TOTP,
      newPassword: 'a-new-long-staff-password-screening' })

    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Screening' }).click()
    await page.waitForLoadState()
    step('screening_home', { path: new URL(page.url()).pathname, h1: (await page.locator('h1').innerText()).trim(), lists: await cells(page, '#lists') })
    await shot(page, 'screening-lists')

    await page.getByLabel('Name (a person or an organisation, in any script)').fill(env.QUERY)
    await page.getByRole('button', { name: 'Screen' }).click()
    await page.waitForLoadState()
    step('match', { path: new URL(page.url()).pathname, value: await page.locator('#name').inputValue(),
      summary: (await page.locator('#results p').first().innerText()).trim(), rows: await cells(page, '#results table') })
    await shot(page, 'screening-match')

    await page.getByLabel('Name (a person or an organisation, in any script)').fill(env.MISS)
    await page.getByRole('button', { name: 'Screen' }).click()
    await page.waitForLoadState()
    step('miss', { text: (await page.locator('#no-match').innerText()).trim(), rows: await page.locator('#results table').count() })
    step('csp', { violations })
  } finally {
    await browser.close()
  }
})
