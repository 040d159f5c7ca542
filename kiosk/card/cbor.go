package card

import "github.com/fxamacker/cbor/v2"

// DecOptions are the CBOR decoding options for input from outside — a
// scanned card, a downloaded list, a kiosk's upload — with its caps:
// at most depth levels of nesting, elements in an array and pairs in a map
// (the library's minimums are 4, 16 and 16). Beyond the caps, the rules
// are the same for every such input: lengths definite, each map key once,
// text valid UTF-8. What reads a card and what reads an upload share them
// (sync/wire builds on them), so hostile input meets one set of rules.
func DecOptions(depth, elements, pairs int) cbor.DecOptions {
	return cbor.DecOptions{
		MaxNestedLevels:  depth,
		MaxArrayElements: elements,
		MaxMapPairs:      pairs,
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		UTF8:             cbor.UTF8RejectInvalid,
	}
}

// decMode decodes every CBOR item of a payload. Its caps are far above what
// a card needs (a card's deepest item is the card claim, two levels down)
// and are the library's minimums or close to them, so a hostile payload
// cannot make the decoder allocate or recurse much.
var decMode = mustDecMode(DecOptions(8, 16, 32))

// docDecMode decodes the payload of a signed document: bigger than a card
// (a roster may hold many entries) but still bounded.
var docDecMode = mustDecMode(DecOptions(8, 1<<20, 1<<20))

// encMode encodes what Issue signs: core deterministic encoding (RFC 8949
// section 4.2.1), so equal cards encode equally.
var encMode = func() cbor.EncMode {
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()

// mustDecMode is the decoding mode of o, which are fixed options: an error
// is a programming error.
func mustDecMode(o cbor.DecOptions) cbor.DecMode {
	dm, err := o.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}
