package device

// Reason says why a device lost its connection. It is the `reason` of the Socket.io
// `disconnected` event and the device's lastDisconnectReason.
type Reason string

const (
	ReasonStopped        Reason = "stopped"         // disconnected through the API
	ReasonConnectionLost Reason = "connection_lost" // the network dropped; reconnection follows
	ReasonQRTimeout      Reason = "qr_timeout"      // no QR code was scanned before the last one expired
	ReasonLoggedOut      Reason = "logged_out"      // the link was removed from the phone or through the API
	ReasonStreamReplaced Reason = "stream_replaced" // another client took over this session
	ReasonTemporaryBan   Reason = "temporary_ban"   // WhatsApp banned the account for a while
	ReasonConnectFailure Reason = "connect_failure" // WhatsApp refused the login
	ReasonClientOutdated Reason = "client_outdated" // WhatsApp refuses this client version
	ReasonDeleted        Reason = "deleted"         // the device was deleted
)
