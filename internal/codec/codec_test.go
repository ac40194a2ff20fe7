package codec_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"etl2elt/internal/codec"
)

func key(b byte) []byte { return []byte(strings.Repeat(string([]byte{b}), 32)) }

func TestRoundTripAndRotation(t *testing.T) {
	old, err := codec.New("k1", map[string][]byte{"k1": key('a')})
	require.NoError(t, err)
	dc := codec.DataConverter(old)
	p, err := dc.ToPayload(map[string]string{"plan": "demo/plan.yaml"})
	require.NoError(t, err)
	require.Equal(t, codec.EncodingEncrypted, string(p.GetMetadata()[converter.MetadataEncoding]))
	require.NotContains(t, string(p.GetData()), "demo/plan.yaml", "the payload is not readable")
	var back map[string]string
	require.NoError(t, dc.FromPayload(p, &back))
	require.Equal(t, "demo/plan.yaml", back["plan"])

	// After a rotation, payloads sealed with the old key still open when it is kept.
	rotated, err := codec.New("k2", map[string][]byte{"k2": key('b'), "k1": key('a')})
	require.NoError(t, err)
	back = nil
	require.NoError(t, codec.DataConverter(rotated).FromPayload(p, &back))
	require.Equal(t, "demo/plan.yaml", back["plan"])
	// Without it, a clear error names the key.
	only2, err := codec.New("k2", map[string][]byte{"k2": key('b')})
	require.NoError(t, err)
	require.ErrorContains(t, codec.DataConverter(only2).FromPayload(p, &back), codec.EncodingUndecryptable)
	var raw converter.RawValue
	require.NoError(t, codec.DataConverter(only2).FromPayload(p, &raw), "a raw value gets the payload, marked, so a workflow can refuse it")
	require.Contains(t, string(raw.Payload().GetMetadata()[codec.MetadataDecryptError]), `key "k1" is unknown here`)
}

func TestTamperedPayloadIsRefused(t *testing.T) {
	c, err := codec.New("k", map[string][]byte{"k": key('x')})
	require.NoError(t, err)
	enc, err := c.Encode([]*commonpb.Payload{{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`"x"`)}})
	require.NoError(t, err)
	enc[0].Data[len(enc[0].Data)-1] ^= 1
	dec, err := c.Decode(enc)
	require.NoError(t, err)
	require.Equal(t, codec.EncodingUndecryptable, string(dec[0].GetMetadata()["encoding"]))
	require.Contains(t, string(dec[0].GetMetadata()[codec.MetadataDecryptError]), "decrypt payload")
	enc[0].Data = enc[0].Data[:3]
	dec, err = c.Decode(enc)
	require.NoError(t, err)
	require.Contains(t, string(dec[0].GetMetadata()[codec.MetadataDecryptError]), "too short")
}

func TestFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := codec.FromEnv(env(nil))
	require.NoError(t, err)
	require.Nil(t, c, "no key: no encryption")
	_, err = codec.FromEnv(env(map[string]string{"ETL2ELT_PAYLOAD_KEY": "not base64!"}))
	require.ErrorContains(t, err, "want 32 bytes in base64")
	_, err = codec.FromEnv(env(map[string]string{"ETL2ELT_PAYLOAD_KEY": base64.StdEncoding.EncodeToString([]byte("short"))}))
	require.ErrorContains(t, err, "want 32 bytes (AES-256), got 5")
	c, err = codec.FromEnv(env(map[string]string{"ETL2ELT_PAYLOAD_KEY": base64.StdEncoding.EncodeToString(key('z')),
		"ETL2ELT_PAYLOAD_OLD_KEYS": "old=" + base64.StdEncoding.EncodeToString(key('y'))}))
	require.NoError(t, err)
	require.NotNil(t, c)
	_, err = codec.FromEnv(env(map[string]string{"ETL2ELT_PAYLOAD_KEY": base64.StdEncoding.EncodeToString(key('z')), "ETL2ELT_PAYLOAD_OLD_KEYS": "nonsense"}))
	require.ErrorContains(t, err, "want id=base64 pairs")
}
