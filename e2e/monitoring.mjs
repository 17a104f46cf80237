// The staff console's Monitoring section in a real browser (Debian's chromium
// via playwright-core), fed by the test's own traffic: the partner app (the
// independent oauth4webapi client) gets a client_credentials token and makes
// CALLS account-access consent requests plus one for a consent that does not
// exist (a 404); then a staff member signs in, follows the "Monitoring" link,
// picks the partner and its app, and reads the traffic chart's points, the
// error chart's bars, the latency chart, the data table and the consent
// counts. Then the statistics page and its CSV download.
//
// Input (environment): ISSUER, CLIENT_ID, CLIENT_JWK, CALLS, PARTNER_NAME,
// APP_NAME, STAFF_EMAIL, STAFF_PASSWORD, STAFF_TOTP (base32), ARTIFACTS, CHROMIUM.
// Output: one JSON object on stdout describing each step's result.
import { webcrypto as crypto } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { Client, env, launchChromium, run, shot, staffSignIn } from './lib.mjs'

const base = env.ISSUER

// points reads a chart's marks: [{ label, series, value }] (value as shown).
const points = (page, id) => page.locator(`svg#${id} [data-series]`).evaluateAll(els =>
  els.map(e => ({ label: e.getAttribute('data-label'), series: e.getAttribute('data-series'), value: e.getAttribute('data-value') })))

run(async step => {
  if (env.ARTIFACTS) mkdirSync(env.ARTIFACTS, { recursive: true })
  const calls = Number(env.CALLS)

  // The partner's traffic.
  const c = await Client.create({ issuer: base, clientId: env.CLIENT_ID, privateJwk: env.CLIENT_JWK })
  const cc = await c.clientCredentials('accounts')
  const statuses = []
  for (let i = 0; i < calls; i++) {
    const r = await c.call(cc.access_token, 'POST', '/open-banking/v3.1/aisp/account-access-consents', {
      Data: { Permissions: ['ReadAccountsBasic'] }, Risk: {},
    }, { 'x-idempotency-key': crypto.randomUUID() })
    statuses.push(r.status)
  }
  const missing = await c.call(cc.access_token, 'GET', '/open-banking/v3.1/aisp/account-access-consents/cns_does_not_exist')
  statuses.push(missing.status)
  step('traffic', { statuses })

  const browser = await launchChromium()
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true })
    const page = await ctx.newPage()
    const violations = []
    page.on('console', m => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()) })
    await staffSignIn(page, { issuer: base, email: env.STAFF_EMAIL, password: env.STAFF_PASSWORD, totpSecret: env.STAFF_TOTP,
      newPassword: 'a-new-long-staff-password-monitoring' })

    // Monitoring from the navigation; the partner, then its app.
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Monitoring' }).click()
    await page.waitForLoadState()
    step('monitoring_home', { url: page.url(), h1: (await page.locator('h1').innerText()).trim() })
    await page.selectOption('#partner', { label: env.PARTNER_NAME })
    await page.getByRole('button', { name: 'Show' }).click()
    await page.waitForLoadState()
    await page.selectOption('#app', { label: `${env.APP_NAME} (sandbox)` })
    await page.getByRole('button', { name: 'Show' }).click()
    await page.waitForLoadState()
    await shot(page, 'monitoring-app')

    const traffic = await points(page, 'chart-traffic')
    const svg = page.locator('svg#chart-traffic')
    const busy = traffic.filter(p => p.value !== '0')
    step('traffic_chart', {
      url: page.url(),
      scope: (await page.locator('#scope').innerText()).trim(),
      role: await svg.getAttribute('role'),
      ariaLabel: await svg.getAttribute('aria-label'),
      title: await svg.locator('title').first().textContent(),
      visible: await svg.isVisible(),
      buckets: traffic.length,
      busy,
      sum: traffic.reduce((s, p) => s + Number(p.value), 0),
      pointTitle: busy.length ? await svg.locator(`circle[data-label="${busy[0].label}"] title`).textContent() : '',
      kpi: (await page.locator('#kpi-requests').innerText()).trim(),
    })
    const errors = (await points(page, 'chart-errors')).filter(p => p.series === '4xx')
    const latency = await points(page, 'chart-latency')
    step('other_charts', {
      errorBars: errors,
      latencyPoints: latency.filter(p => p.value !== '0 ms').length,
      latencySeries: [...new Set(latency.map(p => p.series))],
    })
    // The table fallback, opened as a keyboard user would.
    await page.locator('details.data summary').focus()
    await page.keyboard.press('Enter')
    const rows = await page.locator('#buckets tbody tr').evaluateAll(trs => trs.map(tr => [...tr.children].map(td => td.textContent.trim())))
    step('table', { open: await page.locator('details.data').evaluate(d => d.open), busyRows: rows.filter(r => r[1] !== '0') })
    const consents = await page.locator('#consents tbody tr').evaluateAll(trs => trs.map(tr => [...tr.children].map(td => td.textContent.trim())))
    step('consents', { rows: consents })
    await shot(page, 'monitoring-table')

    // The published statistics, in the sandbox (the test app's environment).
    await page.getByRole('link', { name: 'API availability' }).click()
    await page.waitForLoadState()
    await page.selectOption('#env', 'sandbox')
    await page.getByRole('button', { name: 'Show' }).click()
    await page.waitForLoadState()
    await shot(page, 'availability')
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download CSV' }).click()])
    const chunks = []
    for await (const ch of await download.createReadStream()) chunks.push(ch)
    step('csv', { filename: download.suggestedFilename(), body: Buffer.concat(chunks).toString('utf8') })
    step('csp', { violations })
  } finally {
    await browser.close()
  }
})
