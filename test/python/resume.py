"""A listener that resumes with lastEventId, using Debian's python3-socketio. It prints
one JSON line per connect and per event ({event, eventId}), and exits when its stdin
closes. python-socketio runs each handler in a thread of its own: lines may come out
in another order than the events arrived.

    WAGATE_URL=... NAMESPACE=/device/<id> API_KEY=... LAST_EVENT_ID=42 /usr/bin/python3 resume.py
"""
import json
import os
import sys
import threading

import socketio

EVENTS = ('qr', 'ready', 'authenticated', 'message', 'state', 'disconnected')
lock = threading.Lock()


def out(obj):
    with lock:
        sys.stdout.write(json.dumps(obj) + '\n')
        sys.stdout.flush()


def main():
    namespace = os.environ.get('NAMESPACE') or '/'
    sio = socketio.Client(reconnection=False)

    def on(name):
        # One argument, as the spec's examples take it: an extra one would fail here.
        sio.on(name, lambda data: out({'event': name, 'eventId': data['eventId']}), namespace=namespace)

    for name in EVENTS:
        on(name)
    sio.on('connect', lambda: out({'event': 'connect'}), namespace=namespace)
    sio.on('connect_error', lambda data=None: out({'event': 'connect_error', 'message': str(data)}), namespace=namespace)
    auth = {'apiKey': os.environ['API_KEY'], 'lastEventId': os.environ['LAST_EVENT_ID']}
    sio.connect(os.environ['WAGATE_URL'], socketio_path='/ws', auth=auth, namespaces=[namespace],
                transports=['websocket'], wait_timeout=10)
    sys.stdin.read()
    sio.disconnect()
    os._exit(0)


if __name__ == '__main__':
    main()
