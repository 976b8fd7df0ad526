// Package dashboard renders keymeter's web pages: the admin dashboard and
// the customer portal, server-rendered HTML from html/template, with every
// template, script, style sheet and the chart library embedded in the
// binary, so that the pages work offline and need no build step.
//
// The package is presentation only. The server (keymeter serve) reads the
// store through the use-case layer, fills a page model (Overview,
// CustomerPage, InvoicesPage, InvoicePage, IngestionPage, RejectsPage,
// CoveragePage, SignInPage, ErrorPage) and calls Render; it serves the
// assets with Assets. Nothing here reads a store, a clock or a
// configuration.
//
// Rules every page keeps:
//
//   - Counts and bytes are exact integers in the models (keymeter.Int128,
//     or int64 where a count cannot overflow), money is billing.Decimal
//     minor units with its billing.Currency: no float64 for either. Every
//     number a person reads is printed from the exact value; a chart gets
//     the same values as decimal strings, and converts them to numbers
//     only to draw.
//   - Pages are readable without JavaScript: each chart stands beside a
//     table with every number it draws. JavaScript only adds the charts:
//     assets/dashboard.js draws each <figure class="chart"> from the JSON
//     in its <script type="application/json"> and writes the numbers it
//     drew back into the figure's data attributes.
//   - Render sends a Content-Security-Policy that allows only the
//     package's own scripts and style sheets (no inline script or style,
//     nothing from another origin). User-controlled text (paths, user
//     agents, rejected lines, customer names) is escaped by html/template
//     and made valid UTF-8 by keymeter's rule (an invalid byte shows as
//     \xHH).
//   - No raw API key: models carry keymeter.KeyFingerprint values
//     (fingerprint and hint), and Render refuses a key whose fingerprint
//     is neither a fingerprint nor an origin identity.
//   - A page is rendered for a Viewer: an admin, a customer (the portal)
//     or nobody. The portal shows no navigation to admin pages or other
//     customers, and Render refuses, with a 403 page and an error wrapping
//     ErrScope, a model that holds anything of another customer or an
//     admin page for a customer.
package dashboard
