// What a UAPI set request does to a device's configuration, as wireguard-go applies it, as pure
// logic on a WgDeviceState: the session computes the new configuration with it and then hands the
// differences to its engine; the tests use it as the fake device behind the real wg(8).
//   - private_key all zeros removes the key; a peer whose public key is the device's own is ignored;
//   - replace_peers drops every peer first;
//   - remove drops the peer; update_only changes a peer only if it exists;
//   - preshared_key all zeros removes it; replace_allowed_ips empties the list first;
//   - an allowed IP belongs to one peer: giving it to one takes it from any other (cryptokey routing).
import { publicKeyOf } from './keys.js';
import type { UapiSetRequest } from './uapi.js';
import type { WgDeviceState, WgPeerState } from './types.js';

const isZero = (k: Buffer) => k.every((b) => b === 0);

function clonePeer(p: WgPeerState): WgPeerState {
  return { ...p, allowedIps: [...p.allowedIps], endpoint: p.endpoint ? { ...p.endpoint } : null };
}

/** The device state after the request (the input is not modified). */
export function applySetRequest(state: WgDeviceState, request: UapiSetRequest): WgDeviceState {
  const next: WgDeviceState = { ...state, peers: state.peers.map(clonePeer) };
  if (request.privateKey) next.privateKey = isZero(request.privateKey) ? null : Buffer.from(request.privateKey);
  if (request.listenPort !== undefined) next.listenPort = request.listenPort;
  if (request.fwMark !== undefined) next.fwMark = request.fwMark;
  if (request.replacePeers) next.peers = [];
  const ownPublic = next.privateKey ? publicKeyOf(next.privateKey) : null;

  for (const change of request.peers) {
    const index = next.peers.findIndex((p) => p.publicKey.equals(change.publicKey));
    if (change.remove) {
      if (index >= 0) next.peers.splice(index, 1);
      continue;
    }
    if (ownPublic && ownPublic.equals(change.publicKey)) continue;
    let peer = index >= 0 ? next.peers[index] : undefined;
    if (!peer) {
      if (change.updateOnly) continue;
      peer = {
        publicKey: Buffer.from(change.publicKey),
        presharedKey: null,
        endpoint: null,
        allowedIps: [],
        persistentKeepalive: 0,
        lastHandshake: null,
        rxBytes: 0,
        txBytes: 0,
      };
      next.peers.push(peer);
    }
    if (change.presharedKey) peer.presharedKey = isZero(change.presharedKey) ? null : Buffer.from(change.presharedKey);
    if (change.endpoint) peer.endpoint = { ...change.endpoint };
    if (change.persistentKeepalive !== undefined) peer.persistentKeepalive = change.persistentKeepalive;
    if (change.replaceAllowedIps) peer.allowedIps = [];
    for (const prefix of change.allowedIps) {
      for (const other of next.peers) {
        if (other !== peer) other.allowedIps = other.allowedIps.filter((a) => a !== prefix);
      }
      if (!peer.allowedIps.includes(prefix)) peer.allowedIps.push(prefix);
    }
  }
  return next;
}
