// icmp.mjs: the IPv4 echo reply to an echo request, for the test helpers that answer pings
// themselves (tun-echo.mjs on a TUN device, tap-host.mjs behind a TAP device).

export function checksum(buf, start, end) {
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += (buf[i] << 8) + (i + 1 < end ? buf[i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** The echo reply to an IPv4 ICMP echo request, or undefined for anything else. */
export function echoReply(packet) {
  if (packet.length < 28 || packet[0] >> 4 !== 4) return undefined;
  const ihl = (packet[0] & 0x0f) * 4;
  const total = packet.readUInt16BE(2);
  if (packet[9] !== 1 || total > packet.length || packet[ihl] !== 8) return undefined;
  const reply = Buffer.from(packet.subarray(0, total));
  packet.copy(reply, 12, 16, 20); // source <- destination
  packet.copy(reply, 16, 12, 16); // destination <- source
  reply[8] = 64; // TTL
  reply.writeUInt16BE(0, 10);
  reply.writeUInt16BE(checksum(reply, 0, ihl), 10);
  reply[ihl] = 0; // echo reply
  reply[ihl + 1] = 0;
  reply.writeUInt16BE(0, ihl + 2);
  reply.writeUInt16BE(checksum(reply, ihl, total), ihl + 2);
  return reply;
}

/** An IPv4 ICMP echo request from src to dst (dotted quads), with its checksums. */
export function echoRequest(src, dst, id, seq, data) {
  const packet = Buffer.alloc(28 + data.length);
  packet[0] = 0x45;
  packet.writeUInt16BE(packet.length, 2);
  packet[8] = 64; // TTL
  packet[9] = 1; // ICMP
  src.split('.').forEach((o, i) => (packet[12 + i] = Number(o)));
  dst.split('.').forEach((o, i) => (packet[16 + i] = Number(o)));
  packet.writeUInt16BE(checksum(packet, 0, 20), 10);
  packet[20] = 8; // echo request
  packet.writeUInt16BE(id, 24);
  packet.writeUInt16BE(seq, 26);
  data.copy(packet, 28);
  packet.writeUInt16BE(checksum(packet, 20, packet.length), 22);
  return packet;
}
