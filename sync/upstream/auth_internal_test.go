package upstream

import (
	"context"
	"net/http/httptest"
	"testing"
)

// TestMayPostFailsClosed: a handler reached without a device, whatever
// wired it, posts for no kiosk.
func TestMayPostFailsClosed(t *testing.T) {
	r := httptest.NewRequest("POST", "/v1/checkins", nil)
	if mayPost(r, "k1") {
		t.Error("mayPost(no device, k1) = true; want false")
	}
	r = r.WithContext(context.WithValue(r.Context(), deviceCtxKey{}, device{kioskID: "k1"}))
	if !mayPost(r, "k1") || mayPost(r, "k2") {
		t.Error("mayPost(device of k1) = false for k1 or true for k2; want only k1")
	}
}
