package upload

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", -1},
		{"soon", -1},
		{"-5", -1},
		{"0", 0},
		{"120", 2 * time.Minute},
		{"99999999999", maxRetryAfter},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{now.Add(24 * time.Hour).Format(http.TimeFormat), maxRetryAfter},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	u := &Uploader{MinBackoff: 100 * time.Millisecond, MaxBackoff: 5 * time.Second}
	limit := u.MinBackoff
	for n := 1; n <= 80; n++ {
		if n > 1 {
			limit = min(2*limit, u.MaxBackoff)
		}
		var top time.Duration
		for range 200 {
			d := u.backoff(n)
			if d < 0 || d > limit {
				t.Fatalf("backoff(%d) = %v; want within [0, %v]", n, d, limit)
			}
			top = max(top, d)
		}
		if top < limit/2 { // 200 uniform draws all below half: p = 2^-200
			t.Errorf("backoff(%d): largest of 200 draws %v; want spread up to %v", n, top, limit)
		}
	}
}
