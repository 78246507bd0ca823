// Package whatsmeow runs the devices' WhatsApp sessions with go.mau.fi/whatsmeow and
// implements device.WhatsAppClient: one whatsmeow client per device, its keys in
// whatsmeow's SQL store (the whatsmeow_* tables, upgraded by New) on the gateway's own
// database, found by the device's JID.
//
// # Events
//
// One type switch (session.onEvent) turns whatsmeow's events into the session's news:
//
//	QR (6 codes)          SessionQR per code, shown in turn by the adapter (Config.QRFirstTimeout,
//	                      then QRNextTimeout each); after the last: SessionDisconnected{qr_timeout}, session over
//	PairSuccess           SessionPaired{Link{JID, PhoneNumber (JID user), BusinessName, PushName if known}}
//	PairError             SessionFailed{connect_failure}
//	Connected             SessionConnected{PushName (the store's, or the last PushNameSetting)}
//	Message               SessionMessage (normalized by msgconv; housekeeping messages skipped)
//	Disconnected          linked: SessionDisconnected{connection_lost, Reconnecting}, reconnect with backoff
//	                      pairing: SessionDisconnected{connection_lost}, session over (its QR codes died);
//	                      qr_timeout instead when the last QR code was on show
//	KeepAliveTimeout      after 3 min without keepalive answers: as Disconnected
//	StreamReplaced        SessionDisconnected{stream_replaced}, session over, link kept
//	LoggedOut             store device deleted, then SessionLoggedOut{logged_out}, session over
//	TemporaryBan          SessionFailed{temporary_ban, Until: now + Expire}, session over
//	ConnectFailure        SessionFailed{connect_failure}, session over
//	ClientOutdated        SessionFailed{client_outdated}, session over
//
// Connect with a JID whose keys are not in the store reports SessionLoggedOut: the device
// must be linked again (connecting once more starts a pairing). Disconnect, Logout,
// Remove and Close report nothing.
//
// # Ordering, acknowledgement and back-pressure
//
// Each device has a queue drained by one goroutine, the only caller of the
// SessionHandler for that device, in order. State changes enter it without waiting (a
// handful per connection). A received message is acknowledged to WhatsApp only once it
// is stored: whatsmeow runs with SynchronousAck, and the event handler
// (AddEventHandlerWithSuccessStatus) queues the message behind the news before it and
// waits for the handler's result. An error is retried with backoff (100 ms doubling up
// to 5 s) while the session runs; meanwhile whatsmeow hands over nothing more of that
// device and WhatsApp keeps what is not acknowledged. That is the back-pressure: a slow
// or failing handler slows its device down, and nothing is dropped. A session that ends
// first (Disconnect, Close, a drop) leaves the message unacknowledged: WhatsApp delivers
// it again at the next login, and whatsmeow's decrypted event buffer
// (EnableDecryptedEventBuffer) hands it over again although its Signal ratchet has moved
// on. A message delivered again may have been stored already (its ack was lost): the
// handler deduplicates it on its identity (device.Messages.Receive).
//
// # Reconnection
//
// whatsmeow's own auto-reconnect is off (its delay grows linearly, without cap or
// jitter). After a drop the session reconnects itself: the delay doubles from
// Config.ReconnectMin up to Config.ReconnectMax, and a random part of up to half of it
// is dropped, so that devices dropped together do not come back together. A successful
// login resets it. A connection that does not log in within a minute is dropped and
// retried the same way. There is no reconnection after a stream_replaced (another
// process runs the session), a logout, a ban, a connect failure or an outdated client.
//
// # Storage
//
// whatsmeow_* tables: whatsmeow's own (keys, sessions, contacts, LID map, and the
// decrypted event buffer of messages not yet acknowledged). Messages are kept behind the
// Messages port (device.Messages): the handler stores received ones, the adapter keeps
// those its devices send, and finds both to quote in replies, address reactions and
// download media. Their retention is the application's.
//
// # Simulator
//
// Config.ServerURL and Config.RootKey send every websocket and media request to another
// server (the wasim simulator) and make the whole process trust its root key
// (whatsmeow.WACertPubKey is a package variable). New logs a loud warning then.
package whatsmeow
