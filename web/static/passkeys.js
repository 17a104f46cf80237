// passkeys.js: the passkey buttons of the customer dashboard's Security
// page. "Add a passkey" fetches the creation options (POST, CSRF token in
// X-CSRF-Token), asks the browser to make the passkey, and posts the
// credential back with the name the customer typed. "Use a passkey" (in
// "Confirm it's you") fetches assertion options, asks the browser to sign
// with one of the customer's passkeys, and posts the assertion back with the
// password typed. Loaded as a file: the CSP allows no inline script.
(function () {
  'use strict';
  var form = document.getElementById('passkey-add');
  var stepUp = document.getElementById('step-up');
  var stepUpButton = document.getElementById('step-up-passkey');
  if (!form && !stepUpButton) return;
  if (!window.PublicKeyCredential || !navigator.credentials || !navigator.credentials.create) {
    var note = document.getElementById('passkey-unsupported');
    if (note) note.hidden = false;
    return;
  }

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

  function withIDs(list) {
    return list && list.map(function (c) { return Object.assign({}, c, { id: b64urlToBytes(c.id) }); });
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
    if (json.excludeCredentials) o.excludeCredentials = withIDs(json.excludeCredentials);
    return o;
  }

  // requestOptions turns PublicKeyCredentialRequestOptionsJSON into what
  // navigator.credentials.get takes.
  function requestOptions(json) {
    if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function') {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    var o = Object.assign({}, json);
    o.challenge = b64urlToBytes(json.challenge);
    if (json.allowCredentials) o.allowCredentials = withIDs(json.allowCredentials);
    return o;
  }

  // credentialJSON is the RegistrationResponseJSON or
  // AuthenticationResponseJSON of cred.
  function credentialJSON(cred) {
    if (typeof cred.toJSON === 'function') return cred.toJSON();
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: bytesToB64url(cred.rawId),
      type: cred.type,
      response: { clientDataJSON: bytesToB64url(r.clientDataJSON) },
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {}
    };
    if (r.attestationObject) {
      out.response.attestationObject = bytesToB64url(r.attestationObject);
      if (typeof r.getTransports === 'function') out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = bytesToB64url(r.authenticatorData);
      out.response.signature = bytesToB64url(r.signature);
      if (r.userHandle) out.response.userHandle = bytesToB64url(r.userHandle);
    }
    if (cred.authenticatorAttachment) out.authenticatorAttachment = cred.authenticatorAttachment;
    return out;
  }

  function shower(el) {
    return function (msg) {
      el.textContent = msg;
      el.hidden = !msg;
    };
  }

  // post sends body as JSON with the CSRF token of f and answers the parsed
  // reply, throwing the problem's detail on a refusal.
  function post(f, url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': f.elements.csrf_token.value },
      body: JSON.stringify(body)
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (j) {
        if (!resp.ok) throw new Error(j.detail || 'We could not do that just now. Please try again.');
        return j;
      });
    });
  }

  if (form) {
    var show = shower(document.getElementById('passkey-status'));
    form.hidden = false;
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var button = form.querySelector('button[type=submit]');
      button.disabled = true;
      show('');
      var name = form.elements.name.value.trim() || 'Passkey';
      post(form, form.dataset.options, {}).then(function (begun) {
        return navigator.credentials.create({ publicKey: creationOptions(begun.publicKey) }).then(function (cred) {
          if (!cred) throw new Error('No passkey was made. Please try again.');
          return post(form, form.dataset.finish, { ceremony_id: begun.ceremony_id, name: name, credential: credentialJSON(cred) });
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
  }

  if (stepUp && stepUpButton) {
    var showStepUp = shower(document.getElementById('step-up-status'));
    stepUpButton.hidden = false;
    stepUpButton.addEventListener('click', function () {
      var password = stepUp.elements.password;
      if (!password.reportValidity()) return;
      stepUpButton.disabled = true;
      showStepUp('');
      post(stepUp, stepUp.dataset.options, {}).then(function (begun) {
        return navigator.credentials.get({ publicKey: requestOptions(begun.publicKey) }).then(function (cred) {
          if (!cred) throw new Error('No passkey answered. Please try again.');
          return post(stepUp, stepUp.dataset.finish, { ceremony_id: begun.ceremony_id, password: password.value, credential: credentialJSON(cred) });
        }, function (err) {
          if (err && err.name === 'NotAllowedError') throw new Error('The passkey was not used: it was cancelled or timed out. Please try again.');
          throw new Error('Your browser could not use the passkey. Please try again.');
        });
      }).then(function (done) {
        window.location.assign(done.next);
      }).catch(function (err) {
        showStepUp(err.message);
        stepUpButton.disabled = false;
      });
    });
  }
})();
