package wasim

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/util/hkdfutil"
)

// Media on WhatsApp never travels through the chat connection: the sender
// encrypts the file with a fresh random media key, uploads the result to the
// media host, and puts the key, the hashes and the download path in the
// message. The simulator plays the media host (see mediahttp.go) and, as the
// contact, decrypts what linked devices send and encrypts what contacts send.

// mediaKind is one kind of attachment.
type mediaKind struct {
	// name is the message type in the control API and in SentMessage.Type.
	name string
	// appInfo is the HKDF info the media key is expanded with.
	appInfo whatsmeow.MediaType
	// mmsType is the type in upload and download URLs (whatsmeow's
	// mediaTypeToMMSType).
	mmsType string
	// pathPrefix is where WhatsApp's CDN keeps that kind; cosmetic, but it
	// makes direct paths look like the real ones.
	pathPrefix string
	// defaultMimetype is used when a contact's message names none.
	defaultMimetype string
}

var mediaKinds = map[string]mediaKind{
	"image":    {"image", whatsmeow.MediaImage, "image", "/v/t62.7118-24/", "image/jpeg"},
	"video":    {"video", whatsmeow.MediaVideo, "video", "/v/t62.7161-24/", "video/mp4"},
	"audio":    {"audio", whatsmeow.MediaAudio, "audio", "/v/t62.7117-24/", "audio/ogg; codecs=opus"},
	"document": {"document", whatsmeow.MediaDocument, "document", "/v/t62.7119-24/", "application/octet-stream"},
	// Stickers are images to the key derivation and the media host.
	"sticker": {"sticker", whatsmeow.MediaImage, "image", "/v/t62.15575-24/", "image/webp"},
}

// mediaHMACLength is the length of the truncated HMAC-SHA256 appended to
// the ciphertext.
const mediaHMACLength = 10

// mediaKeys expands a 32-byte media key as whatsmeow's getMediaKeys does:
// HKDF-SHA256 with the media type as info, 112 bytes split into IV, AES key
// and MAC key (the last 32, the ref key, are unused).
func mediaKeys(mediaKey []byte, appInfo whatsmeow.MediaType) (iv, cipherKey, macKey []byte) {
	expanded := hkdfutil.SHA256(mediaKey, nil, []byte(appInfo), 112)
	return expanded[:16], expanded[16:48], expanded[48:80]
}

func mediaMAC(macKey, iv, ciphertext []byte) []byte {
	h := hmac.New(sha256.New, macKey)
	h.Write(iv)
	h.Write(ciphertext)
	return h.Sum(nil)[:mediaHMACLength]
}

// encryptMedia encrypts plaintext under a fresh media key into the blob the
// media host stores: AES-256-CBC ciphertext (PKCS#7 padding) followed by the
// truncated MAC. (whatsmeow's cbcutil is not used: it works in place on its
// arguments, which would alter stored blobs and callers' buffers.)
func encryptMedia(plaintext []byte, appInfo whatsmeow.MediaType) (mediaKey, blob []byte, err error) {
	mediaKey = randomBytes(32)
	iv, cipherKey, macKey := mediaKeys(mediaKey, appInfo)
	block, err := aes.NewCipher(cipherKey)
	if err != nil {
		return nil, nil, err
	}
	pad := aes.BlockSize - len(plaintext)%aes.BlockSize
	ciphertext := make([]byte, len(plaintext)+pad, len(plaintext)+pad+mediaHMACLength)
	copy(ciphertext, plaintext)
	copy(ciphertext[len(plaintext):], bytes.Repeat([]byte{byte(pad)}, pad))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ciphertext, ciphertext)
	return mediaKey, append(ciphertext, mediaMAC(macKey, iv, ciphertext)...), nil
}

// decryptMedia checks a blob's MAC and decrypts it into a new slice.
func decryptMedia(blob, mediaKey []byte, appInfo whatsmeow.MediaType) ([]byte, error) {
	if len(mediaKey) != 32 {
		return nil, fmt.Errorf("media key has %d bytes, want 32", len(mediaKey))
	}
	if len(blob) <= mediaHMACLength {
		return nil, errors.New("encrypted file is too short")
	}
	ciphertext, mac := blob[:len(blob)-mediaHMACLength], blob[len(blob)-mediaHMACLength:]
	iv, cipherKey, macKey := mediaKeys(mediaKey, appInfo)
	if !hmac.Equal(mediaMAC(macKey, iv, ciphertext), mac) {
		return nil, errors.New("media MAC mismatch: wrong media key or media type")
	}
	if len(ciphertext)%aes.BlockSize != 0 {
		return nil, errors.New("encrypted file is not a whole number of AES blocks")
	}
	block, err := aes.NewCipher(cipherKey)
	if err != nil {
		return nil, err
	}
	plaintext := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plaintext, ciphertext)
	pad := int(plaintext[len(plaintext)-1])
	if pad == 0 || pad > aes.BlockSize || !bytes.Equal(plaintext[len(plaintext)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		return nil, errors.New("decrypted file has invalid padding")
	}
	return plaintext[:len(plaintext)-pad], nil
}

// Bounds on what the media host keeps in memory. Uploads are kept whole, so
// one file may not exceed maxMediaBytes; past maxStoredMediaBytes the
// oldest files are forgotten (downloads of them get 404, GET
// /control/media 404).
const (
	maxMediaBytes       = 64 << 20
	maxStoredMediaBytes = 512 << 20
)

// MediaFile is an attachment a linked device sent, as the recipient
// decrypted it.
type MediaFile struct {
	Data     []byte
	Mimetype string
	FileName string
}

// mediaStore is the media host's storage: encrypted blobs by the hex SHA-256
// of their content (which is also their file name in direct paths, so
// identical uploads share one blob), and the decrypted attachments of
// outgoing messages by message id.
type mediaStore struct {
	auth string // what media_conn hands out and uploads must present

	mu    sync.Mutex
	blobs boundedMap[[]byte]
	files boundedMap[MediaFile]
}

func newMediaStore() *mediaStore {
	return &mediaStore{
		auth:  hex.EncodeToString(randomBytes(24)),
		blobs: boundedMap[[]byte]{max: maxStoredMediaBytes},
		files: boundedMap[MediaFile]{max: maxStoredMediaBytes},
	}
}

// putBlob stores an encrypted file and returns its key.
func (m *mediaStore) putBlob(blob []byte) string {
	sum := sha256.Sum256(blob)
	key := hex.EncodeToString(sum[:])
	m.mu.Lock()
	m.blobs.put(key, blob, len(blob))
	m.mu.Unlock()
	return key
}

func (m *mediaStore) blob(key string) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.blobs.get(key)
}

func (m *mediaStore) putFile(messageID string, f MediaFile) {
	m.mu.Lock()
	m.files.put(messageID, f, len(f.Data))
	m.mu.Unlock()
}

func (m *mediaStore) file(messageID string) (MediaFile, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.files.get(messageID)
}

// boundedMap is a map whose values have a size; once the sizes add up to
// more than max, the oldest entries are evicted. Not safe for concurrent
// use.
type boundedMap[V any] struct {
	max   int
	size  int
	items map[string]sizedValue[V]
	order []string // keys, oldest first; each key once
}

type sizedValue[V any] struct {
	v    V
	size int
}

func (b *boundedMap[V]) put(key string, v V, size int) {
	if b.items == nil {
		b.items = map[string]sizedValue[V]{}
	}
	if old, ok := b.items[key]; ok {
		// Stored again: it becomes the newest.
		b.size -= old.size
		b.order = slices.DeleteFunc(b.order, func(k string) bool { return k == key })
	}
	b.order = append(b.order, key)
	b.items[key] = sizedValue[V]{v, size}
	b.size += size
	// The entry just stored (last in order) is never evicted: a single value
	// may be as large as max.
	for b.size > b.max && len(b.order) > 1 {
		oldest := b.order[0]
		b.order[0] = ""
		b.order = b.order[1:]
		b.size -= b.items[oldest].size
		delete(b.items, oldest)
	}
}

func (b *boundedMap[V]) get(key string) (V, bool) {
	it, ok := b.items[key]
	return it.v, ok
}
