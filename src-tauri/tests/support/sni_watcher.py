#!/usr/bin/env python3
"""A minimal org.kde.StatusNotifierWatcher for end-to-end tests: owns the
name on the session bus, records registered items and reports a host, so
appindicator registers the app's tray item as it would on a real panel.
Prints "READY" once it owns the name; logs each registration as
"ITEM <bus name> <object path>"."""

import asyncio
import sys

from dbus_next.aio import MessageBus
from dbus_next.service import ServiceInterface, method, dbus_property, signal
from dbus_next.constants import PropertyAccess


class Watcher(ServiceInterface):
    def __init__(self):
        super().__init__("org.kde.StatusNotifierWatcher")
        self.items = []

    @method()
    def RegisterStatusNotifierItem(self, service: "s"):  # noqa: F821
        # The argument is an object path; the item is the caller + that path.
        sender = self.current_sender
        item = service if service.startswith(":") or "." in service.split("/")[0] else f"{sender}{service}"
        if item not in self.items:
            self.items.append(item)
        print(f"ITEM {item}", flush=True)
        self.StatusNotifierItemRegistered(item)

    @method()
    def RegisterStatusNotifierHost(self, service: "s"):  # noqa: F821
        pass

    @dbus_property(access=PropertyAccess.READ)
    def RegisteredStatusNotifierItems(self) -> "as":  # noqa: F821
        return self.items

    @dbus_property(access=PropertyAccess.READ)
    def IsStatusNotifierHostRegistered(self) -> "b":  # noqa: F821
        return True

    @dbus_property(access=PropertyAccess.READ)
    def ProtocolVersion(self) -> "i":  # noqa: F821
        return 0

    @signal()
    def StatusNotifierItemRegistered(self, item) -> "s":  # noqa: F821
        return item

    @signal()
    def StatusNotifierHostRegistered(self):
        return None


async def main():
    bus = await MessageBus().connect()
    watcher = Watcher()
    # dbus-next does not expose the sender to methods: wrap the handler.
    original = bus._make_method_handler

    def make_handler(interface, method_):
        handler = original(interface, method_)

        def wrapped(msg, send_reply):
            interface.current_sender = msg.sender
            return handler(msg, send_reply)

        return wrapped

    bus._make_method_handler = make_handler
    bus.export("/StatusNotifierWatcher", watcher)
    await bus.request_name("org.kde.StatusNotifierWatcher")
    print("READY", flush=True)
    await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
