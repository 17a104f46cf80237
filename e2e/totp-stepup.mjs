// A sandbox persona with an authenticator app (hana.totp) confirms it's them
// on the customer dashboard's Security page in Debian's chromium before
// making new recovery codes: the password alone is refused, a wrong code is
// refused, the password and the current code are accepted; then the new
// codes are shown once.
//
// Env: ISSUER, USERNAME, PASSWORD, CODE (the authenticator code now), WRONG
//   (a code that is not), CHROMIUM, ARTIFACTS (optional screenshots).
// Output: one JSON object on stdout: {steps: [...], error?}.
import { mkdirSync } from 'node:fs'
import { env, launchChromium, run, shot } from './lib.mjs'

run(async step => {
  if (env.ARTIFACTS) mkdirSync(env.ARTIFACTS, { recursive: true })
  const browser = await launchChromium()
  try {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } })
    const errors = []
    page.on('pageerror', e => errors.push(String(e.message || e)))
    const alert = async () => (await page.locator('p.error[role=alert]').allInnerTexts()).filter(Boolean)

    await page.goto(new URL('/sandbox/customer/security', env.ISSUER).href)
    await page.getByLabel('Username').fill(env.USERNAME)
    await page.getByLabel('Password').fill(env.PASSWORD)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Apps you have given access' }).waitFor({ timeout: 15000 })
    await page.getByRole('link', { name: 'Security' }).click()
    await page.getByRole('heading', { name: "Confirm it's you", level: 2 }).waitFor({ timeout: 15000 })
    step('security_page', {
      text: await page.locator('main').innerText(),
      newCodes: await page.getByRole('button', { name: 'Generate new recovery codes' }).count(),
    })
    await shot(page, 'security')

    const confirm = async (password, code) => {
      await page.getByLabel('Your password').fill(password)
      await page.getByLabel('Authenticator code').fill(code)
      await page.getByRole('button', { name: "Confirm it's you" }).click()
      await page.waitForLoadState('load')
    }
    await page.getByLabel('Your password').fill(env.PASSWORD)
    await page.getByRole('button', { name: "Confirm it's you" }).click()
    // The code field is required: the browser keeps the form.
    step('password_only', { url: page.url(), missing: await page.getByLabel('Authenticator code').evaluate(el => el.validity.valueMissing) })

    await confirm(env.PASSWORD, env.WRONG)
    step('wrong_code', { url: page.url(), alerts: await alert() })
    await shot(page, 'security-wrong-code')

    await confirm(env.PASSWORD, env.CODE)
    await page.getByText('Thank you. For the next 5 minutes you can change your second factors.').waitFor({ timeout: 15000 })
    step('stepped_up', { url: page.url() })

    await page.getByText('Generate new recovery codes', { exact: true }).first().click()
    await page.getByRole('button', { name: 'Generate new recovery codes' }).click()
    await page.getByRole('heading', { name: 'Your recovery codes' }).waitFor({ timeout: 15000 })
    step('codes', { codes: await page.locator('#recovery-codes li').count(), errors })
    await shot(page, 'recovery-codes')
  } finally {
    await browser.close()
  }
})
