// Package browsertest starts Debian's headless Chromium for end-to-end
// page tests and checks pages with axe-core (WCAG 2.1 A/AA).
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chrome returns a browser context, or skips the test when chromium is
// not installed (fails instead when LABTRUST_REQUIRE_CHROMIUM is set, as
// CI sets it).
func Chrome(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	chrome, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("LABTRUST_REQUIRE_CHROMIUM") != "" {
			t.Fatal("chromium is required here (LABTRUST_REQUIRE_CHROMIUM) but not installed")
		}
		t.Skip("Debian's chromium is not installed (.ci/run installs it)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true), chromedp.Headless)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, timeout)
	t.Cleanup(cancel3)
	return ctx
}

// Axe returns axe-core's script (LABTRUST_AXE, or .ci/node's copy from the
// repository root), or "" if absent and not required.
func Axe(t *testing.T) string {
	t.Helper()
	path := os.Getenv("LABTRUST_AXE")
	if path == "" {
		path = filepath.Join("..", ".ci", "node", "node_modules", "axe-core", "axe.min.js")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("LABTRUST_REQUIRE_CHROMIUM") != "" {
			t.Fatalf("axe-core is required here but not found at %s", path)
		}
		return ""
	}
	return string(b)
}

// CheckA11y runs axe-core on the current page and fails on any serious or
// critical WCAG 2.1 A/AA violation.
func CheckA11y(t *testing.T, ctx context.Context, axe, page string) {
	t.Helper()
	if axe == "" {
		return
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](axe+";true")); err != nil {
		t.Fatalf("%s: load axe-core: %v", page, err)
	}
	found, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
		.then(r => r.violations.filter(v => v.impact === "serious" || v.impact === "critical").map(v => v.id + ": " + v.help))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: axe-core: %v", page, err)
	}
	if len(found) > 0 {
		t.Errorf("%s: accessibility violations: %v", page, found)
	}
}
