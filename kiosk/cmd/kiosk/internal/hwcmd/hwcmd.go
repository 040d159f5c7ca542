// Package hwcmd is "kiosk scanner" and "kiosk panel": the installer's and
// the admin's tools for the kiosk's hardware, in the manner of evtest and
// gpiomon. They open a device as the daemon does, from the same
// configuration file and with the same defaults, and say what it does: a
// scanner's scans and states (listen), the raw key events it types
// (record, generate), the panel's every output and input (test). Stop the
// daemon first (systemctl stop kioskd): a scanner it holds grabbed, or a
// GPIO line it drives, is not the tool's to take.
//
// Like the other command groups (cardcmd), it is part of the binary, not
// of the daemon's wiring.
package hwcmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docketkiosk/checkin-kiosk/config"
	"github.com/docketkiosk/checkin-kiosk/drivers/panel"
	"github.com/docketkiosk/checkin-kiosk/drivers/scanner"
	"github.com/docketkiosk/checkin-kiosk/internal/cli"
)

// Scanner is "kiosk scanner", for the binary's command table.
func Scanner() *cli.Command {
	return &cli.Command{Name: "scanner", Summary: "watch the barcode scanner: its scans, states and raw key events",
		Usage: "COMMAND [FLAGS]", Example: "kiosk scanner listen\nkiosk scanner listen 'evdev:/dev/kiosk-scanner?layout=de'",
		Subcommands: []*cli.Command{
			{Name: "listen", Summary: "print each scan and each change of the scanner's state, until interrupted",
				Usage: "[--config FILE] [--count N] [SOURCE]",
				Description: "Reads SOURCE (default: devices.scanner of the configuration file) as the daemon does,\n" +
					"with the same options and defaults, and prints one line per scan: when it came, how long\n" +
					"after the one before, and its text, quoted. Scans are personal data: do this only to\n" +
					"set up a scanner, with your own card or a test card.",
				Example: "kiosk scanner listen\nkiosk scanner listen 'serial:/dev/ttyACM0?term=cr'",
				Args:    "[SOURCE]", Run: listen},
			{Name: "record", Summary: "print the raw key events of an input device as evemu lines, until interrupted",
				Usage: "[--record 16|24] [--grab=false] DEVICE",
				Description: "Writes what a keyboard-wedge scanner types, key by key, in evemu's text form\n" +
					"(E: sec.usec type code value): for a bug report, or a test's recording.",
				Example: "kiosk scanner record /dev/kiosk-scanner > scan.evemu",
				Args:    "DEVICE", Run: record},
			{Name: "generate", Summary: "print the key events a scanner in a layout types for TEXT, as evemu lines",
				Usage: "[--layout us|uk|de|fr] [--gap D] TEXT", Example: "kiosk scanner generate --layout fr 'SDC1:6BF+A0'",
				Args: "TEXT", Run: generate},
		}}
}

// Panel is "kiosk panel", for the binary's command table.
func Panel() *cli.Command {
	return &cli.Command{Name: "panel", Summary: "test the front panel: its light, buzzer, lamp and inputs",
		Usage: "COMMAND [FLAGS]", Example: "kiosk panel test",
		Subcommands: []*cli.Command{
			{Name: "test", Summary: "step through every output of the panel, then print every input edge until interrupted",
				Usage: "[--config FILE] [--step D] [--listen D] [SOURCE]",
				Description: "Opens SOURCE (default: devices.panel of the configuration file) with the pins of its\n" +
					"[pins] table, shows each status of the light, plays each tone and lights the lamp,\n" +
					"saying what each should look or sound like; then prints each input: every raw edge\n" +
					"of a GPIO line, and the events the kiosk would act on.",
				Example: "kiosk panel test\nkiosk panel test --step 3s gpio:/dev/gpiochip0",
				Args:    "[SOURCE]", Run: panelTest},
		}}
}

// clock formats t for a line of output: the time of day, to the
// millisecond.
func clock(t time.Time) string { return t.Format("15:04:05.000") }

func listen(fs *flag.FlagSet) cli.Action {
	conf := config.FileFlag(fs, "TOML `file` to read the scanner source from")
	count := fs.Int("count", 0, "stop after `N` scans; 0: until interrupted")
	return func(ctx context.Context, env *cli.Env, args []string) error {
		c, err := conf()
		if err != nil {
			return err
		}
		source := c.Scanner
		if len(args) == 1 {
			source = args[0]
		}
		if source == scanner.KindSim {
			return cli.Usagef("the sim scanner has no device to listen to: name a serial: or evdev: source")
		}
		d, err := scanner.Open(source)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "listening to %s (Ctrl-C to stop); scans are printed as read\n", source)
		return Listen(ctx, d, env.Stdout, *count, 50*time.Millisecond)
	}
}

// Listen runs d and prints each scan and each change of its state to w,
// until ctx ends or count scans (0: no limit) were printed. It looks at
// the state every poll.
func Listen(ctx context.Context, d scanner.Device, w io.Writer, count int, poll time.Duration) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	scans := make(chan scanner.Scan)
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, scans) }()
	t := time.NewTicker(poll)
	defer t.Stop()
	var last scanner.State
	var prev time.Time
	printState := func() {
		if st := d.State(); st != last {
			last = st
			line := clock(time.Now()) + " state " + string(st.Condition)
			if st.Reason != "" {
				line += ": " + st.Reason
			}
			fmt.Fprintln(w, line)
		}
	}
	printState()
	for n := 0; count == 0 || n < count; {
		select {
		case <-ctx.Done():
			return <-done
		case err := <-done:
			return err
		case <-t.C:
			printState()
		case s := <-scans:
			printState()
			n++
			after := ""
			if !prev.IsZero() {
				after = fmt.Sprintf(", %d ms after the last", s.At.Sub(prev).Milliseconds())
			}
			prev = s.At
			if s.Rejected != "" {
				fmt.Fprintf(w, "%s rejected: %s%s\n", clock(s.At), s.Rejected, after)
				continue
			}
			fmt.Fprintf(w, "%s scan %d characters%s: %q\n", clock(s.At), len([]rune(s.Text)), after, s.Text)
		}
	}
	cancel()
	return <-done
}

func record(fs *flag.FlagSet) cli.Action {
	size := fs.Int("record", 0, "the `size` of one input_event as the kernel writes them, 16 or 24; 0: this program's")
	grab := fs.Bool("grab", true, "take the device for this program alone, so nothing scanned reaches another")
	return func(ctx context.Context, env *cli.Env, args []string) error {
		opts := fmt.Sprintf("?grab=%t", *grab)
		if *size != 0 {
			opts += fmt.Sprintf("&record=%d", *size)
		}
		s, err := scanner.ParseSource("evdev:" + args[0] + opts)
		if err != nil {
			return cli.Usagef("%v", err)
		}
		fmt.Fprintf(env.Stderr, "recording %s (Ctrl-C to stop)\n", s.Path)
		fmt.Fprintf(env.Stdout, "# %s, recorded by kiosk scanner record\n", s.Path)
		return scanner.Record(ctx, s, func(ev scanner.Event) error {
			return scanner.WriteEvemu(env.Stdout, []scanner.Event{ev})
		})
	}
}

func generate(fs *flag.FlagSet) cli.Action {
	layout := fs.String("layout", "us", "the scanner's keyboard `layout`: "+strings.Join(scanner.Layouts, ", "))
	gap := fs.Duration("gap", 4*time.Millisecond, "time between two events, as a scanner types")
	return func(_ context.Context, env *cli.Env, args []string) error {
		evs, err := scanner.Generate(args[0], *layout, *gap)
		if err != nil {
			return cli.Usagef("%v", err)
		}
		fmt.Fprintf(env.Stdout, "# what a scanner in layout %s types, ending in Enter\n", *layout)
		return scanner.WriteEvemu(env.Stdout, evs)
	}
}

func panelTest(fs *flag.FlagSet) cli.Action {
	conf := config.FileFlag(fs, "TOML `file` to read the panel source and its pins from")
	step := fs.Duration("step", 2*time.Second, "how long each output is shown; longer than the longest tone (1.6 s)")
	listenFor := fs.Duration("listen", 0, "how long to print inputs after the outputs; 0: until interrupted")
	return func(ctx context.Context, env *cli.Env, args []string) error {
		c, err := conf()
		if err != nil {
			return err
		}
		source := c.Panel
		if len(args) == 1 {
			source = args[0]
		}
		pins, err := panel.ParsePins(panel.Roles[string](c.Pins))
		if err != nil {
			return fmt.Errorf("pins: %w", err)
		}
		d, err := panel.Open(source, pins)
		if err != nil {
			return err
		}
		return TestPanel(ctx, d, env.Stdout, *step, *listenFor)
	}
}

// TestPanel runs d, steps through its outputs (panel.Exercise) and prints
// its inputs, raw edges included when d is GPIO, to w; after the outputs
// it goes on printing inputs for listen (0: until ctx ends).
func TestPanel(ctx context.Context, d panel.Device, w io.Writer, step, listen time.Duration) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := d.State()
	fmt.Fprintf(w, "%s panel %s", clock(time.Now()), st.Condition)
	if st.Reason != "" {
		fmt.Fprintf(w, ": %s", st.Reason)
	}
	fmt.Fprintln(w)
	lines := make(chan string)
	events := make(chan panel.Event)
	edges := make(chan panel.Edge)
	if g, ok := d.(*panel.GPIO); ok {
		g.ReportEdges(edges)
	}
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx, events) }()
	exercised := make(chan error, 1)
	go func() {
		exercised <- panel.Exercise(ctx, d, step, func(s string) {
			select {
			case lines <- s:
			case <-ctx.Done():
			}
		})
	}()
	var errs []error
	var stop <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return errors.Join(append(errs, <-ran)...)
		case <-stop:
			cancel()
			return errors.Join(append(errs, <-ran)...)
		case err := <-exercised:
			if err != nil && ctx.Err() == nil {
				errs = append(errs, err)
			}
			fmt.Fprintf(w, "%s outputs done; press the buttons, open the enclosure, walk past the sensor\n", clock(time.Now()))
			if listen > 0 {
				stop = time.After(listen)
			}
		case s := <-lines:
			fmt.Fprintf(w, "%s %s\n", clock(time.Now()), s)
		case e := <-edges:
			fmt.Fprintf(w, "%s edge %v\n", clock(time.Now()), e)
		case e := <-events:
			fmt.Fprintf(w, "%s event %s\n", clock(time.Now()), e)
		case err := <-ran:
			return errors.Join(append(errs, err)...)
		}
	}
}
