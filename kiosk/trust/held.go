package trust

import (
	"context"
	"fmt"
	"strconv"

	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
)

// StateStore keeps small values across restarts: here, the highest seq of
// each kind of list the kiosk has accepted (Kind.StateKey). *outbox.Store
// is one.
type StateStore interface {
	GetState(ctx context.Context, key string) (string, bool, error)
	PutState(ctx context.Context, key, value string) error
}

// heldSeq is the highest seq of kind k held in st, 0 if none.
func heldSeq(ctx context.Context, st StateStore, k Kind) (uint64, error) {
	s, ok, err := st.GetState(ctx, k.StateKey())
	if err != nil {
		return 0, fmt.Errorf("read %s seq held: %w", k.Label(), err)
	}
	if !ok {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("state %s: %w", k.StateKey(), err)
	}
	return n, nil
}

// checkHeldSeq refuses seq for a list of kind k to start with, or to
// switch to on a reopen (as says which), if it is lower than the one held.
func checkHeldSeq(ctx context.Context, st StateStore, k Kind, seq uint64, as string) error {
	held, err := heldSeq(ctx, st, k)
	if err != nil {
		return err
	}
	if err := card.CheckSeq(k.Label(), held, seq); err != nil {
		return fmt.Errorf("%w; the kiosk does not %s an older list than it has accepted: install a list of seq %d or higher", err, as, held)
	}
	return nil
}

// raiseHeldSeq stores seq for kind k when it is higher than the one held.
func raiseHeldSeq(ctx context.Context, st StateStore, k Kind, seq uint64) error {
	held, err := heldSeq(ctx, st, k)
	if err != nil {
		return err
	}
	if seq <= held {
		return nil
	}
	if err := st.PutState(ctx, k.StateKey(), strconv.FormatUint(seq, 10)); err != nil {
		return fmt.Errorf("hold %s seq: %w", k.Label(), err)
	}
	return nil
}
