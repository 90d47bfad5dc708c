#!/usr/bin/env bash
# A small certificate authority for the agents' API (README.md, "TLS for the agents"), with Debian's openssl.
#   scripts/tls-ca.sh init DIR
#       DIR/ca.key (EC P-256, 0600) and DIR/ca.crt (self-signed, 10 years). Kept when both are there.
#   scripts/tls-ca.sh issue DIR NAME [--client] [--p12-pass PASS] SAN...
#       DIR/NAME.key (EC P-256, PKCS#8 PEM, 0600), DIR/NAME.crt (signed by DIR/ca.key, 1 year; extendedKeyUsage
#       serverAuth, or clientAuth with --client) and DIR/NAME.p12 (PKCS#12: key, certificate and the CA's
#       certificate, for Java clients that load a KeyStore; password PASS, by default the empty one).
#       SANs as openssl writes them: IP:198.19.200.1, DNS:lab-h1 (a server certificate needs at least one; a
#       client certificate may have none). A certificate already there, signed by this CA, with the same SANs and
#       usage, is kept (its .p12 is made again if it is missing); one that differs is an error: remove it first.
# Exit codes: 0 done, 1 failed (the message says what), 2 bad usage.
set -euo pipefail
export LC_ALL=C

die() { printf 'tls-ca.sh: ERROR: %s\n' "$*" >&2; exit 1; }
usage() {
  echo "usage: $0 init DIR | issue DIR NAME [--client] [--p12-pass PASS] SAN... (SAN: IP:ADDRESS or DNS:NAME)" >&2
  exit 2
}
command -v openssl >/dev/null || die "openssl is missing (apt-get install openssl)"

CA_DAYS=3650
CERT_DAYS=365

# a new EC P-256 key in PKCS#8 PEM, 0600 from its first byte
new_key() {
  local file=$1
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$file.tmp" 2>/dev/null) \
    || die "openssl genpkey could not make $file"
  mv "$file.tmp" "$file"
}

init() {
  local dir=$1
  if [ -s "$dir/ca.key" ] && [ -s "$dir/ca.crt" ]; then
    openssl x509 -in "$dir/ca.crt" -noout 2>/dev/null || die "$dir/ca.crt is not a PEM certificate"
    echo "tls-ca.sh: CA $dir/ca.crt is there; kept"
    return 0
  fi
  [ ! -e "$dir/ca.key" ] && [ ! -e "$dir/ca.crt" ] \
    || die "$dir has only one of ca.key and ca.crt; remove it, or bring the other back"
  mkdir -p "$dir" || die "cannot make $dir"
  new_key "$dir/ca.key"
  openssl req -x509 -new -key "$dir/ca.key" -sha256 -days "$CA_DAYS" -subj "/CN=Berth CA $(hostname -s 2>/dev/null || echo)" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$dir/ca.crt.tmp" 2>/dev/null || { rm -f "$dir/ca.key" "$dir/ca.crt.tmp"; die "openssl req could not make the CA"; }
  mv "$dir/ca.crt.tmp" "$dir/ca.crt"
  chmod 0644 "$dir/ca.crt"
  echo "tls-ca.sh: CA made: $dir/ca.crt (key $dir/ca.key, keep it private)"
}

# SANs of a certificate, one per line, as "IP:x" / "DNS:x", sorted
sans_of() {
  openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null | tail -n +2 | tr ',' '\n' \
    | sed -e 's/^ *//' -e 's/^IP Address:/IP:/' | grep -v '^$' | sort || true
}

p12() {
  local dir=$1 name=$2 pass=$3
  # the password through the environment, not openssl's command line (which ps shows every user)
  TLS_CA_P12_PASS=$pass openssl pkcs12 -export -in "$dir/$name.crt" -inkey "$dir/$name.key" -certfile "$dir/ca.crt" \
    -name "$name" -passout env:TLS_CA_P12_PASS -out "$dir/$name.p12.tmp" 2>/dev/null || { rm -f "$dir/$name.p12.tmp"; die "openssl pkcs12 could not make $dir/$name.p12"; }
  chmod 0600 "$dir/$name.p12.tmp"
  mv "$dir/$name.p12.tmp" "$dir/$name.p12"
}

issue() {
  local dir=$1 name=$2; shift 2
  local usage=serverAuth pass="" san
  local -a sans=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --client) usage=clientAuth ;;
      --p12-pass) [ $# -ge 2 ] || usage; pass=$2; shift ;;
      IP:*|DNS:*) sans+=("$1") ;;
      *) die "'$1' is not a SAN: write IP:ADDRESS or DNS:NAME (or --client, --p12-pass PASS)" ;;
    esac
    shift
  done
  [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] && [ "$name" != ca ] \
    || die "NAME '$name' must be letters, digits, . _ - (and not 'ca')"
  for san in "${sans[@]}"; do
    case "$san" in
      IP:*) [[ ${san#IP:} =~ ^[0-9.]+$|^[0-9A-Fa-f:]+$ ]] || die "'$san' is not an IP address" ;;
      DNS:*) [[ ${san#DNS:} =~ ^[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] || die "'$san' is not a DNS name" ;;
    esac
  done
  [ ${#sans[@]} -gt 0 ] || [ "$usage" = clientAuth ] \
    || die "a server certificate needs the host's names and addresses as SANs (IP:..., DNS:...)"
  [ -s "$dir/ca.key" ] && [ -s "$dir/ca.crt" ] || die "no CA in $dir: run $0 init $dir first"
  local crt=$dir/$name.crt key=$dir/$name.key want have
  want=$(printf '%s\n' "${sans[@]}" | grep -v '^$' | sort || true)
  if [ -s "$crt" ] && [ -s "$key" ]; then
    openssl verify -CAfile "$dir/ca.crt" "$crt" >/dev/null 2>&1 \
      || die "$crt is there but not signed by $dir/ca.crt (or expired); remove $crt and $key to issue it again"
    have=$(sans_of "$crt")
    [ "$have" = "$want" ] || die "$crt is there with SANs [$(echo $have)], not [$(echo $want)]; remove $crt and $key to issue it again"
    openssl x509 -in "$crt" -noout -ext extendedKeyUsage 2>/dev/null | grep -q "TLS Web $([ $usage = serverAuth ] && echo Server || echo Client) Authentication" \
      || die "$crt is there for another use than $usage; remove $crt and $key to issue it again"
    [ -s "$dir/$name.p12" ] || p12 "$dir" "$name" "$pass"
    echo "tls-ca.sh: $crt is there; kept"
    return 0
  fi
  rm -f "$crt" "$key" "$dir/$name.p12"
  new_key "$key"
  local ext; ext=$(mktemp)
  # shellcheck disable=SC2064 # the file's name now
  trap "rm -f '$ext' '$dir/$name.csr'" EXIT
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$usage"
    echo "subjectKeyIdentifier=hash"
    echo "authorityKeyIdentifier=keyid"
    [ ${#sans[@]} -eq 0 ] || echo "subjectAltName=$(IFS=,; echo "${sans[*]}")"
  } > "$ext"
  openssl req -new -key "$key" -subj "/CN=$name" -out "$dir/$name.csr" 2>/dev/null \
    || { rm -f "$key"; die "openssl req could not make a request for $name"; }
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
    -days "$CERT_DAYS" -sha256 -extfile "$ext" -out "$crt.tmp" 2>/dev/null \
    || { rm -f "$key" "$crt.tmp"; die "openssl x509 could not sign $name with $dir/ca.key"; }
  mv "$crt.tmp" "$crt"
  chmod 0644 "$crt"
  p12 "$dir" "$name" "$pass"
  echo "tls-ca.sh: issued $crt ($usage${sans[*]:+, ${sans[*]}}), key $key, $dir/$name.p12"
}

case "${1:-}" in
  init) [ $# -eq 2 ] || usage; init "$2" ;;
  issue) [ $# -ge 3 ] || usage; issue "${@:2}" ;;
  *) usage ;;
esac
