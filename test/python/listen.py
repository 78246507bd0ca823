"""A Socket.io listener for the gateway's tests, using Debian's python3-socketio. It
prints one JSON line per thing that happens and exits when its stdin closes.

    WAGATE_URL=http://127.0.0.1:3000 NAMESPACE=/device/<id> API_KEY=... \
    TRANSPORTS=websocket|polling|default /usr/bin/python3 listen.py
"""
import json
import os
import sys
import threading

import socketio

EVENTS = ('qr', 'ready', 'authenticated', 'message', 'state', 'disconnected', 'receipt')


def out(obj):
    sys.stdout.write(json.dumps(obj) + '\n')
    sys.stdout.flush()


def main():
    url = os.environ['WAGATE_URL']
    namespace = os.environ.get('NAMESPACE') or '/'
    transports = {'websocket': ['websocket'], 'polling': ['polling']}.get(os.environ.get('TRANSPORTS', ''))
    sio = socketio.Client(reconnection=False)

    def on(name):
        sio.on(name, lambda data=None: out({'event': name, 'data': data}), namespace=namespace)

    for name in EVENTS:
        on(name)
    sio.on('connect', lambda: out({'event': 'connect', 'transport': sio.transport()}), namespace=namespace)
    def connect_error(data=None):
        out({'event': 'connect_error', 'message': data.get('message') if isinstance(data, dict) else data})
        # Without reconnection there is nothing more to see, and connect() would only
        # give up after its wait_timeout.
        os._exit(0)

    sio.on('connect_error', connect_error, namespace=namespace)
    sio.on('disconnect', lambda: out({'event': 'disconnect'}), namespace=namespace)

    headers = {'apiKey': os.environ['API_KEY']} if os.environ.get('API_KEY') else {}
    try:
        sio.connect(url, socketio_path='/ws', headers=headers, namespaces=[namespace], transports=transports, wait_timeout=10)
    except socketio.exceptions.ConnectionError as e:
        out({'event': 'connection_failed', 'message': str(e)})

    def wait_stdin():
        sys.stdin.read()
        if sio.connected:
            sio.disconnect()
        os._exit(0)

    threading.Thread(target=wait_stdin, daemon=True).start()
    sio.wait()
    # wait() returns when the connection is lost for good; keep reading until stdin closes.
    threading.Event().wait()


if __name__ == '__main__':
    main()
