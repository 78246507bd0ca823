// Package docs holds the documentation the gateway serves besides its OpenAPI
// description: the Socket.io contract, at /docs/socketio.md.
package docs

import _ "embed"

// SocketIO is socketio.md, the Socket.io contract.
//
//go:embed socketio.md
var SocketIO []byte
