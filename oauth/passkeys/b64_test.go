package passkeys

import "encoding/base64"

// b64 is WebAuthn's base64url without padding, for the tests' own coding;
// the software authenticator the tests use is passkeystest.Authenticator.
var b64 = base64.RawURLEncoding
