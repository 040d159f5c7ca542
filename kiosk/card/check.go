package card

import (
	"fmt"
	"time"
)

// checkWindow is the validity-window check of a card issued at iat and
// expiring at exp, verified at at: Expired when exp <= at, NotYetValid when
// iat is more than NotBeforeSkew after at; "" and nil when within it. Signed
// and reference cards both use it.
func checkWindow(at, iat, exp time.Time) (Status, error) {
	switch {
	case !at.Before(exp):
		return Expired, fmt.Errorf("expired at %s", exp.Format(time.RFC3339))
	case iat.After(at.Add(NotBeforeSkew)):
		return NotYetValid, fmt.Errorf("issued at %s, in the future", iat.Format(time.RFC3339))
	}
	return "", nil
}
