// Package wasim is a protocol-level WhatsApp server simulator.
//
// An unmodified go.mau.fi/whatsmeow client connects to it over a plain
// websocket and goes through the same steps it goes through against
// WhatsApp's servers: the Noise XX handshake with a certificate chain
// rooted in a key the client trusts, QR codes or a pairing code, pairing,
// login, prekey upload, Signal-encrypted messages in both directions, media
// uploads and downloads, and the server-side events that end a session
// (stream replaced, logged out, temporary ban, dropped connection).
//
// The simulator plays every part that is not the client: the server, the
// media host, the account owner's phone (which scans QR codes, enters
// pairing codes and signs the companion device's identity) and the
// contacts, which hold real Signal sessions so that what the client
// encrypts, attachments included, can be decrypted and checked.
//
// It lives under test/ because it is a test tool: the gateway never imports
// it. Start a simulator in-process with [Start] (tests) or [New] and
// [Server.Serve], or run the cmd/wasim binary and drive it through its HTTP
// control API (see README.md).
package wasim
