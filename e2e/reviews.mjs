// A quarterly partner performance review in a real browser (Debian's chromium
// via playwright-core): a partner manager (the maker) opens the partner's
// page (risk rating medium), drafts the review for QUARTER from the
// partner's reviews page, is refused submitting it unrated, rates it, writes
// notes for the partner and internal ones, picks "continue" and submits;
// a risk officer (the checker) finds it under Reviews, sends it back with a
// note, the maker sees the note and resubmits, and the checker signs it off.
// The partner page then shows risk rating low with the review as the
// history's source. Finally the partner's member signs in to the portal,
// follows Reviews and reads the published review (never the internal notes);
// another partner's published review and a draft are 404 pages.
//
// Input (environment): BASE, PARTNER_ID, QUARTER, DRAFT_ID (a draft of
// PARTNER_ID), OTHER_REVIEW_ID (another partner's published review),
// MAKER_EMAIL, MAKER_PASSWORD, MAKER_TOTP, CHECKER_EMAIL, CHECKER_PASSWORD,
// CHECKER_TOTP (base32), PORTAL_EMAIL, PORTAL_PASSWORD, ARTIFACTS, CHROMIUM.
// Output: one JSON object on stdout describing each step's result.
import { mkdirSync } from 'node:fs'
import { env, launchChromium, portalSignIn, run, shot, staffPage, text } from './lib.mjs'

const base = env.BASE
const INTERNAL = 'INTERNAL-ONLY: the AML team asked about their ownership.'
const FOR_PARTNER = 'A solid quarter. Please keep your webhook endpoint answering.'

run(async step => {
  if (env.ARTIFACTS) mkdirSync(env.ARTIFACTS, { recursive: true })
  const browser = await launchChromium()
  try {
    // The maker drafts from the partner's page.
    const m = await staffPage(browser, base, { email: env.MAKER_EMAIL, password: env.MAKER_PASSWORD, secret: env.MAKER_TOTP, label: 'maker' })
    await m.goto(`${base}/console/partners/${env.PARTNER_ID}`)
    step('partner_before', { rating: await text(m, '#risk-rating'), history: await m.locator('#risk-history').count() })
    await m.getByRole('link', { name: 'Performance reviews' }).click()
    await m.waitForLoadState()
    const proposed = await m.locator('#quarter').inputValue()
    await m.fill('#quarter', env.QUARTER)
    await m.getByRole('button', { name: 'Create draft' }).click()
    await m.waitForLoadState()
    const reviewURL = m.url().split('?')[0]
    step('drafted', { proposed, url: reviewURL, status: await text(m, '#review-status'), flash: await text(m, '.flash'),
      calls: await text(m, '#scorecard tr[data-key="calls"] td'), complaints: await text(m, 'dd[data-key="complaints"]') })
    await shot(m, 'maker-draft')

    // Refused: nothing rated yet.
    await m.getByRole('button', { name: 'Submit for sign-off' }).click()
    await m.waitForLoadState()
    step('incomplete', { status: await text(m, '#review-status'), error: await text(m, '.error') })

    const ratings = { reliability: '4', performance: '5', growth: '3', commercial: '4', conduct: '5' }
    for (const [k, v] of Object.entries(ratings)) await m.selectOption(`#rating_${k}`, v)
    await m.selectOption('#outcome', 'continue')
    await m.fill('#partner_notes', FOR_PARTNER)
    await m.fill('#internal_notes', INTERNAL)
    await m.getByRole('button', { name: 'Save' }).click()
    await m.waitForLoadState()
    const saved = await text(m, '.flash')
    await m.getByRole('button', { name: 'Submit for sign-off' }).click()
    await m.waitForLoadState()
    step('submitted', { saved, status: await text(m, '#review-status'), flash: await text(m, '.flash'),
      approveButtons: await m.locator('#approve-review').count() })

    // The checker sends it back.
    const c = await staffPage(browser, base, { email: env.CHECKER_EMAIL, password: env.CHECKER_PASSWORD, secret: env.CHECKER_TOTP, label: 'checker' })
    await c.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Reviews' }).click()
    await c.waitForLoadState()
    await c.selectOption('#status', 'submitted')
    await c.getByRole('button', { name: 'Show' }).click()
    await c.waitForLoadState()
    const listed = await c.locator('#reviews tbody tr').evaluateAll(trs => trs.map(tr => [...tr.children].map(td => td.textContent.trim())))
    await c.locator('#reviews tbody tr a').first().click()
    await c.waitForLoadState()
    await c.fill('#return-note-input', 'Say what we expect of their webhook endpoint.')
    await c.getByRole('button', { name: 'Send back to draft' }).click()
    await c.waitForLoadState()
    step('returned', { listed, status: await text(c, '#review-status'), note: await text(c, '#return-note') })

    // The maker resubmits.
    await m.goto(reviewURL)
    const note = await text(m, '#return-note')
    await m.getByRole('button', { name: 'Submit for sign-off' }).click()
    await m.waitForLoadState()
    step('resubmitted', { note, status: await text(m, '#review-status') })

    // The checker signs it off.
    await c.goto(reviewURL)
    await c.getByRole('button', { name: 'Sign off and publish' }).click()
    await c.waitForLoadState()
    step('published', { status: await text(c, '#review-status'), flash: await text(c, '.flash'), outcome: await text(c, '#outcome') })
    await shot(c, 'checker-published')
    await c.goto(`${base}/console/partners/${env.PARTNER_ID}`)
    const history = await c.locator('#risk-history tbody tr').evaluateAll(trs => trs.map(tr => [...tr.children].map(td => td.textContent.trim())))
    step('partner_after', { rating: await text(c, '#risk-rating'), history })
    await shot(c, 'partner-risk')

    // The partner reads it in the portal.
    const p = await portalSignIn(browser, base, { email: env.PORTAL_EMAIL, password: env.PORTAL_PASSWORD })
    await p.goto(`${base}/portal/orgs/${env.PARTNER_ID}`)
    await p.getByRole('link', { name: 'Reviews' }).click()
    await p.waitForLoadState()
    const rows = await p.locator('#reviews tbody tr').evaluateAll(trs => trs.map(tr => [...tr.children].map(td => td.textContent.trim())))
    await p.locator('#reviews tbody tr a').first().click()
    await p.waitForLoadState()
    const body = await p.locator('main').innerText()
    step('portal', { rows, url: p.url(), outcome: await text(p, '#outcome'), notes: await text(p, '#partner-notes'),
      ratings: await p.locator('#ratings tbody tr').evaluateAll(trs => trs.map(tr => [...tr.children].map(td => td.textContent.trim()))),
      showsInternal: body.includes('INTERNAL-ONLY'), calls: await text(p, '#scorecard tr[data-key="calls"] td') })
    await shot(p, 'portal-review')
    const other = await p.goto(`${base}/portal/orgs/${env.PARTNER_ID}/reviews/${env.OTHER_REVIEW_ID}`)
    const otherText = await text(p, 'main')
    const draft = await p.goto(`${base}/portal/orgs/${env.PARTNER_ID}/reviews/${env.DRAFT_ID}`)
    step('portal_refusals', { other: other.status(), otherText, draft: draft.status(), draftText: await text(p, 'main') })
  } finally {
    await browser.close()
  }
})
