# The Python client example of the customer's gateway contract, corrected as
# docs/socketio.md says: python-socketio ignores the URL path, so the device namespace is
# given to connect (namespaces=[...]) and to each handler (namespace=...).
import socketio

device_id = 'your-device-id-here'
api_key = 'your-api-key-here'

sio = socketio.Client()
namespace = f'/device/{device_id}'

@sio.event(namespace=namespace)
def connect():
    print('Connected to device namespace')

@sio.event(namespace=namespace)
def qr(data):
    print('QR Code received:', data)

@sio.event(namespace=namespace)
def ready(data):
    print('Device ready:', data)

@sio.event(namespace=namespace)
def authenticated(data):
    print('Device authenticated:', data)

@sio.event(namespace=namespace)
def message(data):
    print('Message received:', data)

@sio.event(namespace=namespace)
def state(data):
    print('Device state changed:', data)

@sio.event(namespace=namespace)
def disconnected(data):
    print('Device disconnected:', data)

# Connect to device namespace
sio.connect(
    f'http://localhost:3000/device/{device_id}',
    socketio_path='/ws',
    headers={'apiKey': api_key},
    namespaces=[namespace]
)

# Keep connection alive
sio.wait()
