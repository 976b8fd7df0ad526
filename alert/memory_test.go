package alert_test

import (
	"testing"

	"github.com/keymeter/keymeter/alert"
	"github.com/keymeter/keymeter/alert/alerttest"
)

func TestMemStoreContract(t *testing.T) {
	alerttest.Run(t, func(t *testing.T) alerttest.Store { return alert.NewMemStore() })
}
