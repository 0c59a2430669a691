#!/usr/bin/env python3
"""Asks an X window to close the way a window manager's close button does:
a WM_DELETE_WINDOW client message. Usage: close_window.py TITLE.
Exits 0 when a window with that title was found and asked, 1 otherwise."""

import sys

from Xlib import X, display, protocol


def find(win, title, d):
    try:
        name = win.get_wm_name()
    except Exception:
        name = None
    if name == title:
        return win
    try:
        children = win.query_tree().children
    except Exception:
        return None
    for child in children:
        found = find(child, title, d)
        if found is not None:
            return found
    return None


def main():
    title = sys.argv[1]
    d = display.Display()
    win = find(d.screen().root, title, d)
    if win is None:
        return 1
    wm_protocols = d.intern_atom("WM_PROTOCOLS")
    wm_delete = d.intern_atom("WM_DELETE_WINDOW")
    event = protocol.event.ClientMessage(
        window=win, client_type=wm_protocols, data=(32, [wm_delete, X.CurrentTime, 0, 0, 0])
    )
    win.send_event(event, event_mask=X.NoEventMask)
    d.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
