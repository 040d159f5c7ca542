package main

import (
	"crypto"

	"github.com/docketkiosk/checkin-kiosk/kiosk/trust"
	"github.com/docketkiosk/checkin-kiosk/ui"
)

// listFiles are the list files and settings of c, as kiosk/trust takes them.
func listFiles(c Config) trust.Files {
	return trust.Files{
		Root:            c.Root,
		Trust:           c.Trust,
		Revocations:     c.Revocations,
		Roster:          c.Roster,
		ReferencePrefix: c.ReferencePrefix,
		MaxListAge:      c.MaxListAge,
	}
}

// listsStatus is s as /api/v1/status shows it.
func listsStatus(s trust.Status) ui.Lists {
	return ui.Lists{
		TrustSeq:            s.TrustSeq,
		RevocationsSeq:      s.RevocationsSeq,
		RevocationsIssuedAt: s.RevocationsIssuedAt,
		Stale:               s.Stale,
		SkippedKeys:         s.SkippedKeys,
	}
}

// readPublicKey reads a PUBLIC KEY PEM file as the kiosk reads its root
// key: for the card commands' --root, and a trust list entry's key.
func readPublicKey(file string) (crypto.PublicKey, error) { return trust.ReadPublicKey(file) }
