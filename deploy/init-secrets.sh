#!/bin/sh
# Creates the secrets deploy/compose.yaml mounts, in deploy/secrets/ (or the
# directory given), once: an existing file is kept, never overwritten (the
# encryption key opens every secret at rest: back it up, never regenerate it).
#
#   encryption_key     BANKBRIDGE_ENCRYPTION_KEY: base64 of 32 random bytes
#   postgres_password  the database user's password
#   database_url       DATABASE_URL with that password
#   smtp_url           BANKBRIDGE_SMTP_URL: Mailpit, STARTTLS
#   mail-ca.pem        a CA for Mailpit's certificate (the nodes trust it)
#   mailpit.pem, mailpit-key.pem   Mailpit's certificate for the name mailpit
set -eu
dir=${1:-"$(dirname "$0")/secrets"}
umask 077
mkdir -p "$dir"
cd "$dir"

gen() { # gen FILE COMMAND...: FILE from the command's output, unless it exists
	f=$1; shift
	[ -s "$f" ] && return 0
	"$@" > "$f.tmp" && mv "$f.tmp" "$f"
}
gen encryption_key openssl rand -base64 32
gen postgres_password openssl rand -hex 24
gen database_url sh -c 'printf "postgres://bankbridge:%s@postgres:5432/bankbridge?sslmode=disable\n" "$(cat postgres_password)"'
gen smtp_url echo "smtp://mailpit:1025"
if [ ! -s mail-ca.pem ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
		-subj "/CN=Bankbridge compose mail CA" -keyout mail-ca-key.pem -out mail-ca.pem 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=mailpit" \
		-keyout mailpit-key.pem -out mailpit.csr 2>/dev/null
	printf 'subjectAltName=DNS:mailpit\nextendedKeyUsage=serverAuth\n' > mailpit.ext
	openssl x509 -req -in mailpit.csr -CA mail-ca.pem -CAkey mail-ca-key.pem -CAcreateserial -days 825 \
		-extfile mailpit.ext -out mailpit.pem 2>/dev/null
	rm -f mailpit.csr mailpit.ext mail-ca.srl
fi
# The containers run as other users than yours (bankbridge: 65532): the
# files are readable by all, the directory (0700) only by you.
chmod 0644 encryption_key postgres_password database_url smtp_url mail-ca.pem mailpit.pem mailpit-key.pem
chmod 0600 mail-ca-key.pem
echo "secrets in $(pwd)"
