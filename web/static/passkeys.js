// passkeys.js: "Add a passkey" on the customer dashboard's Security page.
// It fetches the creation options (POST, CSRF token in X-CSRF-Token), asks
// the browser to make the passkey, and posts the credential back with the
// name the customer typed. Loaded as a file: the CSP allows no inline script.
(function () {
  'use strict';
  var form = document.getElementById('passkey-add');
  if (!form) return;
  var status = document.getElementById('passkey-status');
  if (!window.PublicKeyCredential || !navigator.credentials || !navigator.credentials.create) {
    var note = document.getElementById('passkey-unsupported');
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

  // creationOptions turns PublicKeyCredentialCreationOptionsJSON into what
  // navigator.credentials.create takes.
  function creationOptions(json) {
    if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function') {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    var o = Object.assign({}, json);
    o.challenge = b64urlToBytes(json.challenge);
    o.user = Object.assign({}, json.user, { id: b64urlToBytes(json.user.id) });
    if (json.excludeCredentials) {
      o.excludeCredentials = json.excludeCredentials.map(function (c) {
        return Object.assign({}, c, { id: b64urlToBytes(c.id) });
      });
    }
    return o;
  }

  // credentialJSON is the RegistrationResponseJSON of cred.
  function credentialJSON(cred) {
    if (typeof cred.toJSON === 'function') return cred.toJSON();
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: bytesToB64url(cred.rawId),
      type: cred.type,
      response: {
        clientDataJSON: bytesToB64url(r.clientDataJSON),
        attestationObject: bytesToB64url(r.attestationObject)
      },
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {}
    };
    if (typeof r.getTransports === 'function') out.response.transports = r.getTransports();
    if (cred.authenticatorAttachment) out.authenticatorAttachment = cred.authenticatorAttachment;
    return out;
  }

  function show(msg) {
    status.textContent = msg;
    status.hidden = !msg;
  }

  // post sends body as JSON and answers the parsed reply, throwing the
  // problem's detail on a refusal.
  function post(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': form.elements.csrf_token.value },
      body: JSON.stringify(body)
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (j) {
        if (!resp.ok) throw new Error(j.detail || 'We could not add your passkey just now. Please try again.');
        return j;
      });
    });
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var button = form.querySelector('button[type=submit]');
    button.disabled = true;
    show('');
    var name = form.elements.name.value.trim() || 'Passkey';
    post(form.dataset.options, {}).then(function (begun) {
      return navigator.credentials.create({ publicKey: creationOptions(begun.publicKey) }).then(function (cred) {
        if (!cred) throw new Error('No passkey was made. Please try again.');
        return post(form.dataset.finish, { ceremony_id: begun.ceremony_id, name: name, credential: credentialJSON(cred) });
      }, function (err) {
        if (err && err.name === 'NotAllowedError') throw new Error('The passkey was not made: it was cancelled or timed out. Please try again.');
        if (err && err.name === 'InvalidStateError') throw new Error('This device already has a passkey for your account.');
        throw new Error('Your browser could not make the passkey. Please try again.');
      });
    }).then(function (done) {
      window.location.assign(done.next);
    }).catch(function (err) {
      show(err.message);
      button.disabled = false;
    });
  });
})();
