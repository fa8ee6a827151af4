package main

import (
	"context"
	_ "embed"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// audit is the page's basic accessibility check; see the file.
//
//go:embed testdata/audit.js
var audit string

// browserPath finds Chromium. Outside CI a machine without one skips the
// browser tests; in CI (CI=true) they must run.
func browserPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true and no Chromium: .ci/run installs it with apt-get install chromium")
	}
	t.Skip("no Chromium found: install one to run the browser tests (Debian and Ubuntu: apt-get install chromium)")
	return ""
}

// browser is a headless Chromium for one test, with its artifacts'
// directory.
type browser struct {
	t         *testing.T
	ctx       context.Context // the browser's first tab
	artifacts string
}

// newBrowser starts headless Chromium with a new empty profile; it stops
// when the test ends.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := browserPath(t)
	programBinary(t) // skip in -short before the browser starts
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(func(format string, args ...any) {
		t.Logf("chromedp: "+format, args...)
	}))
	t.Cleanup(func() {
		cancel()      // closes the browser
		cancelAlloc() // waits for its process to end
	})
	require.NoError(t, chromedp.Do(ctx), "start Chromium") // the first run starts the browser: no deadline on it
	b := &browser{t: t, ctx: ctx, artifacts: t.ArtifactDir()}
	t.Logf("screenshots in %s (keep them with: go test -run %s -artifacts -outputdir DIR)", b.artifacts, t.Name())
	return b
}

// tab opens a new tab with the page's scripts on or off and the given
// locale; it closes when the test ends.
func (b *browser) tab(scripts bool, locale string) context.Context {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	b.t.Cleanup(cancel)
	require.NoError(b.t, chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !scripts}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: locale})
		return err
	})))
	return ctx
}

// do runs steps in ctx's tab within 30 seconds.
func (b *browser) do(ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(b.t, chromedp.Do(ctx, steps...))
}

// eval evaluates a JavaScript expression in ctx's tab.
func eval[T any](ctx context.Context, b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	require.NoError(b.t, err, "evaluate %s", expr)
	return v
}

// until waits until the JavaScript expression is true in ctx's tab.
func (b *browser) until(ctx context.Context, expr string, msgAndArgs ...any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(20*time.Second)))
	require.NoError(b.t, err, msgAndArgs...)
}

// text returns the text of the element with the id.
func (b *browser) text(ctx context.Context, id string) string {
	b.t.Helper()
	return eval[string](ctx, b, fmt.Sprintf(`document.getElementById(%q).textContent.trim()`, id))
}

// screenshot saves the whole page as name.png in the artifacts.
func (b *browser) screenshot(ctx context.Context, name string) {
	b.t.Helper()
	b.until(ctx, `document.getAnimations().every((a) => a.playState !== "running" || a.effect.target.id === "stat-collected")`,
		"the highlights of new orders have faded") // the collection's comes back every 500 ms
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	require.NoError(b.t, err)
	require.NoError(b.t, os.WriteFile(filepath.Join(b.artifacts, name+".png"), png, 0o600))
}

// checkPage runs the accessibility audit and checks that the page has no
// horizontal scroll at the current width.
func (b *browser) checkPage(ctx context.Context, what string) {
	b.t.Helper()
	assert.Empty(b.t, eval[[]string](ctx, b, audit), "accessibility of %s", what)
	width := eval[[]int](ctx, b, `[document.documentElement.scrollWidth, document.documentElement.clientWidth, window.innerWidth]`)
	assert.LessOrEqual(b.t, width[0], width[1], "%s scrolls sideways: scroll width %d, viewport %d", what, width[0], width[2])
}

// phone sets the tab's viewport to 390 by 844 CSS pixels (a phone's), at
// twice the resolution.
func phone() chromedp.Action[chromedp.Void] {
	return chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), func(p *emulation.SetDeviceMetricsOverrideParams, touch *emulation.SetTouchEmulationEnabledParams) {
		p.Mobile = true
		touch.Enabled = true
	})
}

// TestBrowserDashboard drives the dashboard in headless Chromium: live
// figures and orders without a reload, the form with JavaScript and
// without, field errors, a phone's width, the reader's locale, and a basic
// accessibility audit of each state. Screenshots go to the test's
// artifacts.
func TestBrowserDashboard(t *testing.T) {
	b := newBrowser(t)
	p := startProgram(t, t.TempDir(), "SPRAG_COLLECT_EVERY=500ms")
	api := func(customer, email, amount string) {
		t.Helper()
		status, body := p.request(b.ctx, http.MethodPost, "/orders/create", contentJSON,
			fmt.Sprintf(`{"customer":%q,"email":%q,"amount":%q}`, customer, email, amount), contentJSON)
		require.Equal(t, http.StatusOK, status, body)
	}
	api("Ada Lovelace", "ada@example.com", "19.99")
	api("Grace Hopper", "grace.hopper@navy.example", "1250")
	api("Alan Turing", "alan@bletchley.example", "42.42")

	tab := b.tab(true, "en-US")
	b.do(tab, chromedp.Navigate(p.base+"/dashboard"), chromedp.WaitVisible(chromedp.CSS("#order-form")))
	b.until(tab, `document.getElementById("live").dataset.state === "live"`, "the page follows the event stream")
	assert.Equal(t, "Live", b.text(tab, "live-text"))
	assert.Equal(t, "3", b.text(tab, "stat-orders"))
	assert.Equal(t, "$1,312.41", b.text(tab, "stat-revenue"), "money in the reader's locale")
	eval[bool](tab, b, `window.notReloaded = true`)

	t.Run("a metrics collection changes the page", func(t *testing.T) {
		before := eval[string](tab, b, `document.getElementById("stat-collected").getAttribute("datetime")`)
		b.until(tab, fmt.Sprintf(`document.getElementById("stat-collected").getAttribute("datetime") !== %q`, before))
		assert.Regexp(t, `^\d{1,2}:\d{2}:\d{2}\s?[AP]M$`, b.text(tab, "stat-collected"), "the time in the reader's locale")
	})

	t.Run("the form places an order without a reload", func(t *testing.T) {
		b.do(tab,
			chromedp.SendKeys(chromedp.CSS("#customer"), "Katherine Johnson"),
			chromedp.SendKeys(chromedp.CSS("#email"), "katherine@example.com"),
			chromedp.SendKeys(chromedp.CSS("#amount"), "7.5"),
			chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		)
		b.until(tab, `document.querySelector('#orders-body tr[data-id="4"]') !== null`, "the new order is in the table")
		b.until(tab, `document.getElementById("stat-orders").textContent === "4"`, "the orders card counts it")
		assert.Equal(t, "$1,319.91", b.text(tab, "stat-revenue"))
		assert.Equal(t, "Order #4 is placed.", b.text(tab, "form-status"))
		assert.Empty(t, eval[string](tab, b, `document.getElementById("customer").value`), "the form is cleared")
		row := eval[string](tab, b, `document.querySelector('#orders-body tr').innerText`)
		assert.Contains(t, row, "Katherine Johnson")
		assert.Contains(t, row, "$7.50")
		b.until(tab, `document.getElementById("stat-emails").textContent === "4"`, "the email was sent")
		assert.Equal(t, "0", b.text(tab, "stat-pending"))
		assert.True(t, eval[bool](tab, b, `window.notReloaded === true`), "no reload")
	})

	t.Run("an order from elsewhere arrives over the stream", func(t *testing.T) {
		api("Margaret Hamilton", "margaret@apollo.example", "99.95")
		b.until(tab, `document.querySelector('#orders-body tr[data-id="5"]') !== null`)
		b.until(tab, `document.getElementById("stat-orders").textContent === "5"`)
		assert.Equal(t, "$1,419.86", b.text(tab, "stat-revenue"))
		assert.True(t, eval[bool](tab, b, `window.notReloaded === true`), "no reload")
	})
	b.do(tab, chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`))
	b.until(tab, `document.getElementById("stat-emails").textContent === "5"`)
	b.checkPage(tab, "the dashboard at 1280 px")
	b.screenshot(tab, "dashboard-1280")

	t.Run("an invalid order shows the errors by field", func(t *testing.T) {
		b.do(tab,
			chromedp.SendKeys(chromedp.CSS("#email"), "not-an-email"),
			chromedp.SendKeys(chromedp.CSS("#amount"), "abc"),
			chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		)
		b.until(tab, `document.getElementById("customer-error").textContent !== ""`)
		assert.Equal(t, "Customer name is required", b.text(tab, "customer-error"))
		assert.Equal(t, "Email must be a valid email address", b.text(tab, "email-error"))
		assert.Equal(t, "Amount in dollars must be numeric", b.text(tab, "amount-error"))
		assert.Equal(t, "The order was not placed: correct the fields marked below.", b.text(tab, "form-alert"))
		assert.Equal(t, []string{"true", "true", "true"}, eval[[]string](tab, b,
			`["customer", "email", "amount"].map((id) => document.getElementById(id).getAttribute("aria-invalid"))`))
		assert.Equal(t, "customer", eval[string](tab, b, `document.activeElement.id`), "the first field at fault has the focus")
		assert.Equal(t, "5", b.text(tab, "stat-orders"), "nothing was placed")
		assert.True(t, eval[bool](tab, b, `window.notReloaded === true`), "no reload")
		b.checkPage(tab, "the refused form at 1280 px")

		b.do(tab, phone())
		b.checkPage(tab, "the refused form at 390 px")
		b.screenshot(tab, "form-errors-390")
	})

	t.Run("at 390 px", func(t *testing.T) {
		for _, path := range []string{"/dashboard", "/orders"} {
			b.do(tab, chromedp.Navigate(p.base+path), chromedp.WaitVisible(chromedp.CSS("main")))
			b.checkPage(tab, path+" at 390 px")
		}
		b.do(tab, chromedp.Navigate(p.base+"/dashboard"), chromedp.WaitVisible(chromedp.CSS("#order-form")))
		b.until(tab, `document.getElementById("live").dataset.state === "live"`)
		b.screenshot(tab, "dashboard-390")
	})

	t.Run("in the reader's locale", func(t *testing.T) {
		de := b.tab(true, "de-DE")
		b.do(de, chromedp.Navigate(p.base+"/dashboard"), chromedp.WaitVisible(chromedp.CSS("#order-form")))
		b.until(de, `document.getElementById("stat-revenue").textContent.includes(",")`)
		assert.Equal(t, "1.419,86\u00a0$", b.text(de, "stat-revenue"), "German digits, the shop's currency")
		assert.Regexp(t, `^\d{2}:\d{2}:\d{2}$`, b.text(de, "stat-collected"))
	})

	t.Run("without JavaScript", func(t *testing.T) {
		plain := b.tab(false, "en-US")
		b.do(plain,
			chromedp.Navigate(p.base+"/dashboard"),
			chromedp.WaitVisible(chromedp.CSS("#order-form")),
			chromedp.SendKeys(chromedp.CSS("#customer"), "Hedy Lamarr"),
			chromedp.SendKeys(chromedp.CSS("#email"), "hedy@"),
			chromedp.SendKeys(chromedp.CSS("#amount"), "0"),
			chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS("#email-error")), // the page the server rendered again
		)
		assert.Equal(t, "Email must be a valid email address", b.text(plain, "email-error"))
		assert.Equal(t, "hedy@", eval[string](plain, b, `document.getElementById("email").value`), "the values sent are kept")
		assert.Equal(t, "Order not placed · Dashboard · sprag-go shop", eval[string](plain, b, `document.title`))
		b.checkPage(plain, "the refused form without JavaScript")
		b.screenshot(plain, "form-errors-no-javascript")

		b.do(plain,
			chromedp.SetValue(chromedp.CSS("#email"), "hedy@example.com"),
			chromedp.SetValue(chromedp.CSS("#amount"), "12"),
			chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(".notice")), // post, redirect, get
		)
		notice := eval[string](plain, b, `document.querySelector(".notice").textContent`)
		assert.Equal(t, "Order #6 of $12.00 is placed. Its confirmation email goes to hedy@example.com.", strings.TrimSpace(notice))
		assert.Equal(t, "/dashboard?placed=6", eval[string](plain, b, `location.pathname + location.search`))
		assert.Equal(t, "6", b.text(plain, "stat-orders"))
	})
}
