#!/usr/bin/env python3
# udp-burst.py - bursts of equal-size UDP datagrams whose contents the receiver checks, for the
# test of UDP coalescing on tun writes (engine-offload.bats). Each burst leaves in ONE sendmsg
# with UDP_SEGMENT (Node's dgram cannot ask for that, hence Python): the kernel hands the tunnel's
# tun one USO super-packet (or, without USO, all datagrams at once), so the whole burst crosses
# in one round - one GSO send, one GRO read, one coalesced device write on the far side - and the
# test does not depend on timing.
#
#   udp-burst.py recv ADDR PORT COUNT SECS   prints {"received": N, "intact": N} when COUNT
#                                            datagrams came or SECS passed
#   udp-burst.py send ADDR PORT BURSTS SIZE  BURSTS bursts of 16 datagrams of SIZE bytes
#
# Datagram i: i as a 32-bit big-endian number, then bytes that follow from i (a datagram cut,
# merged or shifted on the way is not intact). Bounded: at most 4096 bursts, 60 s.
import hashlib
import json
import socket
import struct
import sys
import time

UDP_SEGMENT = 103
PER_BURST = 16


def payload(i, size):
    out = bytearray(struct.pack(">I", i))
    block = hashlib.sha256(str(i).encode()).digest()
    while len(out) < size:
        out += block
        block = hashlib.sha256(block).digest()
    return bytes(out[:size])


def main():
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    if mode == "recv":
        count, secs = int(sys.argv[4]), min(float(sys.argv[5]), 60)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind((addr, port))
        received = intact = 0
        deadline = time.monotonic() + secs
        while received < count and time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                msg = sock.recv(65536)
            except socket.timeout:
                break
            received += 1
            if len(msg) >= 4 and payload(struct.unpack(">I", msg[:4])[0], len(msg)) == msg:
                intact += 1
        print(json.dumps({"received": received, "intact": intact}))
    elif mode == "send":
        bursts, size = min(int(sys.argv[4]), 4096), max(4, min(int(sys.argv[5]), 1400))
        sock.connect((addr, port))
        sock.setsockopt(socket.IPPROTO_UDP, UDP_SEGMENT, size)
        for b in range(bursts):
            sock.send(b"".join(payload(b * PER_BURST + k, size) for k in range(PER_BURST)))
            time.sleep(0.002)  # a breath between bursts: the receiver keeps up
    else:
        sys.exit("usage: udp-burst.py recv ADDR PORT COUNT SECS | send ADDR PORT BURSTS SIZE")


main()
