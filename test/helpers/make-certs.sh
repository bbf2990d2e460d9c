#!/usr/bin/env bash
# make-certs.sh DIR [SERVER_NAME [SERVER_IP]]: a throw-away PKI for one test run, made with openssl
# (EC P-256, valid one day, private keys mode 0600):
#   ca.pem/ca.key              the test CA
#   server.pem/server.key      leaf for SERVER_NAME (default hub.test) and SERVER_IP (default
#                              127.0.0.1) in subjectAltName, signed by the CA
#   client.pem/client.key      client certificate CN=client1, signed by the CA
#   other-ca.pem               an unrelated CA, and other-client.pem/.key signed by it
# Prints nothing; exits non-zero (with openssl's message) when something fails.
set -euo pipefail
dir=$1
name=${2:-hub.test}
ip=${3:-127.0.0.1}
mkdir -p "$dir"
cd "$dir"
umask 077

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() { # ca NAME CN
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -sha256 -days 1 -subj "/CN=$2" -out "$1.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}

leaf() { # leaf NAME CA SUBJECT EXTENSIONS
  key "$1.key"
  openssl req -new -key "$1.key" -subj "$3" -out "$1.csr" 2>/dev/null
  printf '%s\n' "$4" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 1 -sha256 \
    -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  mv "$1.crt" "$1.pem"
  rm -f "$1.csr" "$1.ext"
}

ca ca 'tund test CA'
ca other-ca 'another CA'
leaf server ca "/CN=$name" "subjectAltName=DNS:$name,IP:$ip
extendedKeyUsage=serverAuth
basicConstraints=CA:FALSE"
leaf client ca '/CN=client1/O=tund tests' "extendedKeyUsage=clientAuth
basicConstraints=CA:FALSE"
leaf other-client other-ca '/CN=intruder' "extendedKeyUsage=clientAuth
basicConstraints=CA:FALSE"
chmod 644 ./*.pem
rm -f ./*.srl
