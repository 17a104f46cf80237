package dpop

import (
	"net/url"
	"strings"
)

// normalizeURL reduces an absolute http(s) URL to scheme://host/path for the
// htu comparison of RFC 9449 §4.3 step 9: query and fragment dropped, scheme
// and host lower-cased, the scheme's default port dropped, an empty path made
// "/", and percent-encoding normalised (RFC 3986 §6.2.2.1, §6.2.2.2, §6.2.3).
// It reports false for anything that is not an absolute http(s) URL without
// userinfo.
func normalizeURL(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", false
	}
	host := strings.ToLower(u.Host)
	switch {
	case scheme == "https" && strings.HasSuffix(host, ":443"):
		host = host[:len(host)-4]
	case scheme == "http" && strings.HasSuffix(host, ":80"):
		host = host[:len(host)-3]
	case strings.HasSuffix(host, ":"):
		host = host[:len(host)-1]
	}
	path := normalizePercent(u.EscapedPath())
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, true
}

// normalizePercent decodes percent-encoded unreserved characters and
// upper-cases the hex digits of the others (RFC 3986 §6.2.2.1, §6.2.2.2).
func normalizePercent(p string) string {
	if strings.IndexByte(p, '%') < 0 {
		return p
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' || i+2 >= len(p) {
			b.WriteByte(c)
			continue
		}
		hi, ok1 := unhex(p[i+1])
		lo, ok2 := unhex(p[i+2])
		if !ok1 || !ok2 {
			b.WriteByte(c)
			continue
		}
		d := hi<<4 | lo
		if isUnreserved(d) {
			b.WriteByte(d)
		} else {
			const hexUpper = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(hexUpper[d>>4])
			b.WriteByte(hexUpper[d&15])
		}
		i += 2
	}
	return b.String()
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
