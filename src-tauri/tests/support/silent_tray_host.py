#!/usr/bin/env python3
"""A broken tray host for end-to-end tests: owns the
org.kde.StatusNotifierWatcher name on the session bus, as a panel does,
then takes every method call addressed to it (registration, property
reads) and never answers: the bus delivers the call, no reply ever comes.
Prints "READY" once it owns the name and "SWALLOWED <member>" per call."""

import asyncio

from dbus_next.aio import MessageBus
from dbus_next.constants import MessageType


async def main():
    bus = await MessageBus().connect()

    def swallow(message):
        if message.message_type != MessageType.METHOD_CALL:
            return None
        if message.interface == "org.freedesktop.DBus.Peer":
            return None
        print(f"SWALLOWED {message.member}", flush=True)
        # Handled: dbus-next sends no reply.
        return True

    bus.add_message_handler(swallow)
    await bus.request_name("org.kde.StatusNotifierWatcher")
    print("READY", flush=True)
    await asyncio.Future()


asyncio.run(main())
