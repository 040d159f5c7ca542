package upload

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// heartbeat sends the outbox's signed chain head and keeps the upstream's
// answer in the status. A failure is logged and kept in the status; it
// never holds up the upload.
func (u *Uploader) heartbeat(ctx context.Context, client *http.Client) {
	res, err := u.sendHead(ctx, client)
	u.mu.Lock()
	defer u.mu.Unlock()
	if err != nil {
		u.status.HeartbeatError = err.Error()
		u.log().Debug("heartbeat failed", "err", err)
		return
	}
	u.status.HeartbeatError = ""
	u.status.LastHeartbeat = time.Now()
	if res.State != u.status.HeadState {
		level := slog.LevelInfo
		switch res.State {
		case wire.HeadFork, wire.HeadTailDeleted:
			level = slog.LevelError // the upstream raises the alert; say so here too
		case wire.HeadGaps:
			level = slog.LevelWarn // records below the head are missing upstream
		}
		u.log().Log(ctx, level, "upstream compared the chain head", "state", res.State, "held_seq", res.HeldSeq)
	}
	u.status.HeadState = res.State
}

func (u *Uploader) sendHead(ctx context.Context, client *http.Client) (wire.HeartbeatResult, error) {
	head, err := u.Heads.Head(ctx)
	if err != nil {
		return wire.HeartbeatResult{}, fmt.Errorf("read chain head: %w", err)
	}
	body, err := json.Marshal(head)
	if err != nil {
		return wire.HeartbeatResult{}, err
	}
	rctx, cancel := context.WithTimeout(ctx, u.requestTimeout())
	defer cancel()
	base, at := u.ep.pick()
	url := strings.TrimSuffix(base, "/") + wire.PathHeartbeats
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return wire.HeartbeatResult{}, err
	}
	req.Header.Set("Content-Type", wire.ContentType)
	resp, err := client.Do(req)
	if err != nil {
		err = fmt.Errorf("post heartbeat: %w", err)
		if failsOver(ctx, err, 0) {
			u.ep.failed(at, err)
		}
		return wire.HeartbeatResult{}, err
	}
	defer resp.Body.Close()
	lr := io.LimitReader(resp.Body, 64<<10)
	if resp.StatusCode != http.StatusOK {
		se := newStatusError(resp, lr)
		err := fmt.Errorf("post heartbeat: %d %s %s", se.code, http.StatusText(se.code), se.msg)
		if failsOver(ctx, nil, se.code) {
			u.ep.failed(at, err)
		}
		return wire.HeartbeatResult{}, err
	}
	var res wire.HeartbeatResult
	if err := json.NewDecoder(lr).Decode(&res); err != nil {
		return wire.HeartbeatResult{}, fmt.Errorf("post heartbeat: read answer: %w", err)
	}
	return res, nil
}

func (u *Uploader) heartbeatInterval() time.Duration {
	if u.HeartbeatInterval <= 0 {
		return DefaultHeartbeatInterval
	}
	return u.HeartbeatInterval
}

func (u *Uploader) requestTimeout() time.Duration {
	if u.RequestTimeout <= 0 {
		return DefaultRequestTimeout
	}
	return u.RequestTimeout
}
