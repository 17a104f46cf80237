// Production mode in the browser: a partner developer signs up, the
// verification mail arrives over SMTP (the Go test's SMTP server, read here
// through the test's MAILBOX URL, which answers the mail's link rewritten from
// the https issuer to the server's own http address), the link verifies the
// address and the developer reaches the portal. Then: the demo login does not
// exist and the development outbox is not there.
//
// Env: BASE (http://127.0.0.1:port, the server behind its https issuer),
//   MAILBOX (GET ?to=email → 200 with the verification link, 404 until it
//   arrived), CHROMIUM, ARTIFACTS (optional screenshots).
// Output: one JSON object on stdout: {steps: [...], error?}.
import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { env, launchChromium, run } from './lib.mjs'

const base = new URL(env.BASE)

async function waitForLink(email, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const resp = await fetch(env.MAILBOX + '?to=' + encodeURIComponent(email))
    if (resp.status === 200) return (await resp.text()).trim()
    await new Promise(r => setTimeout(r, 200))
  }
  throw new Error(`no verification mail for ${email} within ${timeoutMs} ms`)
}

async function shot(page, name) {
  if (env.ARTIFACTS) await page.screenshot({ path: `${env.ARTIFACTS}/${name}.png`, fullPage: true })
}

run(async step => {
  if (env.ARTIFACTS) mkdirSync(env.ARTIFACTS, { recursive: true })
  const browser = await launchChromium()
  try {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, baseURL: base.href })
    const page = await ctx.newPage()
    const email = `prod-${randomBytes(4).toString('hex')}@wallet.example`
    const password = 'production-password-' + randomBytes(4).toString('hex')

    await page.goto('/portal/sign-up')
    await page.getByLabel('Work email').fill(email)
    await page.getByLabel('Password').fill(password)
    await page.getByLabel('Organisation name').fill('Production Wallet Ltd')
    await page.getByRole('button', { name: 'Sign up' }).click()
    await page.getByRole('heading', { level: 1, name: 'Check your email' }).waitFor()
    await shot(page, 'check-email')
    const checkText = await page.locator('main').innerText()
    step('signed_up', { email, mentions_dev_outbox: checkText.includes('outbox') })

    const link = await waitForLink(email)
    step('mail_link', { path: new URL(link).pathname })
    await page.goto(link)
    await page.getByRole('button', { name: 'Verify email' }).click()
    await page.waitForURL(/\/portal\/sign-in/)
    await page.getByLabel('Email').fill(email)
    await page.getByLabel('Password').fill(password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.waitForURL(/\/portal\/orgs\/ptn_[^/]+$/)
    await shot(page, 'dashboard')
    const cookies = (await ctx.cookies()).map(c => ({ name: c.name, secure: c.secure, httpOnly: c.httpOnly, sameSite: c.sameSite }))
    step('portal', {
      partner_id: new URL(page.url()).pathname.split('/').pop(),
      status: (await page.locator('#partner-status').innerText()).trim(),
      cookies,
    })

    // The development demo login does not exist here.
    const demo = await (await browser.newContext({ viewport: { width: 390, height: 844 }, baseURL: base.href })).newPage()
    await demo.goto('/portal/sign-in')
    await demo.getByLabel('Email').fill('demo@wallet.example')
    await demo.getByLabel('Password').fill('demo-wallet-sandbox')
    await demo.getByRole('button', { name: 'Sign in' }).click()
    await demo.locator('[role="alert"]').first().waitFor()
    await shot(demo, 'demo-login')
    step('demo_login', { path: new URL(demo.url()).pathname, alert: (await demo.locator('[role="alert"]').first().innerText()).trim() })

    // Nor does the development outbox.
    const resp = await page.goto('/portal/dev/outbox')
    step('dev_outbox', { status: resp.status() })
  } finally {
    await browser.close()
  }
})
