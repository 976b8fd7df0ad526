// Command keymeter meters API usage per key and customer from the access
// logs the API already produces.
//
// main wires signals and exit codes; Main.Run does the work, so that tests
// run the real command in-process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/service"
)

// Exit codes. They are documented in the README; keep both in step.
const (
	exitOK       = 0 // success
	exitError    = 1 // an unexpected failure (a bug, a full disk, ...)
	exitUsage    = 2 // a bad command line or bad input the user must fix
	exitPartial  = 3 // the run finished, but some inputs could not be read
	exitConflict = 4 // the store is busy, or does not match (secret, version)
	exitNotFound = 5 // the store or the thing asked for does not exist
)

// exitCodes maps application error codes to exit codes.
var exitCodes = map[string]int{
	keymeter.EINVALID:  exitUsage,
	keymeter.EPARTIAL:  exitPartial,
	keymeter.ECONFLICT: exitConflict,
	keymeter.ENOTFOUND: exitNotFound,
	keymeter.EINTERNAL: exitError,
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	err := m.Run(ctx, os.Args[1:])
	os.Exit(m.report(err))
}

// Main is the keymeter command.
type Main struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Now is the clock: what "this month" is, when billing periods
	// close, finalizing, ingest's time of reading, followers' reports;
	// time.Now when nil. Commands read it through now only.
	Now func() time.Time

	// shared is the store of the keymeter serve this command runs in
	// (see serve.go); nil in a process of its own, which then has a
	// running server carry its command out (see forward.go).
	shared service.Opener

	// OnCommit, Workers and Outbox are keymeter serve's hooks (see
	// server.Config): called after each ingest commit, run beside
	// ingestion, and reporting the alert outbox for the metrics.
	OnCommit func()
	Workers  []func(context.Context) error
	Outbox   func() (pending, dead int64)
}

// now returns the current time from m's clock.
func (m *Main) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// report prints err for people and returns the exit code it maps to.
func (m *Main) report(err error) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var st exitStatus
	if errors.As(err, &st) {
		return int(st) // a server ran the command and said it all
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(m.Stderr, "keymeter: %s\n", ue.msg)
		if ue.hint != "" {
			fmt.Fprintf(m.Stderr, "%s\n", ue.hint)
		}
		return exitUsage
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(m.Stderr, "keymeter: interrupted")
		return exitError
	}
	fmt.Fprintf(m.Stderr, "keymeter: %v\n", err)
	if code, ok := exitCodes[keymeter.ErrorCode(err)]; ok {
		return code
	}
	return exitError
}

// usageError is a bad command line.
type usageError struct {
	msg  string
	hint string
}

func (e *usageError) Error() string { return e.msg }

const usageText = `keymeter meters API usage per key and customer from CloudFront and
API Gateway access logs.

Usage:
  keymeter <command> [flags] [arguments]

Commands:
  ingest     read log files into the store, exactly once
  keys       import and list API keys and the customers that own them
  usage      report requests and bytes per customer, key, path, day, ...
  coverage   compare CloudFront's real-time log with its standard log, per distribution and day
  reconcile  compare edge (CloudFront) and origin (API Gateway) counts
  sql        run a SQL query (Athena-compatible) over the store
  rejects    list the log lines that could not be ingested
  customers  put customers on billing plans, and list them
  invoice    show invoices (drafts, or finalized), and finalize them
  costs      estimate the AWS cost of serving each customer, against revenue
  export     export usage as Stripe meter events
  alerts     send the webhooks of alert rules, and list alerts
  tokens     make, list and revoke the HTTP API's tokens
  lake       the Parquet lake: its Athena DDL, and compaction of its files
  serve      run the metering service: continuous ingestion, HTTP API, dashboard
  version    print the version

Run "keymeter <command> -h" for a command's flags.
`

// Run runs the command line args (without the program name). A command
// whose output could not be written fails with the error of writing it.
func (m *Main) Run(ctx context.Context, args []string) (err error) {
	if m.Getenv == nil {
		m.Getenv = os.Getenv
	}
	stdout := &errWriter{w: m.Stdout}
	m.Stdout = stdout
	var stdin *recordingReader
	if m.shared == nil && m.Stdin != nil {
		// What the command reads before it finds a server is sent on.
		stdin = &recordingReader{r: m.Stdin}
		m.Stdin = stdin
	}
	defer func() {
		m.Stdout = stdout.w
		if stdin != nil {
			m.Stdin = stdin.r
		}
		if err == nil && stdout.err != nil {
			err = fmt.Errorf("write output: %w", stdout.err)
		}
	}()
	err = m.run(ctx, args)
	if fe := (*forwardError)(nil); errors.As(err, &fe) {
		err = m.forward(ctx, fe.socket, args, stdin)
	}
	return err
}

// run runs the command line args.
func (m *Main) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usageText)
		return &usageError{msg: "no command given"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "ingest":
		return m.runIngest(ctx, rest)
	case "keys":
		return m.runKeys(ctx, rest)
	case "usage":
		return m.runUsage(ctx, rest)
	case "coverage":
		return m.runCoverage(ctx, rest)
	case "reconcile":
		return m.runReconcile(ctx, rest)
	case "sql":
		return m.runSQL(ctx, rest)
	case "rejects":
		return m.runRejects(ctx, rest)
	case "customers":
		return m.runCustomers(ctx, rest)
	case "invoice":
		return m.runInvoice(ctx, rest)
	case "costs":
		return m.runCosts(ctx, rest)
	case "export":
		return m.runExport(ctx, rest)
	case "tokens":
		return m.runTokens(ctx, rest)
	case "alerts":
		return m.runAlerts(ctx, rest)
	case "lake":
		return m.runLake(ctx, rest)
	case "serve":
		return m.runServe(ctx, rest)
	case "version":
		fmt.Fprintln(m.Stdout, "keymeter", version())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(m.Stdout, usageText)
		return nil
	}
	return &usageError{msg: fmt.Sprintf("unknown command %q", cmd), hint: `Run "keymeter help" for the list of commands.`}
}

// newFlagSet returns a flag set for a command whose usage line is line.
func (m *Main) newFlagSet(name, line, about string) *flag.FlagSet {
	fs := flag.NewFlagSet("keymeter "+name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(m.Stderr, "Usage: keymeter %s %s\n\n%s\n\nFlags:\n", name, line, about)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args with fs, allowing flags after positional
// arguments ("ingest logs/ --data d"), and returns the positional ones. A
// "--" ends the flags.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{msg: err.Error(), hint: fmt.Sprintf(`Run "%s -h" for its flags.`, fs.Name())}
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// version returns the module version the binary was built from.
func version() string {
	if v := buildVersion(); v != "" {
		return v
	}
	return "(devel)"
}

// buildVersion returns the main module's version from the build info.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return ""
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// A subcommand is one of a command's verbs ("keys import").
type subcommand struct {
	name string
	run  func(context.Context, []string) error
}

// runSubcommand runs the subcommand that args starts with, or prints the
// command's usage: on stdout when asked for, on stderr with a usage error
// when no known subcommand is given.
func (m *Main) runSubcommand(ctx context.Context, cmd, usage string, args []string, subs []subcommand) error {
	names := make([]string, len(subs))
	for i, sc := range subs {
		names[i] = sc.name
	}
	want := strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && !isHelp(args[0]) {
		fmt.Fprint(m.Stderr, usage)
		return &usageError{msg: fmt.Sprintf("%s: no subcommand given (want %s)", cmd, want)}
	}
	if isHelp(args[0]) {
		fmt.Fprint(m.Stdout, usage)
		return nil
	}
	for _, sc := range subs {
		if sc.name == args[0] {
			return sc.run(ctx, args[1:])
		}
	}
	return &usageError{msg: fmt.Sprintf("%s: unknown subcommand %q (want %s)", cmd, args[0], want)}
}
