package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
)

// BatchContentType is the media type a kiosk sends a Batch in: CBOR (RFC
// 8949), with the keys and values of the JSON form, but byte strings as
// CBOR byte strings rather than base64 text, and `at` as RFC 3339 text
// with nanoseconds. A batch of 500 records is a fifth smaller than its
// JSON, and the upstream decodes it about five times faster. The upstream
// accepts ContentType (JSON) too.
const BatchContentType = "application/cbor"

// The CBOR modes of batches. Decoding follows the rules of every CBOR input
// from outside (card.DecOptions: a key twice, an indefinite length or
// invalid UTF-8 is an error), and is strict besides, as the JSON decoding
// is: an unknown key or a tag is an error too. Its caps are the library's
// defaults: the body is bounded (MaxBodyBytes) before it is decoded, and a
// batch of more than MaxBatch records must decode to be refused as too
// large rather than as malformed.
var (
	cborEnc = must(cbor.EncOptions{Time: cbor.TimeRFC3339Nano, IndefLength: cbor.IndefLengthForbidden}.EncMode())
	cborDec = must(func() cbor.DecOptions {
		o := card.DecOptions(32, 1<<17, 1<<17)
		o.ExtraReturnErrors = cbor.ExtraDecErrorUnknownField
		o.TagsMd = cbor.TagsForbidden
		return o
	}().DecMode())
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// MarshalBatch encodes b as BatchContentType.
func MarshalBatch(b Batch) ([]byte, error) {
	data, err := cborEnc.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	return data, nil
}

// UnmarshalBatch decodes a whole batch of BatchContentType. (The upstream
// decodes a batch record by record, with DecodeBatch.)
func UnmarshalBatch(data []byte) (Batch, error) {
	var b Batch
	if err := cborDec.Unmarshal(data, &b); err != nil {
		return Batch{}, fmt.Errorf("decode batch: %w", err)
	}
	return b, nil
}

// RawBatch is a Batch whose records are left encoded, as JSON or CBOR, so
// that each can be decoded (DecodeRecord) and rejected on its own.
type RawBatch struct {
	KioskID string
	Records [][]byte
	cbor    bool
}

// DecodeBatch decodes a request body of media type ContentType or
// BatchContentType down to its records.
func DecodeBatch(mediaType string, body []byte) (RawBatch, error) {
	switch mediaType {
	case BatchContentType:
		var b struct {
			KioskID string            `cbor:"kiosk_id"`
			Records []cbor.RawMessage `cbor:"records"`
		}
		if err := cborDec.Unmarshal(body, &b); err != nil {
			return RawBatch{}, err
		}
		rb := RawBatch{KioskID: b.KioskID, Records: make([][]byte, len(b.Records)), cbor: true}
		for i, r := range b.Records {
			rb.Records[i] = r
		}
		return rb, nil
	case ContentType:
		var b struct {
			KioskID string            `json:"kiosk_id"`
			Records []json.RawMessage `json:"records"`
		}
		if err := decodeJSONStrict(body, &b); err != nil {
			return RawBatch{}, err
		}
		rb := RawBatch{KioskID: b.KioskID, Records: make([][]byte, len(b.Records))}
		for i, r := range b.Records {
			rb.Records[i] = r
		}
		return rb, nil
	}
	return RawBatch{}, fmt.Errorf("media type %q is neither %s nor %s", mediaType, ContentType, BatchContentType)
}

// FirstSeq returns the seq of the batch's first record, when it can be
// read.
func (b RawBatch) FirstSeq() (uint64, bool) {
	if len(b.Records) == 0 {
		return 0, false
	}
	var r struct {
		Seq uint64 `json:"seq"`
	}
	var err error
	if b.cbor {
		err = cbor.Unmarshal(b.Records[0], &r)
	} else {
		err = json.Unmarshal(b.Records[0], &r)
	}
	return r.Seq, err == nil && r.Seq > 0
}

// DecodeRecord decodes record i of b strictly (no unknown field). When it
// fails, it returns what could be read of the record's id, and whether the
// time was the trouble.
func (b RawBatch) DecodeRecord(i int) (rec Record, badTime bool, err error) {
	raw := b.Records[i]
	var partial struct {
		ID any `json:"id"`
		At any `json:"at"`
	}
	if b.cbor {
		if err = cborDec.Unmarshal(raw, &rec); err == nil {
			return rec, false, nil
		}
		cbor.Unmarshal(raw, &partial)
	} else {
		if err = decodeJSONStrict(raw, &rec); err == nil {
			return rec, false, nil
		}
		json.Unmarshal(raw, &partial)
	}
	id, _ := partial.ID.(string)
	var t time.Time
	at, isText := partial.At.(string)
	badTime = partial.At != nil && (!isText || t.UnmarshalText([]byte(at)) != nil)
	return Record{ID: id}, badTime, err
}

// errTrailing is a body with more than one JSON value.
var errTrailing = errors.New("data after the JSON value")

// decodeJSONStrict decodes one JSON value, refusing unknown fields and
// trailing data.
func decodeJSONStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errTrailing
	}
	return nil
}
