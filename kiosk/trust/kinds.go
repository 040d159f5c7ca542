// Package trust is the one owner of the signed lists a kiosk checks cards
// against — the trust list, the revocation list, the roster and the
// notices. kiosk/card reads and verifies one list; this package decides
// which lists are in use: their kinds, file names and state keys, defined
// here once; the sequence numbers held, so that a list older than one
// accepted is never taken back (no rollback); the choice at startup between
// a configured file and a newer downloaded one; and the verifier in use,
// swapped whole when a newer list is accepted or the configured files are
// reopened (a reload, on SIGHUP).
//
// Lists is safe for concurrent use once loaded: scans verify against the
// current lists without a lock while the downloader accepts new ones and a
// reload reopens the files, one at a time.
package trust

import (
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
)

// Kind names a signed list.
type Kind string

// The lists.
const (
	KindTrustList   Kind = "trust_list"
	KindRevocations Kind = "revocations"
	KindRoster      Kind = "roster"
	KindNotices     Kind = "notices"
)

// Kinds are every kind of list, in the order they are best fetched: the
// trust list first, as the others are of no use without it.
var Kinds = []Kind{KindTrustList, KindRevocations, KindRoster, KindNotices}

type kindInfo struct {
	file     string // in DirName, and in the upstream's documents directory
	stateKey string // the highest seq accepted, in the kiosk's state
	label    string // for card.CheckSeq and messages
}

var kindInfos = map[Kind]kindInfo{
	KindTrustList:   {"trustlist.cose", "card.trustlist.seq", "trust list"},
	KindRevocations: {"revocations.cose", "card.revocations.seq", "revocation list"},
	KindRoster:      {"roster.cose", "card.roster.seq", "roster"},
	KindNotices:     {"notices.cose", "card.notices.seq", "notices"},
}

// FileName is the name a list of kind k is kept under: downloaded, in the
// kiosk's DirName; served, in the upstream's documents directory; made, in
// the demo's directory.
func (k Kind) FileName() string { return kindInfos[k].file }

// StateKey is the kiosk-state key holding the highest seq of kind k the
// kiosk accepted, from a file or a download: it never goes down.
func (k Kind) StateKey() string { return kindInfos[k].stateKey }

// Label names k in messages: "revocation list".
func (k Kind) Label() string {
	if i, ok := kindInfos[k]; ok {
		return i.label
	}
	return string(k)
}

// DirName is the directory, in the kiosk's state directory, that
// downloaded lists are kept in.
const DirName = "lists"

// MaxDocumentLen caps a signed list read from a file or the network, for
// those who handle its bytes without opening it (the downloader, the
// upstream).
const MaxDocumentLen = card.MaxDocumentLen

// DefaultMaxListAge is how old the revocation list may be before the kiosk
// sends every card to staff: three days lets a kiosk ride out a long weekend
// without a sync, and no longer.
const DefaultMaxListAge = 72 * time.Hour
