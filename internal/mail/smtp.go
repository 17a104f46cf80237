package mail

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// SMTP is where mail is sent: a parsed BANKBRIDGE_SMTP_URL.
type SMTP struct {
	Host string
	Port int
	// Implicit is smtps://: TLS from the first byte.
	Implicit bool
	Username string
	Password string
}

// TLSMode is how a connection to the SMTP server is secured.
type TLSMode int

const (
	// TLSImplicit is smtps://: the connection is TLS from the start.
	TLSImplicit TLSMode = iota + 1
	// TLSStartTLSRequired is smtp:// to any host but loopback: the server
	// must offer STARTTLS, or nothing is sent (no credentials, no mail).
	TLSStartTLSRequired
	// TLSStartTLSOpportunistic is smtp:// to a loopback host (a local relay):
	// STARTTLS when the server offers it, plain otherwise.
	TLSStartTLSOpportunistic
)

// String names the mode for logs.
func (m TLSMode) String() string {
	switch m {
	case TLSImplicit:
		return "implicit TLS"
	case TLSStartTLSRequired:
		return "STARTTLS required"
	case TLSStartTLSOpportunistic:
		return "STARTTLS when offered"
	}
	return "unknown"
}

// smtpURLForm is how a valid URL looks, for error messages.
const smtpURLForm = "smtp://[user:pass@]host:port or smtps://[user:pass@]host:port"

// ParseSMTPURL parses smtp://[user:pass@]host[:port] (port 587 when
// omitted) or smtps://[user:pass@]host[:port] (port 465). Its errors never
// repeat the URL, which may hold a password.
func ParseSMTPURL(raw string) (SMTP, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return SMTP{}, fmt.Errorf("is not a URL; want %s", smtpURLForm)
	}
	var s SMTP
	switch u.Scheme {
	case "smtp":
		s.Port = 587
	case "smtps":
		s.Port, s.Implicit = 465, true
	default:
		return SMTP{}, fmt.Errorf("has scheme %q; want %s", u.Scheme, smtpURLForm)
	}
	if u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return SMTP{}, fmt.Errorf("must be only scheme, credentials, host and port; want %s", smtpURLForm)
	}
	s.Host = u.Hostname()
	if s.Host == "" {
		return SMTP{}, fmt.Errorf("has no host; want %s", smtpURLForm)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return SMTP{}, fmt.Errorf("has port %q; want 1-65535", p)
		}
		s.Port = n
	}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
		if s.Username == "" {
			return SMTP{}, fmt.Errorf("has a password but no user name; want %s", smtpURLForm)
		}
	}
	return s, nil
}

// TLS is the policy for this server: implicit TLS for smtps://, STARTTLS
// required for smtp:// unless the host is loopback, where STARTTLS is used
// when offered.
func (s SMTP) TLS() TLSMode {
	switch {
	case s.Implicit:
		return TLSImplicit
	case IsLoopbackHost(s.Host):
		return TLSStartTLSOpportunistic
	}
	return TLSStartTLSRequired
}

// Addr is host:port.
func (s SMTP) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// String is the URL without the password, for logs.
func (s SMTP) String() string {
	scheme := "smtp"
	if s.Implicit {
		scheme = "smtps"
	}
	u := url.URL{Scheme: scheme, Host: s.Addr()}
	if s.Username != "" {
		u.User = url.User(s.Username)
	}
	return u.String()
}

// IsLoopbackHost reports whether host is "localhost" or a loopback IP
// address (127.0.0.0/8, ::1).
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
