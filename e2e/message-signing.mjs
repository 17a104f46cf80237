// UK OB message signing (x-jws-signature) checked by an independent JOSE
// library, the `jose` npm package, against a real server:
//   the bank's payment-consent and payment responses verify as detached JWS
//   (b64 absent, crit iat/iss/tan) with the JWK Set published at jwks_uri;
//   the partner's signed requests are accepted, and a tampered request
//   signature and a missing one (the app requires signing) are refused.
// Environment: ISSUER, CLIENT_ID, CLIENT_JWK, REDIRECT_URI, USERNAME, PASSWORD, ARTIFACTS, CHROMIUM.
import * as oauth from 'oauth4webapi'
import { CompactSign, createLocalJWKSet, flattenedVerify, importJWK, base64url } from 'jose'
import { Client, env, run } from './lib.mjs'

const PISP = '/open-banking/v3.1/pisp'
const OB = 'http://openbanking.org.uk'
const CRIT = [`${OB}/iat`, `${OB}/iss`, `${OB}/tan`]
const critOpt = Object.fromEntries(CRIT.map(n => [n, true]))

run(async step => {
  const c = await Client.create({ issuer: env.ISSUER, clientId: env.CLIENT_ID, privateJwk: env.CLIENT_JWK })
  const who = { redirectUri: env.REDIRECT_URI, username: env.USERNAME, password: env.PASSWORD, artifacts: env.ARTIFACTS }
  const jwk = JSON.parse(env.CLIENT_JWK)
  const alg = jwk.alg || (jwk.kty === 'EC' ? 'ES256' : 'PS256')
  const key = await importJWK(jwk, alg)
  const bankJWKS = createLocalJWKSet(await (await fetch(c.as.jwks_uri)).json())
  const enc = new TextEncoder()

  // sign makes the partner's detached JWS of text.
  const sign = async text => {
    const jws = await new CompactSign(enc.encode(text))
      .setProtectedHeader({ alg, kid: jwk.kid, typ: 'JOSE', cty: 'application/json', crit: CRIT,
        [`${OB}/iat`]: Math.floor(Date.now() / 1000), [`${OB}/iss`]: env.CLIENT_ID, [`${OB}/tan`]: 'openbanking.org.uk' })
      .sign(key, { crit: critOpt })
    const [h, , s] = jws.split('.')
    return `${h}..${s}`
  }
  // verify checks a response's x-jws-signature over the body text as received.
  const verify = async (r, text = r.text) => {
    const sig = r.headers.get('x-jws-signature')
    if (!sig) return { ok: false, error: 'no x-jws-signature' }
    const [h, p, s] = sig.split('.')
    try {
      const { protectedHeader } = await flattenedVerify({ protected: h, payload: base64url.encode(enc.encode(text)), signature: s },
        bankJWKS, { algorithms: ['PS256', 'ES256'], crit: critOpt })
      return { ok: p === '' && !('b64' in protectedHeader), alg: protectedHeader.alg, iss: protectedHeader[`${OB}/iss`],
        tan: protectedHeader[`${OB}/tan`], crit: protectedHeader.crit.join(' '), typ: protectedHeader.typ }
    } catch (err) {
      return { ok: false, error: err.code || String(err) }
    }
  }
  // call sends text exactly as signed and returns the raw response text.
  const call = async (token, method, path, text, headers = {}) => {
    const h = new Headers({ accept: 'application/json', ...headers })
    if (text !== undefined) h.set('content-type', 'application/json')
    const resp = await c.retryNonce(async () => oauth.protectedResourceRequest(token, method, new URL(path, c.issuer), h,
      text ?? null, { DPoP: c.dpop, ...c.insecure }))
    const out = { status: resp.status, headers: resp.headers, text: await resp.text() }
    try { out.json = JSON.parse(out.text) } catch { out.json = null }
    return out
  }

  const cc = await c.clientCredentials('payments')
  const initiation = {
    InstructionIdentification: 'jws-instr-1', EndToEndIdentification: 'jws-1',
    InstructedAmount: { Amount: '3.21', Currency: 'GBP' },
    CreditorAccount: { SchemeName: 'UK.OBIE.SortCodeAccountNumber', Identification: '20000055555555', Name: 'Corner Cafe Ltd' },
    RemittanceInformation: { Reference: 'JWS coffee' },
  }
  const consentText = JSON.stringify({ Data: { Initiation: initiation }, Risk: { PaymentContextCode: 'PartyToParty' } })

  const unsigned = await call(cc.access_token, 'POST', `${PISP}/domestic-payment-consents`, consentText, { 'x-idempotency-key': crypto.randomUUID() })
  step('unsigned_refused', { status: unsigned.status, code: unsigned.json?.code, ob: unsigned.json?.ob_error_code, detail: unsigned.json?.detail,
    response_verified: (await verify(unsigned)).ok })

  const tampered = await call(cc.access_token, 'POST', `${PISP}/domestic-payment-consents`, consentText.replace('3.21', '9.99'),
    { 'x-idempotency-key': crypto.randomUUID(), 'x-jws-signature': await sign(consentText) })
  step('tampered_refused', { status: tampered.status, code: tampered.json?.code, ob: tampered.json?.ob_error_code, detail: tampered.json?.detail })

  const pc = await call(cc.access_token, 'POST', `${PISP}/domestic-payment-consents`, consentText,
    { 'x-idempotency-key': crypto.randomUUID(), 'x-jws-signature': await sign(consentText) })
  const pcId = pc.json?.Data?.ConsentId
  step('payment_consent', { status: pc.status, ...(await verify(pc)) })

  const pay = await c.authorize({ ...who, scope: 'openid payments', label: 'jws-payment',
    authorizationDetails: [{ type: 'payment_initiation', consent_id: pcId }] })
  const paymentText = JSON.stringify({ Data: { ConsentId: pcId, Initiation: initiation }, Risk: { PaymentContextCode: 'PartyToParty' } })
  const p = await call(pay.access_token, 'POST', `${PISP}/domestic-payments`, paymentText,
    { 'x-idempotency-key': crypto.randomUUID(), 'x-jws-signature': await sign(paymentText) })
  const v = await verify(p)
  const changed = await verify(p, p.text + ' ')
  step('payment', { status: p.status, ...v, tampered_response_verified: changed.ok, tampered_error: changed.error })
  const got = await call(pay.access_token, 'GET', `${PISP}/domestic-payments/${p.json?.Data?.DomesticPaymentId}`)
  step('payment_get', { status: got.status, ...(await verify(got)) })
})
