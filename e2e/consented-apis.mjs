// The consented APIs end to end, driven by an independent FAPI 2.0 client
// (oauth4webapi) with the customer in Debian's chromium, and the webhooks they
// cause verified by the standardwebhooks package:
//   account access: consent (client_credentials) → PAR with authorization_details
//     → login + consent → accounts, balances, every transaction page;
//   payment: consent → authorise (debtor account) → funds confirmation → payment → status;
//   data sharing: consent → authorise → dataset read.
// Environment: ISSUER, CLIENT_ID, CLIENT_JWK, REDIRECT_URI, USERNAME, PASSWORD, ARTIFACTS, CHROMIUM.
import { Client, WebhookReceiver, dashboardWithdraw, env, run } from './lib.mjs'

const AISP = '/open-banking/v3.1/aisp'
const PISP = '/open-banking/v3.1/pisp'
const DATA = '/open-banking/v3.1/data'

run(async step => {
  const c = await Client.create({ issuer: env.ISSUER, clientId: env.CLIENT_ID, privateJwk: env.CLIENT_JWK })
  const who = { redirectUri: env.REDIRECT_URI, username: env.USERNAME, password: env.PASSWORD, artifacts: env.ARTIFACTS }
  const cc = await c.clientCredentials('accounts payments data_sharing webhooks')
  step('client_credentials', { token_type: cc.token_type })

  // A webhook endpoint for this app, receiving every event.
  const receiver = new WebhookReceiver()
  const hookURL = await receiver.start()
  const ep = await c.call(cc.access_token, 'POST', '/webhook-endpoints', {
    url: hookURL, description: 'e2e receiver',
    event_types: ['consent.authorised', 'consent.revoked', 'payment.created', 'payment.status_changed'],
  })
  receiver.secret = ep.json.secret
  step('webhook_endpoint', { status: ep.status, has_secret: typeof ep.json.secret === 'string' && ep.json.secret.startsWith('whsec_') })

  // Account access.
  const consent = await c.call(cc.access_token, 'POST', `${AISP}/account-access-consents`, {
    Data: { Permissions: ['ReadAccountsDetail', 'ReadBalances', 'ReadTransactionsDetail', 'ReadTransactionsCredits', 'ReadTransactionsDebits'] },
    Risk: {},
  }, { 'x-idempotency-key': crypto.randomUUID() })
  const consentId = consent.json?.Data?.ConsentId
  step('account_consent', { status: consent.status, consent_status: consent.json?.Data?.Status })
  const acc = await c.authorize({ ...who, scope: 'openid accounts', label: 'account-access',
    authorizationDetails: [{ type: 'account_access', consent_id: consentId }] })
  step('account_token', { token_type: acc.token_type, details: acc.authorization_details, consent_page_mentions_balances: /balance/i.test(acc.consentText) })
  const accounts = await c.call(acc.access_token, 'GET', `${AISP}/accounts`)
  const list = accounts.json?.Data?.Account || []
  step('accounts', { status: accounts.status, count: list.length, interaction_id: !!accounts.headers['x-fapi-interaction-id'] })
  const first = list[0]?.AccountId
  const balances = await c.call(acc.access_token, 'GET', `${AISP}/accounts/${first}/balances`)
  step('balances', { status: balances.status, count: balances.json?.Data?.Balance?.length })
  let next = `${AISP}/accounts/${first}/transactions`, pages = 0, txns = 0
  const ids = new Set()
  while (next && pages < 100) {
    const r = await c.call(acc.access_token, 'GET', next)
    if (r.status !== 200) { step('transactions_error', { status: r.status, body: r.json }); break }
    for (const t of r.json.Data.Transaction || []) { ids.add(t.TransactionId); txns++ }
    pages++
    next = r.json.Links?.Next ? new URL(r.json.Links.Next).pathname + new URL(r.json.Links.Next).search : null
  }
  step('transactions', { pages, transactions: txns, distinct: ids.size })

  // Payment.
  const idem = crypto.randomUUID()
  const initiation = {
    InstructionIdentification: 'e2e-instr-1', EndToEndIdentification: 'e2e-1',
    InstructedAmount: { Amount: '12.34', Currency: 'GBP' },
    CreditorAccount: { SchemeName: 'UK.OBIE.SortCodeAccountNumber', Identification: '20000055555555', Name: 'Corner Cafe Ltd' },
    RemittanceInformation: { Reference: 'E2E coffee' },
  }
  const pc = await c.call(cc.access_token, 'POST', `${PISP}/domestic-payment-consents`,
    { Data: { Initiation: initiation }, Risk: { PaymentContextCode: 'PartyToParty' } }, { 'x-idempotency-key': crypto.randomUUID() })
  const pcId = pc.json?.Data?.ConsentId
  step('payment_consent', { status: pc.status, consent_status: pc.json?.Data?.Status })
  const pay = await c.authorize({ ...who, scope: 'openid payments', label: 'payment',
    authorizationDetails: [{ type: 'payment_initiation', consent_id: pcId }] })
  step('payment_token', { token_type: pay.token_type, consent_page_mentions_amount: pay.consentText.includes('12.34') })
  const funds = await c.call(pay.access_token, 'GET', `${PISP}/domestic-payment-consents/${pcId}/funds-confirmation`)
  step('funds_confirmation', { status: funds.status, available: funds.json?.Data?.FundsAvailableResult?.FundsAvailable })
  const body = { Data: { ConsentId: pcId, Initiation: initiation }, Risk: { PaymentContextCode: 'PartyToParty' } }
  const p1 = await c.call(pay.access_token, 'POST', `${PISP}/domestic-payments`, body, { 'x-idempotency-key': idem })
  const p2 = await c.call(pay.access_token, 'POST', `${PISP}/domestic-payments`, body, { 'x-idempotency-key': idem })
  const paymentId = p1.json?.Data?.DomesticPaymentId
  step('payment', { status: p1.status, payment_status: p1.json?.Data?.Status, replay_same_id: p2.json?.Data?.DomesticPaymentId === paymentId, replay_header: p2.headers['x-idempotent-replay'] })
  const got = await c.call(pay.access_token, 'GET', `${PISP}/domestic-payments/${paymentId}`)
  step('payment_status', { status: got.status, payment_status: got.json?.Data?.Status })

  // Data sharing.
  const dc = await c.call(cc.access_token, 'POST', `${DATA}/data-sharing-consents`,
    { Data: { Datasets: ['transaction_insights'] }, Risk: {} }, { 'x-idempotency-key': crypto.randomUUID() })
  const dcId = dc.json?.Data?.ConsentId
  step('data_consent', { status: dc.status })
  const dat = await c.authorize({ ...who, scope: 'openid data_sharing', label: 'data-sharing',
    authorizationDetails: [{ type: 'data_sharing', consent_id: dcId }] })
  const ds = await c.call(dat.access_token, 'GET', `${DATA}/datasets/transaction_insights`)
  step('dataset', { status: ds.status, months: ds.json?.Data?.Months?.length })

  // The customer withdraws a consent on the bank's dashboard: the list is
  // newest first, so the first "Withdraw" for this app is the data sharing.
  const dash = await dashboardWithdraw({ issuer: env.ISSUER, username: env.USERNAME, password: env.PASSWORD, appName: env.APP_NAME || 'E2E wallet', artifacts: env.ARTIFACTS })
  const afterWithdraw = await c.call(dat.access_token, 'GET', `${DATA}/datasets/transaction_insights`)
  step('dashboard', { listed_app: dash.before.includes(env.APP_NAME || 'E2E wallet'), status_after: afterWithdraw.status, error_after: afterWithdraw.challenge?.error })

  // The partner revokes the account-access consent: its token dies at once.
  const del = await c.call(cc.access_token, 'DELETE', `${AISP}/account-access-consents/${consentId}`)
  const after = await c.call(acc.access_token, 'GET', `${AISP}/accounts`)
  step('revoked', { delete_status: del.status, status_after: after.status, error_after: after.challenge?.error })

  const all = await receiver.waitFor(['consent.authorised', 'payment.created', 'consent.revoked'])
  receiver.stop()
  step('webhooks', {
    all_arrived: all,
    types: [...new Set(receiver.deliveries.map(d => d.type))].sort(),
    count: receiver.deliveries.length,
    all_verified: receiver.deliveries.length > 0 && receiver.deliveries.every(d => d.verified),
    errors: receiver.deliveries.filter(d => !d.verified).map(d => d.error),
  })
})
