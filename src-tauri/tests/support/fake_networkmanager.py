#!/usr/bin/env python3
"""A stand-in NetworkManager for end-to-end tests: owns
org.freedesktop.NetworkManager on the bus at argv[1] and emits
StateChanged(u) with each number read from standard input (70 = connected).
Prints "READY" once it owns the name."""

import asyncio
import sys

from dbus_next.aio import MessageBus
from dbus_next.service import ServiceInterface, signal


class NetworkManager(ServiceInterface):
    def __init__(self):
        super().__init__("org.freedesktop.NetworkManager")

    @signal()
    def StateChanged(self, state) -> "u":  # noqa: F821
        return state


async def main():
    bus = await MessageBus(bus_address=sys.argv[1]).connect()
    nm = NetworkManager()
    bus.export("/org/freedesktop/NetworkManager", nm)
    await bus.request_name("org.freedesktop.NetworkManager")
    print("READY", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        nm.StateChanged(int(line.strip()))


if __name__ == "__main__":
    asyncio.run(main())
