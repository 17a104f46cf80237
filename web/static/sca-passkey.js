// sca-passkey.js: "Use a passkey" on the SCA page of the authorization flow.
// It posts the page's form fields with method=passkey-options to get request
// options whose challenge is bound to what the customer confirms (the
// payment's amount and payee), asks the browser for the passkey, and posts
// the answer as the form (method=passkey): the server answers with the
// consent page, or this page with the reason. Loaded as a file: the CSP
// allows no inline script.
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

  function b64urlToBytes(s) {
    s = s.replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) s += '=';
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function bytesToB64url(buf) {
    var bytes = new Uint8Array(buf), bin = '';
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  // requestOptions turns PublicKeyCredentialRequestOptionsJSON into what
  // navigator.credentials.get takes.
  function requestOptions(json) {
    if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function') {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    var o = Object.assign({}, json);
    o.challenge = b64urlToBytes(json.challenge);
    if (json.allowCredentials) {
      o.allowCredentials = json.allowCredentials.map(function (c) {
        return Object.assign({}, c, { id: b64urlToBytes(c.id) });
      });
    }
    return o;
  }

  // assertionJSON is the AuthenticationResponseJSON of cred.
  function assertionJSON(cred) {
    if (typeof cred.toJSON === 'function') return cred.toJSON();
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: bytesToB64url(cred.rawId),
      type: cred.type,
      response: {
        clientDataJSON: bytesToB64url(r.clientDataJSON),
        authenticatorData: bytesToB64url(r.authenticatorData),
        signature: bytesToB64url(r.signature)
      },
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {}
    };
    if (r.userHandle) out.response.userHandle = bytesToB64url(r.userHandle);
    if (cred.authenticatorAttachment) out.authenticatorAttachment = cred.authenticatorAttachment;
    return out;
  }

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
      return navigator.credentials.get({ publicKey: requestOptions(begun.publicKey) }).then(function (cred) {
        if (!cred) throw new Error('No passkey was used. Please try again.');
        form.elements.ceremony_id.value = begun.ceremony_id;
        form.elements.assertion.value = JSON.stringify(assertionJSON(cred));
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
