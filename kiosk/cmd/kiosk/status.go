package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/docketkiosk/checkin-kiosk/config"
	"github.com/docketkiosk/checkin-kiosk/internal/cli"
	"github.com/docketkiosk/checkin-kiosk/ui"
	"github.com/docketkiosk/checkin-kiosk/ui/staff"
)

// statusCommand is "kiosk status": how the running daemon is, from its
// GET /api/v1/status, in a few lines for an admin at a shell, and the
// staff dashboard's certificate fingerprint to check a browser's warning
// against.
func statusCommand(fs *flag.FlagSet) cli.Action {
	conf := config.FileFlag(fs, "TOML `file` of the daemon, for its address and state directory")
	asJSON := fs.Bool("json", false, "print the daemon's status as it gives it (JSON)")
	return func(ctx context.Context, env *cli.Env, _ []string) error {
		c, err := conf()
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.Listen+"/api/v1/status", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("ask the daemon at %s (is kioskd running?): %w", c.Listen, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return fmt.Errorf("read the daemon's status: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("the daemon's status: %s: %s", resp.Status, body)
		}
		if *asJSON {
			_, err := env.Stdout.Write(body)
			return err
		}
		var st ui.Status
		if err := json.Unmarshal(body, &st); err != nil {
			return fmt.Errorf("read the daemon's status: %w", err)
		}
		printStatus(env.Stdout, st)
		if c.StaffListen != "" {
			fp, err := staff.LoadFingerprint(c.StateDir, c.StaffCert)
			if err != nil {
				fp = "(" + err.Error() + ")"
			}
			fmt.Fprintf(env.Stdout, "staff dashboard  https://%s/staff  certificate %s\n", c.StaffListen, fp)
		}
		return nil
	}
}

// printStatus writes st as a few aligned lines.
func printStatus(w io.Writer, st ui.Status) {
	service := string(ui.InService)
	if st.Service.State == ui.OutOfService {
		service = fmt.Sprintf("out of service: %s (%s)", st.Service.Reason, st.Service.Error)
	}
	fmt.Fprintf(w, "screen           %s\nservice          %s\n", st.Screen, service)
	for _, d := range []struct {
		name string
		dev  ui.Device
	}{{"scanner", st.Scanner}, {"panel", st.Panel}, {"display", st.Display}, {"printer", st.Printer}} {
		line := string(d.dev.State)
		if line == "" {
			line = string(ui.DeviceUnknown)
		}
		if d.dev.Source != "" {
			line += "  (" + d.dev.Source + ")"
		}
		if d.dev.Error != "" {
			line += ": " + d.dev.Error
		}
		fmt.Fprintf(w, "%-16s %s\n", d.name, line)
	}
	fmt.Fprintf(w, "browser          %s\n", st.Browser.State)
	fmt.Fprintf(w, "queue            %d waiting, %d sent", st.Outbox.Pending, st.Outbox.UploadedTotal)
	if !st.Outbox.LastUpload.IsZero() {
		fmt.Fprintf(w, ", last %s", st.Outbox.LastUpload.Local().Format(time.DateTime))
	}
	fmt.Fprintln(w)
	if st.Upload.LastError != "" {
		fmt.Fprintf(w, "upload error     %s\n", st.Upload.LastError)
	}
	if st.Storage.FreeBytes > 0 {
		fmt.Fprintf(w, "disk             %d MiB free (out of service below %d MiB)\n", st.Storage.FreeBytes>>20, st.Storage.ReserveBytes>>20)
	}
	fmt.Fprintf(w, "clock            %s\n", st.Clock.State)
	stale := ""
	if st.Lists.Stale {
		stale = "  STALE: cards go to staff until a fresh list arrives"
	}
	fmt.Fprintf(w, "lists            trust %d, revocations %d%s\n", st.Lists.TrustSeq, st.Lists.RevocationsSeq, stale)
}
