// Package kiosk is the domain of the check-in kiosk: the check-in Flow (a
// state machine owned by one goroutine), the values it trades in (Scan,
// Action, View, CheckIn) and the small interfaces it consumes (CardVerifier,
// Store, ViewSink).
//
// It imports no package of this module but card. Adapters — the scanner
// drivers, the web UI, the outbox, the uploader — depend on it, never the
// other way round; only kiosk/cmd/kiosk wires them together.
package kiosk

import (
	"context"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
)

// Scan is one read from the barcode scanner: the decoded text of a QR code.
// The text is personal data and is never logged.
type Scan struct {
	Text string
	At   time.Time
	// Rejected says why the scanner could not read a code from what was
	// scanned (too long, control bytes); Text is then empty, and the person
	// is told the card could not be read.
	Rejected string
}

// Screen names what the kiosk page shows. The names are part of the
// websocket protocol (ui/PROTOCOL.md) and the page's data-screen attribute.
type Screen string

// The screens.
const (
	ScreenIdle         Screen = "idle"           // waiting for a card
	ScreenConfirm      Screen = "confirm"        // "Is this you?" with the person's name
	ScreenSuccess      Screen = "success"        // committed: confirmation code and time
	ScreenAlready      Screen = "already"        // already checked in today
	ScreenSeeStaff     Screen = "see_staff"      // refused or failed: please see staff, with a reason
	ScreenHelp         Screen = "help"           // the person asked for a human
	ScreenOutOfService Screen = "out_of_service" // the kiosk cannot take check-ins
	// ScreenChallenge asks for the person's date of birth before the
	// check-in is recorded (Flow.Challenge): a card someone else holds is
	// not enough.
	ScreenChallenge Screen = "challenge"
)

// Reason is the code behind a see_staff screen. The page translates it; a
// person never reads an error string.
type Reason string

// The reasons.
const (
	ReasonCardExpired       Reason = "card_expired"
	ReasonCardNotYetValid   Reason = "card_not_yet_valid"
	ReasonCardRevoked       Reason = "card_revoked"
	ReasonCardUnknownIssuer Reason = "card_unknown_issuer"
	ReasonCardBadSignature  Reason = "card_bad_signature"
	ReasonCardUnreadable    Reason = "card_unreadable"
	ReasonCardWrongContext  Reason = "card_wrong_context"
	ReasonNotACard          Reason = "not_a_card"
	ReasonListsStale        Reason = "lists_stale"
	ReasonPersonDenied      Reason = "person_denied" // "No, this is not me"
	ReasonRecordFailed      Reason = "record_failed" // the check-in could not be stored
	// ReasonChallengeFailed: the date of birth given on the challenge
	// screen is not the card's. The person is sent to staff, never told
	// which part was wrong.
	ReasonChallengeFailed Reason = "challenge_failed"

	// Why the kiosk is out of service (with ScreenOutOfService).
	ReasonStorageLow    Reason = "storage_low"    // too little free space to record check-ins safely
	ReasonEnclosureOpen Reason = "enclosure_open" // the tamper switch says the enclosure is open
	ReasonMaintenance   Reason = "maintenance"    // staff put the kiosk in maintenance mode

	// Why the idle screen asks the person to see staff rather than scan
	// (with ScreenIdle).
	ReasonScannerUnavailable Reason = "scanner_unavailable" // the scanner is unplugged or failing
)

// ReasonFor maps a card verification status to the reason shown to the
// person. It returns "" for card.Valid.
func ReasonFor(s card.Status) Reason {
	switch s {
	case card.Valid:
		return ""
	case card.Expired:
		return ReasonCardExpired
	case card.NotYetValid:
		return ReasonCardNotYetValid
	case card.Revoked:
		return ReasonCardRevoked
	case card.UnknownIssuer:
		return ReasonCardUnknownIssuer
	case card.BadSignature:
		return ReasonCardBadSignature
	case card.WrongContext:
		return ReasonCardWrongContext
	case card.NotACard:
		return ReasonNotACard
	case card.StaleLists:
		return ReasonListsStale
	default:
		return ReasonCardUnreadable
	}
}

// Action is something the person did on the touchscreen.
type Action struct {
	Name string // one of the Action* constants
	Lang string // with ActionLanguage: a BCP 47 tag
	// Answer is, with ActionAnswer, the date of birth the person keyed on
	// the challenge screen, YYYY-MM-DD. Personal data: never logged.
	Answer string
	// Rev is the revision of the view the action was made on (View.Rev).
	// An action that answers a screen (see AnswersScreen) is ignored unless
	// Rev is the view on screen now: a tap made on a screen the page had
	// not yet replaced must not apply to the next person's. 0 is no
	// revision (the panel's help button, say).
	Rev uint64
}

// AnswersScreen reports whether the action answers the screen it was made
// on, and so must carry that screen's Rev: confirm, deny, extend, another
// and done. Help and language apply to whatever is on screen.
func AnswersScreen(name string) bool {
	switch name {
	case ActionConfirm, ActionDeny, ActionExtend, ActionAnother, ActionDone, ActionAnswer:
		return true
	}
	return false
}

// The actions the page may send.
const (
	ActionConfirm  = "confirm"  // "Yes, this is me"
	ActionDeny     = "deny"     // "No, this is not me"
	ActionHelp     = "help"     // "I need help"
	ActionExtend   = "extend"   // "I need more time"
	ActionLanguage = "language" // chose a language
	ActionAnother  = "another"  // check in another family member
	ActionDone     = "done"     // finished; back to idle now
	ActionAnswer   = "answer"   // the challenge's date of birth, in Action.Answer

	// ActionPresence is the panel's presence sensor: someone stepped up
	// to the kiosk. On the idle screen it shows idle afresh (a new Rev),
	// which wakes the page from its screensaver; elsewhere it does
	// nothing.
	ActionPresence = "presence"
)

// View is the state of the screen: what the page shows now. Rev grows by one
// on every change, so a client can tell a fresh view from a repeat.
type View struct {
	Rev uint64
	// Since is the Rev at which this screen was entered. A screen updated
	// in place (extended, in another language, its receipt printed) keeps
	// it: a tap made on its earlier revision answers the same question,
	// and counts (Answers). 0 reads as Rev.
	Since  uint64
	Screen Screen
	Reason Reason    // see_staff and out_of_service
	Name   string    // confirm: the name printed on the card
	Code   string    // success: the confirmation code
	At     time.Time // success: when the check-in was recorded
	Notice string    // success: a message for this person, in their language
	// Appointment is, on success, the person's next appointment from their
	// notice; zero if none.
	Appointment time.Time
	Expires     time.Time // when the screen times out; zero if it does not
	// Armed is, on confirm, when its buttons begin to count. A confirm
	// screen that replaced another person's holds its buttons a moment, so
	// a finger already on its way to the earlier name does not land on
	// this one. Zero: at once.
	Armed time.Time
	Lang  string // the language the person chose; "" for the default
	// Receipt is, on success, what became of the person's printed
	// receipt; "" when the kiosk has no printer.
	Receipt ReceiptState
	// Household is everyone checked in during this session, in order:
	// on success and already, and on the idle screen that takes the next
	// family member's card ("Check in another family member"). Personal
	// data, kept no longer than the session.
	Household []Member
}

// Member is one person checked in during a household's session.
type Member struct {
	Name string // as on the card
	Code string // their confirmation code
}

// ReceiptState is what became of a printed receipt.
type ReceiptState string

// The receipt states. A receipt that failed changes nothing of the
// check-in, which is recorded: the success screen says the receipt could
// not print and shows the code larger, for the person to note.
const (
	ReceiptPrinting ReceiptState = "printing"
	ReceiptPrinted  ReceiptState = "printed"
	ReceiptFailed   ReceiptState = "failed"
)

// Receipt is what a printed receipt says: the person's proof of
// attendance. It names no one.
type Receipt struct {
	Code  string     // the confirmation code
	At    time.Time  // when the check-in was recorded
	Clock ClockState // whether At came from a synchronized clock
	Seq   uint64     // the record's sequence number on this kiosk
	ID    string     // the record's id (a UUIDv7)
	Lang  string     // the person's language; "" for the default
}

// ReceiptPrinter prints receipts. Print must return at once (the flow's
// goroutine never waits for a printer): it prints on a goroutine of its
// own and calls done once, from any goroutine, with whether the receipt
// printed.
type ReceiptPrinter interface {
	Print(r Receipt, done func(printed bool))
}

// Answers reports whether a tap made on the view of revision rev answers
// v: rev is v's, or an earlier revision of the same screen, updated in
// place since. A tap made on another screen (another person's) does not.
func (v View) Answers(rev uint64) bool {
	since := v.Since
	if since == 0 {
		since = v.Rev
	}
	return rev >= since && rev <= v.Rev
}

// Entered reports whether v is a screen just entered, not one updated in
// place (Since is Rev): what the panel's tones, the metrics' counts and
// the staff's alerts go by. A view without Since counts as entered.
func (v View) Entered() bool { return v.Since == 0 || v.Since == v.Rev }

// ViewSink receives every view the flow shows. Show is called on the flow's
// goroutine and must not block: a slow consumer drops, never delays.
type ViewSink interface {
	Show(View)
}

// TimeSource tells the time that cards are checked against and check-ins
// recorded at. *Clock is one.
type TimeSource interface {
	Now() (time.Time, ClockState)
}

// CardVerifier checks a scanned payload offline. *card.Verifier is one.
type CardVerifier interface {
	Verify(payload string, at time.Time) card.Result
}

// Outcome is what a check-in record says happened.
type Outcome string

// The outcomes.
const (
	OutcomeCheckedIn Outcome = "checked_in"
)

// CheckIn is a check-in the person confirmed, handed to the Store.
type CheckIn struct {
	At      time.Time
	Clock   ClockState // how far At can be trusted
	Outcome Outcome
	Card    card.Card // all of it: the store decides what is kept in clear
}

// Committed is the store's proof that a check-in is durable.
type Committed struct {
	ID  string // the record's id (a UUIDv7)
	Seq uint64 // the kiosk's sequence number for it
}

// Prior is a check-in already recorded for the same person.
type Prior struct {
	ID  string // the record's id: its confirmation code derives from it
	Seq uint64
	At  time.Time
}

// PriorLookup finds a person's check-in on the same day as at, so a second
// scan shows "already checked in at 09:14" with the same confirmation code
// rather than recording twice. *outbox.Store is one.
type PriorLookup interface {
	LastCheckIn(ctx context.Context, c card.Card, at time.Time) (Prior, bool, error)
}

// NoticeSource finds the notice for a person ("please go to window 3"), if
// there is one.
type NoticeSource interface {
	Notice(c card.Card) (card.Notice, bool)
}

// Store keeps check-ins durably. Commit returns only once the check-in is on
// stable storage; an error means it is not recorded at all.
type Store interface {
	Commit(ctx context.Context, c CheckIn) (Committed, error)
}
