// webauthn-json.js: WebAuthn's JSON forms, for browsers without
// PublicKeyCredential.parse…OptionsFromJSON and credential.toJSON (and the
// same result with them): the one copy the Security page (passkeys.js) and
// the SCA page (sca-passkey.js) use, loaded before them. Base64url without
// padding, as WebAuthn Level 3 §5.1.8 writes binary members.
(function () {
  'use strict';

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

  window.BankbridgeWebAuthn = {
    // creationOptions turns PublicKeyCredentialCreationOptionsJSON into
    // what navigator.credentials.create takes.
    creationOptions: function (json) {
      if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function') {
        return PublicKeyCredential.parseCreationOptionsFromJSON(json);
      }
      var o = Object.assign({}, json);
      o.challenge = b64urlToBytes(json.challenge);
      o.user = Object.assign({}, json.user, { id: b64urlToBytes(json.user.id) });
      if (json.excludeCredentials) o.excludeCredentials = withIDs(json.excludeCredentials);
      return o;
    },

    // requestOptions turns PublicKeyCredentialRequestOptionsJSON into what
    // navigator.credentials.get takes.
    requestOptions: function (json) {
      if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function') {
        return PublicKeyCredential.parseRequestOptionsFromJSON(json);
      }
      var o = Object.assign({}, json);
      o.challenge = b64urlToBytes(json.challenge);
      if (json.allowCredentials) o.allowCredentials = withIDs(json.allowCredentials);
      return o;
    },

    // credentialJSON is the RegistrationResponseJSON or
    // AuthenticationResponseJSON of cred.
    credentialJSON: function (cred) {
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
  };
})();
