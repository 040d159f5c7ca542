package update

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Systemctl restarts units with systemctl(1): the Services of a kiosk.
// For a Type=notify unit such as kioskd, `systemctl restart` returns once
// the new process said READY=1, or failed to.
type Systemctl struct{}

var _ Services = Systemctl{}

// Restart runs `systemctl restart unit`.
func (Systemctl) Restart(ctx context.Context, unit string) error {
	out, err := exec.CommandContext(ctx, "systemctl", "restart", unit).CombinedOutput()
	if err != nil {
		return fmt.Errorf("systemctl restart %s: %w: %s", unit, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// DaemonClient asks the kiosk daemon on its loopback listener how it is:
// the Health and Idle of a kiosk.
type DaemonClient struct {
	base   string
	client *http.Client
}

var (
	_ Health = (*DaemonClient)(nil)
	_ Idle   = (*DaemonClient)(nil)
)

// NewDaemonClient returns a client of the daemon listening at listen
// (config's kiosk.listen, "127.0.0.1:8080").
func NewDaemonClient(listen string) *DaemonClient {
	// Each request is short, and loopback: a daemon that takes longer is
	// not answering.
	return &DaemonClient{base: "http://" + listen, client: &http.Client{Timeout: 5 * time.Second}}
}

// Check asks GET /healthz: healthy is 200 with "status":"ok", and the
// version is its "version". A 503 "out_of_service" is an
// *OutOfServiceError with its reason and version.
func (d *DaemonClient) Check(ctx context.Context) (string, error) {
	var body struct {
		Status  string `json:"status"`
		Reason  string `json:"reason"`
		Version string `json:"version"`
	}
	code, err := d.get(ctx, "/healthz", &body)
	switch {
	case err != nil:
		return "", err
	case code == http.StatusServiceUnavailable && body.Status == "out_of_service":
		return "", fmt.Errorf("GET /healthz: 503: %w", &OutOfServiceError{Version: body.Version, Reason: body.Reason})
	case code != http.StatusOK || body.Status != "ok":
		return "", fmt.Errorf("GET /healthz: %d %s %s", code, body.Status, body.Reason)
	}
	return body.Version, nil
}

// Screen asks GET /api/v1/status for the screen the kiosk shows;
// ErrNotRunning when nothing listens.
func (d *DaemonClient) Screen(ctx context.Context) (string, error) {
	var body struct {
		Screen string `json:"screen"`
	}
	code, err := d.get(ctx, "/api/v1/status", &body)
	if err != nil {
		return "", err
	}
	if code != http.StatusOK {
		return "", fmt.Errorf("GET /api/v1/status: %d", code)
	}
	return body.Screen, nil
}

// get GETs path and decodes its JSON body into v; ErrNotRunning when the
// connection is refused.
func (d *DaemonClient) get(ctx context.Context, path string, v any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.base+path, nil)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", path, err)
	}
	resp, err := d.client.Do(req)
	if errors.Is(err, syscall.ECONNREFUSED) {
		return 0, fmt.Errorf("GET %s: %w", path, ErrNotRunning)
	}
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return resp.StatusCode, fmt.Errorf("GET %s: %d, and its body is not JSON: %w", path, resp.StatusCode, err)
	}
	return resp.StatusCode, nil
}
