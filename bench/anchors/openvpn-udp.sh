# shellcheck shell=bash
# openvpn-udp - OpenVPN 2.6 point to point over UDP with a TLS handshake (a CA and EC P-256
# server and client certificates made for every run), data channel AES-256-GCM, userspace data
# path (--disable-dco). The usual "secure VPN" a user would otherwise pick on Debian.
# shellcheck disable=SC2034 # PACKAGES is read by bench/install.sh
PACKAGES="openvpn openssl"
OVPN_PORT=1194

anchor_version() { openvpn --version | awk 'NR == 1 { v = $1 " " $2 } /^library versions/ { sub(/,.*/, ""); l = $3 " " $4 } END { print v " (" l ")" }'; }

# a throw-away PKI: CA, server certificate (serverAuth) and client certificate (clientAuth)
ovpn_pki() {
  local d=$RUN_DIR/pki side usage
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=bench-ca \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null || return 1
  for side in server client; do
    usage=clientAuth
    [[ $side == server ]] && usage=serverAuth
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=bench-$side" \
      -keyout "$d/$side.key" -out "$d/$side.csr" 2>/dev/null || return 1
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\n' "$usage" >"$d/$side.ext"
    openssl x509 -req -days 2 -in "$d/$side.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
      -extfile "$d/$side.ext" -out "$d/$side.crt" 2>/dev/null || return 1
  done
}

anchor_start() {
  local d=$RUN_DIR/pki
  local both=(--dev tbovpn --dev-type tun --proto udp4 --tun-mtu "$TUN_MTU" --data-ciphers AES-256-GCM
    --disable-dco --ca "$d/ca.crt" --verb 3)
  ovpn_pki || { echo "could not make the certificates"; return 1; }
  spawn "$NS_B" "$RUN_DIR/server.log" openvpn "${both[@]}" --local "$UNDER_B" --lport "$OVPN_PORT" \
    --ifconfig "$INNER_B" "$INNER_A" --tls-server --dh none --cert "$d/server.crt" --key "$d/server.key" >/dev/null
  wait_until 10 listening "$NS_B" udp "$OVPN_PORT" || { echo "openvpn server not listening"; return 1; }
  spawn "$NS_A" "$RUN_DIR/client.log" openvpn "${both[@]}" --remote "$UNDER_B" "$OVPN_PORT" --nobind \
    --ifconfig "$INNER_A" "$INNER_B" --tls-client --remote-cert-tls server --cert "$d/client.crt" --key "$d/client.key" >/dev/null
}

anchor_notes() { grep -ho "Data Channel: cipher '[^']*'" "$RUN_DIR/client.log" | sort -u; }
anchor_stop() { kill_spawned; }
