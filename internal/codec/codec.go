// Package codec is the optional payload encryption of etl2elt: an AES-256-GCM
// converter.PayloadCodec shared by the worker and the starter, so that workflow
// inputs, results, signals, updates, queries, activity inputs and results (and, with
// EncodeCommonAttributes, failure messages) are stored encrypted in Temporal. Search
// attributes are never encrypted (they are indexed): they carry names only.
//
// The key comes from the environment (ETL2ELT_PAYLOAD_KEY: 32 bytes, base64), never
// from a plan or an input; ETL2ELT_PAYLOAD_KEY_ID names it in each payload so that a
// rotated key can still decrypt older histories (ETL2ELT_PAYLOAD_OLD_KEYS lists
// id=base64 pairs kept for decoding). The Temporal Web UI and CLI decode through a
// codec server: `starter codec-server` (docs/OPERATIONS.md).
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

// Payload metadata of an encrypted payload.
const (
	EncodingEncrypted = "binary/encrypted"
	MetadataKeyID     = "encryption-key-id"
	// EncodingUndecryptable marks a payload this codec could not decrypt (an unknown
	// key id, a tampered payload): it is passed on, not failed, so that a workflow
	// receiving it as a raw signal refuses it with a notice instead of the SDK
	// dropping it and leaving the workflow waiting; MetadataDecryptError says why.
	EncodingUndecryptable = "binary/undecryptable"
	MetadataDecryptError  = "decrypt-error"
)

// AES is the codec: payloads sealed with the current key, opened with any known key.
type AES struct {
	current string
	keys    map[string]cipher.AEAD
}

// New makes a codec from named 32-byte keys; current names the key that encrypts.
func New(current string, keys map[string][]byte) (*AES, error) {
	c := &AES{current: current, keys: map[string]cipher.AEAD{}}
	for id, key := range keys {
		if len(key) != 32 {
			return nil, fmt.Errorf("payload key %q: want 32 bytes (AES-256), got %d", id, len(key))
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("payload key %q: %w", id, err)
		}
		if c.keys[id], err = cipher.NewGCM(block); err != nil {
			return nil, fmt.Errorf("payload key %q: %w", id, err)
		}
	}
	if _, ok := c.keys[current]; !ok {
		return nil, fmt.Errorf("payload key %q is not among the keys", current)
	}
	return c, nil
}

// FromEnv reads the codec's keys from the environment; nil (and no error) when
// ETL2ELT_PAYLOAD_KEY is not set: payloads stay plain.
func FromEnv(getenv func(string) string) (*AES, error) {
	raw := getenv("ETL2ELT_PAYLOAD_KEY")
	if raw == "" {
		return nil, nil
	}
	id := getenv("ETL2ELT_PAYLOAD_KEY_ID")
	if id == "" {
		id = "default"
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, errors.New("ETL2ELT_PAYLOAD_KEY: want 32 bytes in base64 (openssl rand -base64 32)")
	}
	keys := map[string][]byte{id: key}
	for _, pair := range strings.Fields(strings.ReplaceAll(getenv("ETL2ELT_PAYLOAD_OLD_KEYS"), ",", " ")) {
		oldID, b64, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, errors.New("ETL2ELT_PAYLOAD_OLD_KEYS: want id=base64 pairs separated by commas")
		}
		old, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("ETL2ELT_PAYLOAD_OLD_KEYS: key %q is not base64", oldID)
		}
		keys[oldID] = old
	}
	c, err := New(id, keys)
	if err != nil {
		return nil, fmt.Errorf("ETL2ELT_PAYLOAD_KEY: %w", err)
	}
	return c, nil
}

// Encode seals every payload with the current key.
func (c *AES) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	aead := c.keys[c.current]
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encrypt payload: %w", err)
		}
		nonce := make([]byte, aead.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("encrypt payload: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{converter.MetadataEncoding: []byte(EncodingEncrypted), MetadataKeyID: []byte(c.current)},
			Data:     aead.Seal(nonce, nonce, plain, []byte(c.current)),
		}
	}
	return out, nil
}

// Decode opens encrypted payloads and passes the others through. A payload it cannot
// open is passed on marked EncodingUndecryptable (a typed decode of it then fails
// naming that encoding; a raw signal is refused with the reason).
func (c *AES) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != EncodingEncrypted {
			out[i] = p
			continue
		}
		dec, err := c.open(p)
		if err != nil {
			out[i] = &commonpb.Payload{Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(EncodingUndecryptable), MetadataDecryptError: []byte(err.Error())}}
			continue
		}
		out[i] = dec
	}
	return out, nil
}

// Open decrypts one payload sealed by Encode.
func (c *AES) open(p *commonpb.Payload) (*commonpb.Payload, error) {
	id := string(p.GetMetadata()[MetadataKeyID])
	aead, ok := c.keys[id]
	if !ok {
		return nil, fmt.Errorf("decrypt payload: key %q is unknown here (set it in ETL2ELT_PAYLOAD_OLD_KEYS)", id)
	}
	data := p.GetData()
	if len(data) < aead.NonceSize() {
		return nil, errors.New("decrypt payload: too short")
	}
	plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(id))
	if err != nil {
		return nil, fmt.Errorf("decrypt payload with key %q: %w", id, err)
	}
	var dec commonpb.Payload
	if err := proto.Unmarshal(plain, &dec); err != nil {
		return nil, fmt.Errorf("decrypt payload: %w", err)
	}
	return &dec, nil
}

// DataConverter wraps the default data converter with the codec (c nil: the default).
func DataConverter(c *AES) converter.DataConverter {
	if c == nil {
		return converter.GetDefaultDataConverter()
	}
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// FailureConverter encrypts failure messages and stack traces as well (c nil: the
// default).
func FailureConverter(c *AES) converter.FailureConverter {
	if c == nil {
		return temporal.GetDefaultFailureConverter()
	}
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{DataConverter: DataConverter(c), EncodeCommonAttributes: true})
}

// Apply sets the client options' data and failure converters from the environment's
// key (nothing when no key is set). The worker, the starter and the tests call it, so
// that they all read and write the same payloads.
func Apply(opts *client.Options, getenv func(string) string) (*AES, error) {
	c, err := FromEnv(getenv)
	if err != nil || c == nil {
		return nil, err
	}
	opts.DataConverter = DataConverter(c)
	opts.FailureConverter = FailureConverter(c)
	return c, nil
}
