// Package mailtest runs a small SMTP server for tests: it speaks enough SMTP
// for a real client (EHLO/HELO, optional STARTTLS or implicit TLS, AUTH
// PLAIN, MAIL/RCPT/DATA, RSET, NOOP, QUIT) and records every message it
// accepts. It can be told to fail the next transactions with a given reply or
// by dropping the connection.
package mailtest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options configures a Sink.
type Options struct {
	// StartTLS, when set, is offered as STARTTLS with this configuration.
	StartTLS *tls.Config
	// Implicit, when set, serves TLS from the first byte (smtps).
	Implicit *tls.Config
	// Username and Password, when set, are required (AUTH PLAIN) before MAIL.
	Username, Password string
	// Addr is where to listen (default 127.0.0.1:0).
	Addr string
}

// Message is one accepted message.
type Message struct {
	From string
	To   []string
	// Data is the message as received (dot-unstuffed).
	Data []byte
	// TLS reports whether the session was encrypted when DATA was sent.
	TLS bool
	// AuthUser is the user that authenticated ("" for none).
	AuthUser string
	Header   netmail.Header
	// Text is the decoded body (quoted-printable or base64 undone).
	Text string
}

// Sink is a running SMTP server.
type Sink struct {
	// Addr is host:port of the listener.
	Addr string
	// Port is the listener's port.
	Port int

	opts   Options
	ln     net.Listener
	mu     sync.Mutex
	msgs   []Message
	faults []string // replies for the next transactions ("" drops the connection)
	cmds   []string // commands seen (AUTH lines masked)
	wg     sync.WaitGroup
	conns  map[net.Conn]bool
	closed bool
}

// Start runs a sink until the test ends.
func Start(tb testing.TB, o Options) *Sink {
	tb.Helper()
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatalf("mailtest: listen: %v", err)
	}
	s := &Sink{opts: o, ln: ln, conns: map[net.Conn]bool{}, Addr: ln.Addr().String(), Port: ln.Addr().(*net.TCPAddr).Port}
	s.wg.Add(1)
	go s.accept()
	tb.Cleanup(s.Close)
	return s
}

// Close stops the sink and waits for its sessions.
func (s *Sink) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

// FailNext makes the next n transactions fail at the end of DATA: with
// reply (e.g. "451 4.3.0 try again later") or, when reply is "", by
// dropping the connection without an answer.
func (s *Sink) FailNext(n int, reply string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < n; i++ {
		s.faults = append(s.faults, reply)
	}
}

// Messages returns the messages accepted so far.
func (s *Sink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Commands returns the SMTP commands received so far (verbs and arguments;
// AUTH's credentials are not kept).
func (s *Sink) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.cmds...)
}

// WaitFor waits until at least n messages were accepted and returns them.
func (s *Sink) WaitFor(tb testing.TB, n int, timeout time.Duration) []Message {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := s.Messages(); len(m) >= n {
			return m
		}
		if time.Now().After(deadline) {
			tb.Fatalf("mailtest: %d messages after %s, want %d", len(s.Messages()), timeout, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *Sink) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer func() {
				c.Close()
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			}()
			c.SetDeadline(time.Now().Add(time.Minute))
			if s.opts.Implicit == nil {
				s.session(c)
				return
			}
			tc := tls.Server(c, s.opts.Implicit)
			if tc.Handshake() != nil {
				return
			}
			s.session(tc)
		}()
	}
}

// session speaks SMTP on one connection.
func (s *Sink) session(c net.Conn) {
	_, isTLS := c.(*tls.Conn)
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	reply := func(lines ...string) bool {
		for _, l := range lines {
			w.WriteString(l + "\r\n")
		}
		return w.Flush() == nil
	}
	var greeted bool
	var authUser, from string
	var to []string
	reset := func() { from, to = "", nil }
	if !reply("220 mailtest ESMTP ready") {
		return
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		s.mu.Lock()
		if verb == "AUTH" {
			s.cmds = append(s.cmds, "AUTH "+strings.SplitN(arg, " ", 2)[0])
		} else {
			s.cmds = append(s.cmds, line)
		}
		s.mu.Unlock()
		switch verb {
		case "EHLO":
			greeted = true
			reset()
			lines := []string{"250-mailtest"}
			if s.opts.StartTLS != nil && !isTLS {
				lines = append(lines, "250-STARTTLS")
			}
			if s.opts.Username != "" {
				lines = append(lines, "250-AUTH PLAIN")
			}
			lines = append(lines, "250 8BITMIME")
			if !reply(lines...) {
				return
			}
		case "HELO":
			greeted = true
			reset()
			reply("250 mailtest")
		case "STARTTLS":
			if s.opts.StartTLS == nil || isTLS {
				reply("502 5.5.1 STARTTLS not available")
				continue
			}
			if !reply("220 2.0.0 go ahead") {
				return
			}
			tc := tls.Server(c, s.opts.StartTLS)
			if tc.Handshake() != nil {
				return
			}
			c, isTLS, greeted, authUser = tc, true, false, ""
			r, w = bufio.NewReader(tc), bufio.NewWriter(tc)
			reset()
		case "AUTH":
			mech, initial, _ := strings.Cut(arg, " ")
			if s.opts.Username == "" || !strings.EqualFold(mech, "PLAIN") || !greeted {
				reply("504 5.5.4 unrecognised authentication type")
				continue
			}
			if initial == "" {
				if !reply("334 ") {
					return
				}
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				initial = strings.TrimRight(l, "\r\n")
			}
			raw, err := base64.StdEncoding.DecodeString(initial)
			parts := strings.Split(string(raw), "\x00")
			if err != nil || len(parts) != 3 || parts[1] != s.opts.Username || parts[2] != s.opts.Password {
				reply("535 5.7.8 authentication credentials invalid")
				continue
			}
			authUser = parts[1]
			reply("235 2.7.0 authentication successful")
		case "MAIL":
			switch {
			case !greeted:
				reply("503 5.5.1 EHLO first")
			case s.opts.Username != "" && authUser == "":
				reply("530 5.7.0 authentication required")
			default:
				reset()
				from = addrArg(arg)
				reply("250 2.1.0 ok")
			}
		case "RCPT":
			if from == "" {
				reply("503 5.5.1 MAIL first")
				continue
			}
			to = append(to, addrArg(arg))
			reply("250 2.1.5 ok")
		case "DATA":
			if len(to) == 0 {
				reply("503 5.5.1 RCPT first")
				continue
			}
			if !reply("354 end data with <CR><LF>.<CR><LF>") {
				return
			}
			data, err := readData(r)
			if err != nil {
				return
			}
			s.mu.Lock()
			fault, failing := "", len(s.faults) > 0
			if failing {
				fault, s.faults = s.faults[0], s.faults[1:]
			}
			s.mu.Unlock()
			if failing {
				if fault == "" {
					return // drop the connection without an answer
				}
				reply(fault)
				reset()
				continue
			}
			m := Message{From: from, To: to, Data: data, TLS: isTLS, AuthUser: authUser}
			if pm, err := netmail.ReadMessage(bytes.NewReader(data)); err == nil {
				m.Header = pm.Header
				m.Text = decodeBody(pm)
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, m)
			s.mu.Unlock()
			reset()
			reply("250 2.0.0 queued")
		case "RSET":
			reset()
			reply("250 2.0.0 ok")
		case "NOOP":
			reply("250 2.0.0 ok")
		case "QUIT":
			reply("221 2.0.0 bye")
			return
		default:
			reply("502 5.5.2 command not recognised")
		}
	}
}

// addrArg reads the address of "FROM:<a@b> PARAMS" or "TO:<a@b>".
func addrArg(arg string) string {
	_, v, _ := strings.Cut(arg, ":")
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '>'); i >= 0 {
		v = v[:i+1]
	}
	return strings.Trim(v, "<>")
}

// readData reads DATA up to the line ".", undoing dot-stuffing.
func readData(r *bufio.Reader) ([]byte, error) {
	var b bytes.Buffer
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		t := strings.TrimRight(l, "\r\n")
		if t == "." {
			return b.Bytes(), nil
		}
		t = strings.TrimPrefix(t, ".")
		b.WriteString(t + "\r\n")
	}
}

// decodeBody undoes the body's Content-Transfer-Encoding.
func decodeBody(m *netmail.Message) string {
	var rd io.Reader = m.Body
	switch strings.ToLower(m.Header.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		rd = quotedprintable.NewReader(rd)
	case "base64":
		rd = base64.NewDecoder(base64.StdEncoding, &crlfStripper{r: rd})
	}
	b, _ := io.ReadAll(rd)
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}

// crlfStripper drops line breaks (base64 bodies are wrapped).
type crlfStripper struct{ r io.Reader }

func (c *crlfStripper) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	j := 0
	for i := 0; i < n; i++ {
		if p[i] != '\r' && p[i] != '\n' {
			p[j] = p[i]
			j++
		}
	}
	return j, err
}

// Subject is the decoded Subject header.
func (m Message) Subject() string {
	s, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		return m.Header.Get("Subject")
	}
	return s
}

// Cert is a self-signed certificate made for a test.
type Cert struct {
	// Server serves the certificate.
	Server *tls.Config
	// Pool trusts it.
	Pool *x509.CertPool
	// PEM is the certificate, PEM-encoded (for SSL_CERT_FILE of a child
	// process).
	PEM []byte
}

// NewCert makes a self-signed ECDSA certificate for hosts (names or IP
// addresses), valid for a day.
func NewCert(tb testing.TB, hosts ...string) *Cert {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "mailtest " + strings.Join(hosts, ",")},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &Cert{
		Server: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}, MinVersion: tls.VersionTLS12},
		Pool:   pool,
		PEM:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}
}

// String describes the sink for failure messages.
func (s *Sink) String() string { return fmt.Sprintf("mailtest sink on %s", s.Addr) }
