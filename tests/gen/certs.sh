#!/bin/sh
# tests/gen/certs.sh DIR - the certificates of the TLS tests, made with
# openssl, EC P-256 throughout:
#   ca.pem ca.key          a test CA
#   srv.pem srv.key        signed by it for localhost, 127.0.0.1 and ::1
#   other.pem other.key    signed by it for other.example only (wrong host)
#   old.pem old.key        signed by it for localhost, expired in 2020
#   self.pem self.key      self-signed for localhost (no CA vouches)
#   cli.pem cli.key        a client certificate signed by the CA
set -eu
d=$1
mkdir -p "$d"
cd "$d"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$1" 2>/dev/null; }
key ca.key
openssl req -x509 -new -key ca.key -out ca.pem -days 30 -subj /CN=tcpmon-test-CA \
    -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
# signed NAME CN SAN [DAYS]: NAME.pem signed by the CA.
signed() {
	key "$1.key"
	openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr" 2>/dev/null
	printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' \
	    "$3" > "$1.ext"
	openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key \
	    -CAcreateserial -days "${4:-30}" -extfile "$1.ext" \
	    -out "$1.pem" 2>/dev/null
}
signed srv localhost 'DNS:localhost,IP:127.0.0.1,IP:::1'
signed other other.example DNS:other.example
signed cli tcpmon-test-client email:client@example.org
# Expired: openssl ca takes dates in the past.
mkdir -p ca.db
: > ca.db/index.txt
echo 01 > ca.db/serial
cat > ca.cnf <<CNF
[ ca ]
default_ca = test
[ test ]
database = $d/ca.db/index.txt
new_certs_dir = $d/ca.db
serial = $d/ca.db/serial
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[ any ]
commonName = supplied
CNF
key old.key
openssl req -new -key old.key -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -out old.csr 2>/dev/null
openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in old.csr \
    -out old.pem -startdate 20200101000000Z -enddate 20200201000000Z \
    -notext 2>/dev/null
key self.key
openssl req -x509 -new -key self.key -out self.pem -days 30 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
chmod 600 ./*.key
