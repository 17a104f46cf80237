// sca-passkey.js: "Use a passkey" on the SCA page of the authorization flow.
// It posts the page's form fields with method=passkey-options to get request
// options whose challenge is bound to what the customer confirms (the
// payment's amount and payee), asks the browser for the passkey, and posts
// the answer as the form (method=passkey): the server answers with the
// consent page, or this page with the reason. Loaded as a file after
// webauthn-json.js: the CSP allows no inline script.
(function () {
  'use strict';
  var form = document.getElementById('sca-passkey');
  if (!form) return;
  var status = document.getElementById('sca-passkey-status');
  if (!window.PublicKeyCredential || !navigator.credentials || !navigator.credentials.get) {
    var note = document.getElementById('sca-passkey-unsupported');
    if (note) note.hidden = false;
    return;
  }
  form.hidden = false;

  var webauthn = window.BankbridgeWebAuthn;

  function show(msg) {
    status.textContent = msg;
    status.hidden = !msg;
  }

  var busy = 'We could not start your passkey just now. Please try again in a moment.';

  // options asks the server for the request options of this page's
  // interaction, with the form's CSRF token.
  function options() {
    var body = new URLSearchParams();
    ['csrf_token', 'interaction', 'step'].forEach(function (n) { body.set(n, form.elements[n].value); });
    body.set('method', 'passkey-options');
    return fetch(form.action, { method: 'POST', credentials: 'same-origin', body: body }).then(function (resp) {
      var json = (resp.headers.get('Content-Type') || '').indexOf('application/json') === 0;
      if (!json) throw new Error(resp.ok ? busy : 'This page has expired. Please go back to the app and start again.');
      return resp.json().then(function (j) {
        if (!resp.ok || !j.publicKey) throw new Error(j.error || busy);
        return j;
      });
    });
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var button = form.querySelector('button[type=submit]');
    button.disabled = true;
    show('');
    options().then(function (begun) {
      return navigator.credentials.get({ publicKey: webauthn.requestOptions(begun.publicKey) }).then(function (cred) {
        if (!cred) throw new Error('No passkey was used. Please try again.');
        form.elements.ceremony_id.value = begun.ceremony_id;
        form.elements.assertion.value = JSON.stringify(webauthn.credentialJSON(cred));
        form.submit();
      }, function (err) {
        if (err && err.name === 'NotAllowedError') throw new Error('The passkey was not used: it was cancelled or timed out. Please try again.');
        throw new Error('Your browser could not use the passkey. Please try again.');
      });
    }).catch(function (err) {
      show(err.message);
      button.disabled = false;
    });
  });
})();
