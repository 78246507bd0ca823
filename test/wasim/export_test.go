package wasim

import (
	"go.mau.fi/whatsmeow/util/keys"
)

// ProvisionDevice links device 1 of phone with the given Noise and identity
// keys without a pairing flow, for load tests whose clients are bare Noise
// sockets rather than whatsmeow clients. It stores maxStoredPreKeys
// prekeys so that the device record is as large as after a real upload.
func (s *Server) ProvisionDevice(phone string, noisePub, identityPub [32]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userLocked(phone)
	d := &device{user: u, id: u.nextDevice, noisePub: noisePub, identityPub: identityPub,
		registrationID: 1, keyIndex: 1, preKeyCount: 812}
	u.nextDevice++
	spk := keys.NewKeyPair()
	d.signedPreKey = signedPreKey{preKeyPub: preKeyPub{id: 1, pub: *spk.Pub}}
	for i := range maxStoredPreKeys {
		d.preKeys = append(d.preKeys, preKeyPub{id: uint32(i + 1), pub: *spk.Pub})
	}
	u.devices[d.id] = d
	u.isAccount = true
	s.pairedDevices++
}

// MediaAuth is the auth token the media host requires on uploads, for tests
// that talk to it without a whatsmeow client.
func (s *Server) MediaAuth() string { return s.media.auth }

// SetBeforeFlushWrite installs a function that runs each time the server
// is about to write a batch of pending messages to a device, with no lock
// held: a test can deliver a new message at that moment.
func (s *Server) SetBeforeFlushWrite(f func()) {
	s.mu.Lock()
	s.beforeFlushWrite = f
	s.mu.Unlock()
}
