package main

import (
	"bufio"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/bankbridge/bankbridge/internal/secrets"
)

// The deployment kit has no container engine to run on here: these tests
// check its files against the binary instead (deploy/compose.yaml,
// deploy/Caddyfile, deploy/init-secrets.sh, Dockerfile).

// composeFile is the part of a Compose file the tests read.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Secrets  map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       map[string]string `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Secrets     []composeSecret   `yaml:"secrets"`
	// DependsOn is a list of names or a map of name to condition.
	DependsOn yaml.Node `yaml:"depends_on"`
	ReadOnly  bool      `yaml:"read_only"`
	Networks  yaml.Node `yaml:"networks"`
}

// composeSecret is a service's secret: a name (short syntax) or source and target.
type composeSecret struct {
	Source, Target string
}

func (s *composeSecret) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		s.Source = n.Value
		return nil
	}
	var long struct{ Source, Target string }
	if err := n.Decode(&long); err != nil {
		return err
	}
	*s = composeSecret(long)
	return nil
}

// path is where the secret appears in the container.
func (s composeSecret) path() string {
	if s.Target == "" {
		return "/run/secrets/" + s.Source
	}
	if strings.HasPrefix(s.Target, "/") {
		return s.Target
	}
	return "/run/secrets/" + s.Target
}

func loadCompose(t *testing.T) *composeFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("deploy/compose.yaml: %v", err)
	}
	return &c
}

// bankbridgeNodes are the compose services running the Bankbridge image.
func (c *composeFile) bankbridgeNodes() []string {
	var out []string
	for name, s := range c.Services {
		if s.Build["context"] == ".." {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// envNames lists every environment variable the binary reads: the "(env
// NAME" of each flag's usage, the encryption key, the NAME_FILE forms of
// the secret settings, and Go's own CA settings.
func envNames() map[string]bool {
	fs := flag.NewFlagSet("bankbridge", flag.ContinueOnError)
	var c Config
	c.Flags(fs)
	out := map[string]bool{secrets.KeyEnv: true, "SSL_CERT_FILE": true, "SSL_CERT_DIR": true}
	re := regexp.MustCompile(`\(env ([A-Z_]+)`)
	fs.VisitAll(func(f *flag.Flag) {
		for _, m := range re.FindAllStringSubmatch(f.Usage, -1) {
			out[m[1]] = true
		}
	})
	for _, n := range secretSettings {
		out[n+secretFileSuffix] = true
	}
	return out
}

// TestComposeFile checks deploy/compose.yaml: two Bankbridge nodes with the
// same settings, each a variable or flag the binary knows, production mode,
// PostgreSQL and Redis behind them; no secret in the file (credentials are
// Compose secrets, files named by NAME_FILE, declared and git-ignored); the
// proxy routes to both nodes and is the one trusted proxy.
func TestComposeFile(t *testing.T) {
	c := loadCompose(t)
	nodes := c.bankbridgeNodes()
	if len(nodes) != 2 {
		t.Fatalf("bankbridge nodes %v, want two", nodes)
	}
	a, b := c.Services[nodes[0]], c.Services[nodes[1]]
	if !reflect.DeepEqual(a.Environment, b.Environment) || !reflect.DeepEqual(a.Secrets, b.Secrets) || !reflect.DeepEqual(a.Command, b.Command) {
		t.Fatalf("the nodes differ:\n%s: %v %v %v\n%s: %v %v %v", nodes[0], a.Command, a.Environment, a.Secrets, nodes[1], b.Command, b.Environment, b.Secrets)
	}
	env := a.Environment
	known := envNames()
	for name := range env {
		if !known[name] {
			t.Errorf("the nodes set %s, which the binary does not read", name)
		}
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var cfg Config
	cfg.Flags(fs)
	if len(a.Command) == 0 || a.Command[0] != "serve" {
		t.Fatalf("node command %v, want serve …", a.Command)
	}
	for _, arg := range a.Command[1:] {
		name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if strings.HasPrefix(arg, "-") && fs.Lookup(name) == nil {
			t.Errorf("node command flag %s does not exist", arg)
		}
	}
	for _, want := range []struct{ name, value string }{{"BANKBRIDGE_MODE", "production"}, {"REDIS_URL", "redis://redis:6379/0"}} {
		if env[want.name] != want.value {
			t.Errorf("%s = %q, want %q", want.name, env[want.name], want.value)
		}
	}
	var deps map[string]struct {
		Condition string `yaml:"condition"`
	}
	if err := a.DependsOn.Decode(&deps); err != nil {
		t.Fatalf("nodes' depends_on: %v", err)
	}
	for _, dep := range []string{"postgres", "redis"} {
		if deps[dep].Condition != "service_healthy" {
			t.Errorf("nodes depend on %s: %+v, want condition service_healthy", dep, deps[dep])
		}
		if _, ok := c.Services[dep]; !ok {
			t.Errorf("no %s service", dep)
		}
	}
	if !a.ReadOnly {
		t.Errorf("nodes should run on a read-only root file system (production on PostgreSQL writes nothing)")
	}

	// No secret inline, anywhere: credentials come from files.
	credentialURL := regexp.MustCompile(`://[^/@\s]*:[^/@\s]*@`)
	secretName := regexp.MustCompile(`PASSWORD|SECRET|_KEY$|TOKEN`)
	for sname, s := range c.Services {
		mounted := map[string]bool{}
		for _, sec := range s.Secrets {
			mounted[sec.path()] = true
			decl, ok := c.Secrets[sec.Source]
			if !ok || !strings.HasPrefix(decl.File, "./secrets/") {
				t.Errorf("%s: secret %s is not declared as a file under deploy/secrets/: %+v", sname, sec.Source, decl)
			}
		}
		for k, v := range s.Environment {
			switch {
			case mounted[v]: // a file: fine
			case credentialURL.MatchString(v):
				t.Errorf("%s: %s holds a URL with credentials", sname, k)
			case strings.HasSuffix(k, secretFileSuffix):
				t.Errorf("%s: %s=%s is not one of its mounted secrets %v", sname, k, v, mounted)
			case secretName.MatchString(k):
				t.Errorf("%s: %s is set inline; give it as %s%s", sname, k, k, secretFileSuffix)
			}
		}
	}
	for _, name := range []string{secrets.KeyEnv, "DATABASE_URL", "BANKBRIDGE_SMTP_URL"} {
		if _, ok := env[name]; ok {
			t.Errorf("nodes set %s inline; want %s%s", name, name, secretFileSuffix)
		}
		if !strings.HasPrefix(env[name+secretFileSuffix], "/run/secrets/") {
			t.Errorf("nodes: %s%s = %q, want a Compose secret", name, secretFileSuffix, env[name+secretFileSuffix])
		}
	}
	if gi, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", ".gitignore")); err != nil || !strings.Contains(string(gi), "/secrets/") {
		t.Errorf("deploy/.gitignore does not ignore /secrets/: %q %v", gi, err)
	}
	if di, err := os.ReadFile(filepath.Join(repoRoot(t), ".dockerignore")); err != nil || !strings.Contains(string(di), "deploy/secrets") {
		t.Errorf(".dockerignore does not leave deploy/secrets out of the build context: %v", err)
	}

	// The proxy: TLS for the issuer's host, round robin over both nodes on
	// their listen port, readiness from /readyz; its address is the one
	// trusted proxy.
	issuer, err := url.Parse(env["BANKBRIDGE_ISSUER"])
	if err != nil || issuer.Scheme != "https" {
		t.Fatalf("BANKBRIDGE_ISSUER %q, want https", env["BANKBRIDGE_ISSUER"])
	}
	_, port, err := net.SplitHostPort(env["BANKBRIDGE_ADDR"])
	if err != nil {
		t.Fatalf("BANKBRIDGE_ADDR %q: %v", env["BANKBRIDGE_ADDR"], err)
	}
	site, upstreams, directives := readCaddyfile(t)
	if site != issuer.Host {
		t.Errorf("Caddyfile serves %q, the issuer is %q", site, issuer.Host)
	}
	wantUp := []string{nodes[0] + ":" + port, nodes[1] + ":" + port}
	if !reflect.DeepEqual(upstreams, wantUp) {
		t.Errorf("Caddyfile upstreams %v, want %v", upstreams, wantUp)
	}
	if directives["health_uri"] != "/readyz" || directives["lb_policy"] != "round_robin" {
		t.Errorf("Caddyfile: health_uri %q lb_policy %q, want /readyz and round_robin", directives["health_uri"], directives["lb_policy"])
	}
	var caddyNet map[string]struct {
		IPv4 string `yaml:"ipv4_address"`
	}
	if n := c.Services["caddy"].Networks; n.Decode(&caddyNet) != nil || len(caddyNet) != 1 {
		t.Fatalf("caddy's networks: want one with a fixed ipv4_address")
	}
	for _, v := range caddyNet {
		_, cidr, err := net.ParseCIDR(env["BANKBRIDGE_TRUSTED_PROXIES"])
		if err != nil || !cidr.Contains(net.ParseIP(v.IPv4)) || strings.Contains(env["BANKBRIDGE_TRUSTED_PROXIES"], ",") {
			t.Errorf("BANKBRIDGE_TRUSTED_PROXIES %q, want exactly caddy's address %s", env["BANKBRIDGE_TRUSTED_PROXIES"], v.IPv4)
		}
	}
}

// readCaddyfile returns deploy/Caddyfile's site address, its reverse_proxy
// upstreams and the directives inside that block (name → first argument).
func readCaddyfile(t *testing.T) (site string, upstreams []string, directives map[string]string) {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(t), "deploy", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	directives = map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") || fields[0] == "}" {
			continue
		}
		switch {
		case site == "" && fields[len(fields)-1] == "{":
			site = fields[0]
		case fields[0] == "reverse_proxy":
			for _, u := range fields[1:] {
				if u != "{" {
					upstreams = append(upstreams, u)
				}
			}
		case len(fields) > 1:
			directives[fields[0]] = fields[1]
		}
	}
	return site, upstreams, directives
}

// TestComposeSecretsStartProduction runs deploy/init-secrets.sh and gives
// the nodes' environment, its secret files read from where the script put
// them, to the binary's configuration: production mode accepts it (no
// refusal), the URLs name the compose services (PostgreSQL with the user,
// database and password it is created with; Mailpit over STARTTLS), and
// Mailpit's certificate verifies for its name against the CA the nodes
// trust. A second run keeps every file.
func TestComposeSecretsStartProduction(t *testing.T) {
	for _, tool := range []string{"sh", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	dir := filepath.Join(t.TempDir(), "secrets")
	script := filepath.Join(repoRoot(t), "deploy", "init-secrets.sh")
	if out, err := exec.Command("sh", script, dir).CombinedOutput(); err != nil {
		t.Fatalf("init-secrets.sh: %v\n%s", err, out)
	}
	c := loadCompose(t)
	node := c.Services[c.bankbridgeNodes()[0]]
	// Where each mounted path's file is on this machine.
	local := map[string]string{}
	for _, s := range node.Secrets {
		local[s.path()] = filepath.Join(dir, strings.TrimPrefix(c.Secrets[s.Source].File, "./secrets/"))
	}
	for _, s := range c.Services["postgres"].Secrets {
		local[s.path()] = filepath.Join(dir, strings.TrimPrefix(c.Secrets[s.Source].File, "./secrets/"))
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "BANKBRIDGE_") || k == "DATABASE_URL" || k == "REDIS_URL" || strings.HasSuffix(k, secretFileSuffix) {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	for k, v := range node.Environment {
		if p, ok := local[v]; ok {
			v = p
		}
		if k == "SSL_CERT_DIR" {
			continue // Go's; checked below with the CA itself
		}
		t.Setenv(k, v)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var cfg Config
	cfg.Flags(fs)
	if err := fs.Parse(node.Command[1:]); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the nodes' configuration: %v", err)
	}
	if err := cfg.productionRefusal("serve"); err != nil || !cfg.Mode.Production() {
		t.Fatalf("production mode refuses the nodes' configuration: %v (mode %s)", err, cfg.Mode)
	}
	pg := c.Services["postgres"].Environment
	password, err := os.ReadFile(local[pg["POSTGRES_PASSWORD_FILE"]])
	if err != nil {
		t.Fatal(err)
	}
	du, err := url.Parse(cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := du.User.Password()
	if du.Scheme != "postgres" || du.Hostname() != "postgres" || du.User.Username() != pg["POSTGRES_USER"] || pw != strings.TrimSpace(string(password)) ||
		du.Path != "/"+pg["POSTGRES_DB"] {
		t.Errorf("DATABASE_URL %s does not match the postgres service (user %s, db %s)", du.Redacted(), pg["POSTGRES_USER"], pg["POSTGRES_DB"])
	}
	if cfg.SMTP.Host != "mailpit" || cfg.SMTP.Port != 1025 || cfg.SMTP.Implicit {
		t.Errorf("SMTP %+v, want mailpit:1025 with STARTTLS", cfg.SMTP)
	}
	if _, ok := c.Services[cfg.SMTP.Host]; !ok {
		t.Errorf("no service %s for SMTP", cfg.SMTP.Host)
	}
	if _, err := secrets.ParseKey(cfg.EncryptionKey); err != nil {
		t.Errorf("encryption key: %v", err)
	}
	// The nodes trust SSL_CERT_DIR's CA; Mailpit presents the certificate.
	caPath := local[filepath.Join(node.Environment["SSL_CERT_DIR"], "mail-ca.pem")]
	roots := x509.NewCertPool()
	caPEM, _ := os.ReadFile(caPath)
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("no CA at %s (SSL_CERT_DIR %s)", caPath, node.Environment["SSL_CERT_DIR"])
	}
	mp := c.Services["mailpit"].Environment
	for _, s := range c.Services["mailpit"].Secrets {
		local[s.path()] = filepath.Join(dir, strings.TrimPrefix(c.Secrets[s.Source].File, "./secrets/"))
	}
	certPEM, _ := os.ReadFile(local[mp["MP_SMTP_TLS_CERT"]])
	blk, _ := pem.Decode(certPEM)
	if blk == nil {
		t.Fatalf("no certificate at %s", local[mp["MP_SMTP_TLS_CERT"]])
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: cfg.SMTP.Host, Roots: roots}); err != nil {
		t.Errorf("Mailpit's certificate for %s: %v", cfg.SMTP.Host, err)
	}
	// Run again: nothing is regenerated.
	before, _ := os.ReadFile(filepath.Join(dir, "encryption_key"))
	if out, err := exec.Command("sh", script, dir).CombinedOutput(); err != nil {
		t.Fatalf("init-secrets.sh again: %v\n%s", err, out)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "encryption_key")); string(after) != string(before) {
		t.Errorf("a second run replaced the encryption key")
	}
}

// TestDockerfile checks the image recipe: a static build (no cgo), a
// distroless static base, the nonroot user, the data directory as a
// volume and the port the binary listens on.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var froms []string
	env := map[string]string{}
	var user, volume, expose string
	var cgoOff bool
	for _, line := range strings.Split(strings.ReplaceAll(string(b), "\\\n", " "), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "FROM":
			froms = append(froms, f[1])
		case "USER":
			user = f[1]
		case "VOLUME":
			volume = strings.Join(f[1:], " ")
		case "EXPOSE":
			expose = f[1]
		case "ENV":
			for _, kv := range f[1:] {
				if k, v, ok := strings.Cut(kv, "="); ok {
					env[k] = v
				}
			}
		}
		if strings.Contains(line, "CGO_ENABLED=0") {
			cgoOff = true
		}
	}
	_, port, _ := net.SplitHostPort(env["BANKBRIDGE_ADDR"])
	if len(froms) != 2 || froms[1] != "gcr.io/distroless/static-debian12:nonroot" || user != "nonroot:nonroot" || !cgoOff ||
		volume != `["`+env["BANKBRIDGE_DATA_DIR"]+`"]` || port == "" || expose != port {
		t.Fatalf("Dockerfile: FROM %v, USER %q, CGO_ENABLED=0 %v, VOLUME %s, EXPOSE %s, ENV %v", froms, user, cgoOff, volume, expose, env)
	}
}

// TestStaticBuild lists the binary's packages as the Dockerfile builds
// them (CGO_ENABLED=0): none fails to build without cgo or has cgo files,
// and the SQLite driver is the pure Go one (modernc.org/sqlite through
// glebarez), not mattn/go-sqlite3; without cgo the go command links a
// static executable, which distroless static needs.
func TestStaticBuild(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-e", "-f", "{{.ImportPath}}|{{if .Error}}{{.Error}}{{end}}|{{join .CgoFiles \",\"}}", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("CGO_ENABLED=0 go list: %v", err)
	}
	pkgs := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.SplitN(line, "|", 3)
		pkgs[parts[0]] = true
		if parts[1] != "" || parts[2] != "" {
			t.Errorf("%s without cgo: error %q, cgo files %q", parts[0], parts[1], parts[2])
		}
	}
	if !pkgs["github.com/glebarez/go-sqlite"] || !pkgs["modernc.org/sqlite/lib"] || pkgs["github.com/mattn/go-sqlite3"] {
		t.Errorf("SQLite driver: glebarez %v, modernc %v, mattn (cgo) %v", pkgs["github.com/glebarez/go-sqlite"], pkgs["modernc.org/sqlite/lib"], pkgs["github.com/mattn/go-sqlite3"])
	}
}
