// vtun_handshake: the VTun 3.0 handshake lines as a peer sends them (core/vtun/handshake.ts,
// flags.ts, challenge.ts). Input byte 0 % 3 picks what the rest is:
//   0: an `OK FLAGS: <...>` text for parseFlags;
//   1: a server's bytes, read by clientHandshake (greeting, challenge, flags, then the UDP port);
//   2: a client's bytes, read by serverHandshake (HOST line, challenge response) for a server
//      that knows session "fz" (password "pw") and sends a fixed challenge, so seeds can pass.
// The bytes arrive at once and then the connection ends (a short input is a peer that hangs up).
// Oracles: only HandshakeError (client, server) or FlagsError (flags) comes out; every block we
// send is 50 bytes (the port 2); flags that parse are stable: parseFlags(buildFlags(f)) == f; a
// client that succeeds got flags whose text parses to the same flags.
import { FlagsError, buildFlags, parseFlags, type VtunFlags } from '../../../../core/vtun/flags.js';
import { BlockChannel, HandshakeError, clientHandshake, exchangeUdpPort, serverHandshake, type HandshakeSocket } from '../../../../core/vtun/handshake.js';
import { check, type JsFuzzTarget } from '../target.js';

export const CHALLENGE = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
export const PASSWORD = Buffer.from('pw');
const SERVER_FLAGS: VtunFlags = { transport: 'udp', type: 'tun', compression: { kind: 'lzo', level: 9 }, cipher: 10, keepalive: true, speed: 0 };

/** A connection whose peer sent `input` and hung up; what we write is kept. */
function peer(input: Buffer): { socket: HandshakeSocket; written: Buffer[] } {
  const written: Buffer[] = [];
  let at = 0;
  const socket: HandshakeSocket = {
    async read(max) {
      const chunk = input.subarray(at, at + max);
      at += chunk.length;
      return chunk;  // empty: end of stream
    },
    async write(data) {
      written.push(Buffer.from(data));
    },
  };
  return { socket, written };
}

function checkFlags(text: string): void {
  let f: VtunFlags;
  try {
    f = parseFlags(text);
  } catch (error) {
    if (error instanceof FlagsError) return;
    throw error;
  }
  const rebuilt = buildFlags(f);
  let again: VtunFlags;
  try {
    again = parseFlags(rebuilt);
  } catch (error) {
    throw new Error(`flags ${JSON.stringify(text)} parse, but their rebuilt form ${JSON.stringify(rebuilt)} does not: ${(error as Error).message}`);
  }
  check(JSON.stringify(again) === JSON.stringify(f), () => `flags ${JSON.stringify(text)} -> ${JSON.stringify(f)} -> ${rebuilt} -> ${JSON.stringify(again)}`);
}

async function expectHandshakeError(p: Promise<unknown>): Promise<unknown> {
  try {
    return await p;
  } catch (error) {
    if (error instanceof HandshakeError) return null;
    throw error;
  }
}

function checkWrites(written: Buffer[]): void {
  for (const w of written) check(w.length === 50 || w.length === 2, `we sent a ${w.length}-byte block`);
}

export const target: JsFuzzTarget = {
  modules: ['core/vtun/handshake.js', 'core/vtun/flags.js', 'core/vtun/challenge.js'],
  maxLength: 400,
  dictionary: [
    'VTUN server ver 3.X 05/14/2022\n', 'OK CHAL: <', 'OK FLAGS: <', 'HOST: fz\n', 'HOST: ', 'CHAL: <', '>\n', 'ERR\n', 'OK', '<', '>',
    'TuKE10', 'UeC9', 'Lp', 'S100', 'E', 'F', 'K', 'abcdefghijklmnop', '\0'.repeat(20), '\r', ' ', ':',
  ],
  async run(data) {
    const mode = data.length > 0 ? data[0]! % 3 : 0;
    const rest = data.subarray(1);
    if (mode === 0) {
      checkFlags(rest.toString('latin1'));
      return;
    }
    const { socket, written } = peer(rest);
    const ch = new BlockChannel(socket);
    if (mode === 1) {
      const r = (await expectHandshakeError(clientHandshake(ch, { host: 'fz', password: PASSWORD, sslAuth: (data[0]! & 8) === 0, timeoutMs: 200 }))) as Awaited<ReturnType<typeof clientHandshake>> | null;
      if (r) {
        check(JSON.stringify(parseFlags(r.flagsText)) === JSON.stringify(r.flags), () => `flags text ${r.flagsText} is not what was used`);
        checkFlags(r.flagsText);
        if (r.flags.transport === 'udp') {
          const port = await expectHandshakeError(exchangeUdpPort(ch, 5000, 5000, 200));
          if (port !== null) check(Number.isInteger(port) && (port as number) >= 0 && (port as number) <= 65535, `port ${port}`);
        }
      }
    } else {
      const sslAuth = (data[0]! & 8) === 0;
      await expectHandshakeError(
        serverHandshake(ch, {
          timeoutMs: 200,
          challenge: CHALLENGE,
          lookup: (host) => (host === 'fz' ? { password: PASSWORD, sslAuth, flags: SERVER_FLAGS } : null),
          authorize: () => undefined,
        }),
      );
    }
    checkWrites(written);
  },
};
