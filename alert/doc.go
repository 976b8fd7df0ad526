// Package alert watches period-to-date usage against thresholds and
// tells webhooks when a customer crosses one: rules, their evaluation, a
// durable outbox and the delivery of signed webhooks.
//
// It owns three steps, each a separate piece the server wires together:
//
//   - Rules ([Rule], [Rules.Validate]): per customer or per plan, a meter,
//     thresholds on the period-to-date quantity, the percentage of the
//     plan's included units, or the amount, a webhook, and a re-arm margin.
//   - Evaluation ([Evaluate], [Apply]): a pure function of the rules, the
//     period-to-date [Values] of one customer and billing period, and the
//     stored [Crossing] state. It returns the new state and the
//     [Message]s to send. The store writes both, through [Tx], in the
//     transaction that commits the data they count.
//   - Delivery ([Deliverer]): claims due messages from an [Outbox], POSTs
//     them signed ([Sign], [Verify]) and records each attempt, retrying
//     with capped exponential backoff until the receiver answers 2xx, or
//     giving up (the message is then dead, and kept).
//
// # Once per crossing
//
// A threshold of a rule fires once per crossing: the first time the
// customer's value for the period reaches it. It then stays quiet,
// however the value hovers, until the value falls below the threshold
// minus the rule's re-arm margin (values can fall: a reprocess removes
// duplicates), or until the next period, which has its own state. A rule
// without a margin fires at most once per threshold and period. Each
// crossing is numbered (1, then 2 after a re-arm, ...), and its
// idempotency key is a hash of the rule, customer, period, threshold and
// that number.
//
// Nothing is lost or sent twice by a crash, because:
//
//  1. Evaluation is level-triggered: it compares the stored totals with
//     the stored state, so running it again after a crash on the same
//     data finds the same crossings, and running it on data it has seen
//     finds none.
//  2. The state and the messages commit in one transaction ([Tx]), with
//     the data when the store evaluates inside its data commit. An
//     outbox ignores a message whose key it already holds.
//  3. A deliverer records the outcome of an attempt only under the claim
//     (a lease) it took the message with. An attempt whose outcome was
//     not recorded (a crash after the POST) is made again, with the same
//     body and idempotency key, once the lease has expired: delivery is
//     at least once on the wire and exactly once in the outbox, and
//     receivers drop repeats by the key. An attempt's request ends before
//     its lease does, so no two attempts of one message overlap.
//
// Quantities are exact integers and amounts exact decimals
// ([billing.Decimal]); percentages are compared exactly, as fractions.
// No floating point is involved in deciding whether a threshold fired.
package alert
