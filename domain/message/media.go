package message

import "io"

// MediaRef names the message whose file is wanted. A message id is chosen by its sender,
// so two senders can use the same one: Chat and Sender (JIDs or phone numbers, optional)
// narrow the search when the id alone matches several messages.
type MediaRef struct {
	MessageID string
	Chat      string
	Sender    string
}

// MediaFile is the file of a received (or sent) message, downloaded in full. Size is the
// real size of Content, which may differ from the Media.Size the sender declared.
// Closing Content releases what holds the file (a temporary file is removed).
type MediaFile struct {
	Content io.ReadSeekCloser
	Size    int64
	Media   Media
}
