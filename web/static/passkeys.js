// passkeys.js: the passkey buttons of the customer dashboard's Security
// page. "Add a passkey" fetches the creation options (POST, CSRF token in
// X-CSRF-Token), asks the browser to make the passkey, and posts the
// credential back with the name the customer typed. "Use a passkey" (in
// "Confirm it's you") fetches assertion options, asks the browser to sign
// with one of the customer's passkeys, and posts the assertion back with the
// password typed. Loaded as a file after webauthn-json.js: the CSP allows
// no inline script.
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

  var webauthn = window.BankbridgeWebAuthn;

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
        return navigator.credentials.create({ publicKey: webauthn.creationOptions(begun.publicKey) }).then(function (cred) {
          if (!cred) throw new Error('No passkey was made. Please try again.');
          return post(form, form.dataset.finish, { ceremony_id: begun.ceremony_id, name: name, credential: webauthn.credentialJSON(cred) });
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
        return navigator.credentials.get({ publicKey: webauthn.requestOptions(begun.publicKey) }).then(function (cred) {
          if (!cred) throw new Error('No passkey answered. Please try again.');
          return post(stepUp, stepUp.dataset.finish, { ceremony_id: begun.ceremony_id, password: password.value, credential: webauthn.credentialJSON(cred) });
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
