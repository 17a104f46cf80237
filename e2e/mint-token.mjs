// Mints a customer access token for load tests: an account-access consent
// authorised by a sandbox customer in chromium, printed with the DPoP private
// key it is bound to, so bankbridge-load can replay resource calls with fresh
// DPoP proofs. Environment as for consented-apis.mjs.
import { webcrypto as crypto } from 'node:crypto'
import { Client, env, run } from './lib.mjs'

run(async step => {
  const c = await Client.create({ issuer: env.ISSUER, clientId: env.CLIENT_ID, privateJwk: env.CLIENT_JWK, extractableDPoPKey: true })
  const cc = await c.clientCredentials('accounts')
  const consent = await c.call(cc.access_token, 'POST', '/open-banking/v3.1/aisp/account-access-consents', {
    Data: { Permissions: ['ReadAccountsDetail', 'ReadBalances', 'ReadTransactionsDetail', 'ReadTransactionsCredits', 'ReadTransactionsDebits'] }, Risk: {},
  }, { 'x-idempotency-key': crypto.randomUUID() })
  const tok = await c.authorize({ scope: 'accounts', redirectUri: env.REDIRECT_URI, username: env.USERNAME, password: env.PASSWORD,
    authorizationDetails: [{ type: 'account_access', consent_id: consent.json.Data.ConsentId }] })
  const accounts = await c.call(tok.access_token, 'GET', '/open-banking/v3.1/aisp/accounts')
  const jwk = await crypto.subtle.exportKey('jwk', c.dpopKeys.privateKey)
  step('token', { access_token: tok.access_token, dpop_jwk: { ...jwk, alg: 'ES256' }, account_id: accounts.json.Data.Account[0].AccountId })
})
