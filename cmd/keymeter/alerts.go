package main

import (
	"context"
	"fmt"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/report"
	"github.com/keymeter/keymeter/service"
)

const alertsUsage = `Usage:
  keymeter alerts deliver [flags]   send the alert webhooks that are due, once
  keymeter alerts list [flags]      list alerts: pending, sent and dead

Alert rules (alerts: in the config file) are evaluated by every ingest, in
the transaction that commits the data: a crossing's webhook is kept in the
store's outbox, and "alerts deliver" sends it, signed, retrying failures
with backoff on later runs. Exit codes of deliver: 0 every due webhook was
delivered (or none was due), 3 some failed (retried by a later run, or
dead), 4 the store is busy.
`

func (m *Main) runAlerts(ctx context.Context, args []string) error {
	return m.runSubcommand(ctx, "alerts", alertsUsage, args, []subcommand{
		{"deliver", m.runAlertsDeliver},
		{"list", m.runAlertsList},
	})
}

func (m *Main) runAlertsDeliver(ctx context.Context, args []string) error {
	fs := m.newFlagSet("alerts deliver", "[flags]",
		"Sends every alert webhook due now, signed (Keymeter-Signature), and records\n"+
			"each attempt in the store. A failed webhook is retried by a later run once\n"+
			"its backoff has passed, until alerts.delivery's limits make it dead.\n"+
			"Prints what it did on stderr. Exit 0: all due delivered; 3: some failed.")
	var common commonFlags
	common.register(fs, false)
	if pos, err := parseFlags(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return &usageError{msg: fmt.Sprintf("alerts deliver: unexpected argument %q", pos[0])}
	}
	cfg, err := common.load(m.Getenv)
	if err != nil {
		return err
	}
	rep, err := m.service(cfg).DeliverAlerts(ctx)
	if rep != nil {
		fmt.Fprintf(m.Stderr, "alerts: %d sent, %d failed (%d now dead); outbox: %d pending, %d dead\n",
			rep.Delivered, rep.Failed, rep.Stats.Dead, rep.OutboxPending, rep.OutboxDead)
	}
	if err != nil {
		return err
	}
	if rep.Failed > 0 {
		return keymeter.Errorf(keymeter.EPARTIAL, "alerts deliver: %d webhook attempts failed (see keymeter alerts list --state pending)", rep.Failed)
	}
	return nil
}

func (m *Main) runAlertsList(ctx context.Context, args []string) error {
	fs := m.newFlagSet("alerts list", "[flags]",
		"Lists the alerts in the store's outbox, oldest first, with their delivery\n"+
			"state. --format json adds each webhook's payload.")
	var common commonFlags
	common.register(fs, false)
	format := fs.String("format", report.FormatTable, "output `format`: table, json or csv")
	customer := fs.String("customer", "", "only the alerts of this `customer`")
	state := fs.String("state", "", "only alerts in this `state`: pending, sent or dead")
	if _, err := parseQueryFlags(fs, format, args, false); err != nil {
		return err
	}
	if _, err := service.ParseAlertStatus(*state); err != nil {
		return keymeter.Errorf(keymeter.EINVALID, "--state %q: want pending, sent or dead", *state)
	}
	cfg, err := common.load(m.Getenv)
	if err != nil {
		return err
	}
	list, err := m.service(cfg).ListAlerts(ctx, service.AlertFilter{Customer: *customer, Status: *state})
	if err != nil {
		return err
	}
	return report.Alerts(list, *format == report.FormatJSON).Write(m.Stdout, *format)
}
